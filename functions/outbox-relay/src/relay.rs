use std::time::Duration;

use aws_lambda_events::event::dynamodb::EventRecord;
use serde::Serialize;
use time::OffsetDateTime;
use user_sync::events::EventPublisher;
use user_sync::outbox::Outbox;
use user_sync::store::{PendingEvent, StoreError, UsersTable};

#[derive(Debug, Clone)]
pub struct Relay {
    outbox: Outbox,
    grace: Duration,
    max_events: usize,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RelayReport {
    /// The events the run found to deliver: pending past the grace period (a scheduled run),
    /// or left by the writes of its stream records.
    pub pending: usize,
    pub sent: usize,
    /// Not sent this run (refused by SNS, or the topic unreachable); they stay pending.
    pub failed: usize,
    /// Sent, but the pending mark could not be cleared: sent once more next run.
    pub not_cleared: usize,
    /// Age of the oldest event found (0 when none): what the staleness alarm watches.
    pub oldest_pending_age_seconds: f64,
}

impl Relay {
    pub fn new(users: UsersTable, events: EventPublisher, grace: Duration, max_events: usize) -> Self {
        Self {
            outbox: Outbox::new(users, events),
            grace,
            max_events,
        }
    }

    /// Delivers every pending event created at least the grace period before `now`, oldest
    /// first, through the outbox's one delivery: at most `max_events` this run, a user's
    /// later events in version order behind its earlier ones.
    pub async fn run(&self, now: OffsetDateTime) -> Result<RelayReport, StoreError> {
        let pending = self
            .outbox
            .users()
            .pending_events(now - self.grace, self.max_events)
            .await?;
        Ok(self.deliver(pending, now).await)
    }

    /// Delivers the events the writes of a stream batch left in their users' outboxes, at
    /// once. What is not sent stays pending: a scheduled run sends it past the grace period.
    pub async fn deliver_written(&self, records: &[EventRecord], now: OffsetDateTime) -> RelayReport {
        self.deliver(crate::stream::left_by_writes(records), now).await
    }

    async fn deliver(&self, pending: Vec<PendingEvent>, now: OffsetDateTime) -> RelayReport {
        let oldest_pending_age_seconds = pending
            .iter()
            .map(|p| (now - p.since).as_seconds_f64().max(0.0))
            .fold(0.0, f64::max);
        let found = pending.len();
        let delivered = self.outbox.deliver(pending, self.max_events).await;
        RelayReport {
            pending: found,
            sent: delivered.sent,
            failed: delivered.failed,
            not_cleared: delivered.not_cleared,
            oldest_pending_age_seconds,
        }
    }
}
