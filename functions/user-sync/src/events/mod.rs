pub mod envelope;
pub mod publisher;

pub use envelope::{EnvelopeError, EventEnvelope, EventType, UserSnapshot, MAX_ID_CHARS};
pub use publisher::{EntryOutcome, EventPublisher, PublishError, MAX_BATCH};

use time::OffsetDateTime;

/// The current UTC time at millisecond precision, the precision of every timestamp this
/// system writes (enough to order events, and what most clients parse).
pub fn now_utc_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond())
        .expect("a millisecond of a valid time is valid")
}
