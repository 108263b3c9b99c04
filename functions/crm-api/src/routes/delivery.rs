//! Sending a user's pending events after a write, oldest first.

use user_sync::events::EventEnvelope;
use user_sync::store::{Cleared, PendingEvent};

use crate::App;

/// Sends `first` (the user's oldest pending event) and clears its pending mark, then each
/// later event of the user the clearing moves up, until none is left or a send fails.
/// Failures are logged, not returned: what is not sent stays pending and the relay sends
/// it, so the client's answer holds either way.
pub async fn deliver(app: &App, first: PendingEvent) {
    let mut next = Some(first);
    while let Some(pending) = next.take() {
        let event: &EventEnvelope = &pending.event;
        if let Err(error) = app.events.publish(event, &pending.correlation_id).await {
            tracing::warn!(user_id = %event.user.id, event_id = %event.event_id, error = %user_sync::errors::chain(&error),
                "event not sent now; it stays pending for the outbox relay");
            return;
        }
        match app.users.clear_pending(&event.user.id, &event.event_id).await {
            Ok(Cleared::Next(later)) => next = Some(later),
            Ok(Cleared::Cleared | Cleared::NotPending) => {}
            Err(error) => {
                tracing::warn!(user_id = %event.user.id, event_id = %event.event_id, error = %user_sync::errors::chain(&error),
                    "event sent but its pending mark not cleared; the relay will send it once more");
            }
        }
    }
}
