//! The outbox's one delivery: publish pending events, then clear exactly the marks SNS
//! confirmed. crm-api delivers a write's events at once, the outbox relay what was left
//! behind, the backfill what it re-publishes; all three through [`Outbox::deliver`].

use futures::future::join_all;

use crate::errors::chain;
use crate::events::{EntryOutcome, EventPublisher, MAX_BATCH};
use crate::store::{Cleared, PendingEvent, UsersTable};

/// Publishes the users' pending events to the events topic and clears their marks.
#[derive(Debug, Clone)]
pub struct Outbox {
    users: UsersTable,
    events: EventPublisher,
}

/// What one delivery did. Whatever was not sent or not cleared stays pending: the relay
/// sends it (again) on a later run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Confirmed by SNS.
    pub sent: usize,
    /// Not sent: refused by SNS, or the topic unreachable.
    pub failed: usize,
    /// Sent, but the pending mark could not be cleared: sent once more later.
    pub not_cleared: usize,
}

impl Outbox {
    pub fn new(users: UsersTable, events: EventPublisher) -> Self {
        Self { users, events }
    }

    pub fn users(&self) -> &UsersTable {
        &self.users
    }

    /// Sends `pending` (at most one event per user, each its user's oldest pending one) in
    /// batches of `MAX_BATCH`, and clears exactly those SNS confirmed. Clearing a user's event
    /// moves its next one up; those are sent in the next round, so a user's events leave in
    /// version order. Stops after `budget` events, or at once when the topic is unreachable
    /// (later batches would fail the same way).
    pub async fn deliver(&self, pending: Vec<PendingEvent>, budget: usize) -> Delivered {
        let mut done = Delivered::default();
        let mut round = pending;
        let mut budget = budget;
        while !round.is_empty() && budget > 0 {
            round.truncate(budget);
            budget -= round.len();
            match self.send_round(&round, &mut done).await {
                Some(next) => round = next,
                None => break,
            }
        }
        done
    }

    /// Sends one round; the users' next events, or `None` when the topic is unreachable.
    async fn send_round(&self, pending: &[PendingEvent], done: &mut Delivered) -> Option<Vec<PendingEvent>> {
        let mut next_round = Vec::new();
        for (i, chunk) in pending.chunks(MAX_BATCH).enumerate() {
            let batch: Vec<_> = chunk.iter().map(|p| (&p.event, p.correlation_id.as_str())).collect();
            let outcomes = match self.events.publish_batch(&batch).await {
                Ok(outcomes) => outcomes,
                Err(error) => {
                    let left = pending.len() - i * MAX_BATCH;
                    let first = &chunk[0].event;
                    tracing::warn!(error = %chain(&error), left, event_id = %first.event_id, user_id = %first.user.id,
                        "events topic unreachable; this event and the rest of the run's stay pending for the outbox relay");
                    done.failed += left;
                    return None;
                }
            };
            let mut sent = Vec::with_capacity(chunk.len());
            for (pending, outcome) in chunk.iter().zip(outcomes) {
                match outcome {
                    EntryOutcome::Sent => sent.push(pending),
                    EntryOutcome::Failed { code, sender_fault } => {
                        tracing::warn!(event_id = %pending.event.event_id, user_id = %pending.event.user.id, code, sender_fault,
                            "SNS refused the event; it stays pending");
                        done.failed += 1;
                    }
                }
            }
            done.sent += sent.len();
            for cleared in join_all(sent.into_iter().map(|p| self.clear(p))).await {
                match cleared {
                    Some(Cleared::Next(later)) => next_round.push(later),
                    Some(Cleared::Cleared | Cleared::NotPending) => {}
                    None => done.not_cleared += 1,
                }
            }
        }
        Some(next_round)
    }

    /// Clears one sent event's mark; `None` when that failed (it is sent again later).
    async fn clear(&self, pending: &PendingEvent) -> Option<Cleared> {
        let event = &pending.event;
        match self.users.clear_pending(&event.user.id, &event.event_id).await {
            Ok(cleared) => Some(cleared),
            Err(error) => {
                tracing::warn!(event_id = %event.event_id, user_id = %event.user.id, error = %chain(&error),
                    "sent but its pending mark not cleared; it will be sent once more");
                None
            }
        }
    }
}
