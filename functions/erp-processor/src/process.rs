//! Processing one event, whichever trigger delivered it: map the user to its ERP employee
//! record, "integrate" it, and record the event once.

use std::time::Duration;

use integration::domain::ErpEmployee;
use integration::events::{now_utc_millis, EventEnvelope};
use integration::store::{ProcessedEvent, ProcessedUsersTable, RecordError, Recorded};
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct Processor {
    table: ProcessedUsersTable,
    erp_system: String,
    erp_latency: Duration,
}

/// What processing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub erp_record_id: String,
    /// When the event was first processed (earlier than now for a duplicate).
    pub processed_at: OffsetDateTime,
    /// The event had been processed before; nothing was written.
    pub duplicate: bool,
}

impl Processor {
    pub fn new(table: ProcessedUsersTable, erp_system: &str, erp_latency: Duration) -> Self {
        Self {
            table,
            erp_system: erp_system.to_owned(),
            erp_latency,
        }
    }

    /// Integrates the event's user with the ERP, then records the event. The ERP call
    /// comes first so that a recorded event has always been integrated: if recording
    /// fails, the redelivery integrates again, which is safe because the employee record
    /// id derives from the user id alone (an upsert of the same record).
    pub async fn process(&self, event: &EventEnvelope) -> Result<Processed, RecordError> {
        let erp = ErpEmployee::for_user(&event.user.id, &self.erp_system);
        self.integrate(event, &erp).await;
        let now = now_utc_millis();
        let recorded = self
            .table
            .record(&ProcessedEvent {
                event,
                erp: &erp,
                processed_at: now,
            })
            .await?;
        Ok(Processed {
            erp_record_id: erp.record_id,
            processed_at: recorded.processed_at(now),
            duplicate: matches!(recorded, Recorded::Duplicate { .. }),
        })
    }

    /// The simulated ERP call: the original logged the mapping after a 100 ms sleep. We
    /// log ids only (never the name or email) and sleep only when a benchmark asks for it.
    async fn integrate(&self, event: &EventEnvelope, erp: &ErpEmployee) {
        if !self.erp_latency.is_zero() {
            tokio::time::sleep(self.erp_latency).await;
        }
        tracing::info!(
            event_id = %event.event_id,
            user_id = %erp.user_id,
            erp_record_id = %erp.record_id,
            erp_system = %erp.system,
            "user mapped to ERP employee record"
        );
    }
}
