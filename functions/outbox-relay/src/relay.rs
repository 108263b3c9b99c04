use std::time::Duration;

use futures::future::join_all;
use serde::Serialize;
use time::OffsetDateTime;
use user_sync::errors::chain;
use user_sync::events::{EntryOutcome, EventPublisher, MAX_BATCH};
use user_sync::store::{Cleared, PendingEvent, StoreError, UsersTable};

#[derive(Debug, Clone)]
pub struct Relay {
    users: UsersTable,
    events: EventPublisher,
    grace: Duration,
    max_events: usize,
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RelayReport {
    /// Pending events older than the grace period, as found at the start of the run.
    pub pending: usize,
    pub sent: usize,
    /// Not sent this run (refused by SQS, or the queue unreachable); they stay pending.
    pub failed: usize,
    /// Sent, but the pending mark could not be cleared: sent once more next run.
    pub not_cleared: usize,
    /// Age of the oldest event found (0 when none): what the staleness alarm watches.
    pub oldest_pending_age_seconds: f64,
}

impl Relay {
    pub fn new(users: UsersTable, events: EventPublisher, grace: Duration, max_events: usize) -> Self {
        Self {
            users,
            events,
            grace,
            max_events,
        }
    }

    /// Sends every pending event created at least the grace period before `now`, oldest
    /// first, in batches of `MAX_BATCH`, and clears exactly those SQS confirmed. A user's
    /// later events move up as its earlier ones clear, and are sent in the next round of
    /// the same run: one event per user per round, so a user's events leave in order.
    pub async fn run(&self, now: OffsetDateTime) -> Result<RelayReport, StoreError> {
        let mut round = self.users.pending_events(now - self.grace, self.max_events).await?;
        let mut report = RelayReport {
            pending: round.len(),
            oldest_pending_age_seconds: round
                .first()
                .map_or(0.0, |oldest| (now - oldest.since).as_seconds_f64().max(0.0)),
            ..RelayReport::default()
        };
        let mut budget = self.max_events;
        while !round.is_empty() && budget > 0 {
            round.truncate(budget);
            budget -= round.len();
            match self.send_round(&round, &mut report).await {
                Some(next) => round = next,
                None => break,
            }
        }
        Ok(report)
    }

    /// Sends one round; the users' next events, or `None` when the queue is unreachable.
    async fn send_round(&self, pending: &[PendingEvent], report: &mut RelayReport) -> Option<Vec<PendingEvent>> {
        let mut next_round = Vec::new();
        for (i, chunk) in pending.chunks(MAX_BATCH).enumerate() {
            let batch: Vec<_> = chunk.iter().map(|p| (&p.event, p.correlation_id.as_str())).collect();
            let outcomes = match self.events.publish_batch(&batch).await {
                Ok(outcomes) => outcomes,
                Err(error) => {
                    // The queue itself is unreachable: later batches would fail the same way.
                    let left = pending.len() - i * MAX_BATCH;
                    tracing::error!(error = %chain(&error), left, "events queue unreachable; events stay pending");
                    report.failed += left;
                    return None;
                }
            };
            let mut sent = Vec::with_capacity(chunk.len());
            for (pending, outcome) in chunk.iter().zip(outcomes) {
                match outcome {
                    EntryOutcome::Sent => sent.push(pending),
                    EntryOutcome::Failed { code, sender_fault } => {
                        tracing::warn!(event_id = %pending.event.event_id, user_id = %pending.event.user.id, code, sender_fault,
                            "SQS refused the event; it stays pending");
                        report.failed += 1;
                    }
                }
            }
            report.sent += sent.len();
            for cleared in join_all(sent.into_iter().map(|p| self.clear(p))).await {
                match cleared {
                    Some(Cleared::Next(later)) => next_round.push(later),
                    Some(_) => {}
                    None => report.not_cleared += 1,
                }
            }
        }
        Some(next_round)
    }

    /// Clears one sent event's mark; `None` when that failed (it is sent again next run).
    async fn clear(&self, pending: &PendingEvent) -> Option<Cleared> {
        match self
            .users
            .clear_pending(&pending.event.user.id, &pending.event.event_id)
            .await
        {
            Ok(cleared) => Some(cleared),
            Err(error) => {
                tracing::warn!(event_id = %pending.event.event_id, user_id = %pending.event.user.id, error = %chain(&error),
                    "sent but not cleared; it will be sent once more");
                None
            }
        }
    }
}
