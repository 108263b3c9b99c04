//! The original's simulation: it logged the mapping after a 100 ms sleep. We log ids only
//! (never the name or email) and sleep only when a benchmark asks for it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use user_sync::domain::ErpEmployee;
use user_sync::events::{EventEnvelope, EventType};

use super::{Budget, CallLog, Erp, ErpError};

#[derive(Debug, Clone)]
pub struct SimulatedErp {
    pub latency: Duration,
    pub calls: Arc<CallLog>,
}

impl Erp for SimulatedErp {
    fn integrate<'a>(
        &'a self,
        event: &'a EventEnvelope,
        employee: &'a ErpEmployee,
        _budget: Budget,
    ) -> BoxFuture<'a, Result<(), ErpError>> {
        Box::pin(async move {
            let started = Instant::now();
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            let action = if event.event_type == EventType::UserDeleted {
                "ERP employee record removed"
            } else {
                "user mapped to ERP employee record"
            };
            tracing::info!(
                event_id = %event.event_id,
                user_id = %employee.user_id,
                version = event.version(),
                erp_record_id = %employee.record_id,
                erp_system = %employee.system,
                "{action}"
            );
            self.calls.record(started.elapsed(), false);
            Ok(())
        })
    }
}
