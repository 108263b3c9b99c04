//! Processing one event, whichever trigger delivered it: claim it, make its ERP side
//! effect, and complete its audit record, so the side effect happens once per event
//! however often the event is delivered.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use time::OffsetDateTime;
use user_sync::domain::ErpEmployee;
use user_sync::events::{now_utc_millis, EventEnvelope};
use user_sync::store::{Claimed, ProcessedEvent, ProcessedUsersTable, RecordError};

/// The ERP side of processing: creates or updates the user's employee record.
pub trait Erp: Send + Sync + std::fmt::Debug {
    fn integrate<'a>(&'a self, event: &'a EventEnvelope, employee: &'a ErpEmployee) -> BoxFuture<'a, ()>;
}

/// The original's simulation: it logged the mapping after a 100 ms sleep. We log ids only
/// (never the name or email) and sleep only when a benchmark asks for it.
#[derive(Debug, Clone)]
pub struct SimulatedErp {
    pub latency: Duration,
}

impl Erp for SimulatedErp {
    fn integrate<'a>(&'a self, event: &'a EventEnvelope, employee: &'a ErpEmployee) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if !self.latency.is_zero() {
                tokio::time::sleep(self.latency).await;
            }
            tracing::info!(
                event_id = %event.event_id,
                user_id = %employee.user_id,
                erp_record_id = %employee.record_id,
                erp_system = %employee.system,
                "user mapped to ERP employee record"
            );
        })
    }
}

#[derive(Debug, Clone)]
pub struct Processor {
    table: ProcessedUsersTable,
    erp: Arc<dyn Erp>,
    erp_system: String,
    claim_timeout: Duration,
}

/// What processing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub erp_record_id: String,
    /// When the event was first processed (earlier than now for a duplicate).
    pub processed_at: OffsetDateTime,
    /// The event had been processed before: no ERP call, nothing written.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Record(#[from] RecordError),
    /// Another delivery of the event holds its claim and is making the ERP call now.
    #[error("another delivery of the event is being processed")]
    InProgress,
    /// The event id was processed with another payload: not a redelivery of this event.
    #[error("the event id is recorded with a different payload")]
    Conflict,
}

impl Processor {
    /// `claim_timeout`: how long a claim holds (longer than an invocation may run, so a
    /// live one never loses it; a dead one's claim is taken over after it).
    pub fn new(table: ProcessedUsersTable, erp: Arc<dyn Erp>, erp_system: &str, claim_timeout: Duration) -> Self {
        Self {
            table,
            erp,
            erp_system: erp_system.to_owned(),
            claim_timeout,
        }
    }

    pub async fn process(&self, event: &EventEnvelope) -> Result<Processed, ProcessError> {
        let erp = ErpEmployee::for_user(&event.user.id, &self.erp_system);
        let now = now_utc_millis();
        let claim = match self.table.claim(event, now, now + self.claim_timeout).await? {
            Claimed::Mine(claim) => claim,
            Claimed::Duplicate { processed_at } => {
                return Ok(Processed {
                    erp_record_id: erp.record_id,
                    processed_at,
                    duplicate: true,
                })
            }
            Claimed::InProgress => return Err(ProcessError::InProgress),
            Claimed::Conflict => return Err(ProcessError::Conflict),
        };
        self.erp.integrate(event, &erp).await;
        let processed_at = now_utc_millis();
        let completed = self
            .table
            .complete(
                &claim,
                &ProcessedEvent {
                    event,
                    erp: &erp,
                    processed_at,
                },
            )
            .await?;
        if !completed {
            // Only when this delivery outlived its claim: the ERP call ran twice.
            tracing::warn!(event_id = %event.event_id, "the claim expired before completion; another delivery took it over");
        }
        Ok(Processed {
            erp_record_id: erp.record_id,
            processed_at,
            duplicate: false,
        })
    }
}
