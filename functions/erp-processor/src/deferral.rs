//! A record that only needs another go is not a failure: failing it would spend one of its
//! receives, and SQS dead-letters a record on its fifth receive whatever the reason, so a
//! user changed by many producers at once, or a burst that leaves invocations short of
//! time, could lose events to the dead-letter queue though nothing was wrong with them.
//! Such a record is sent again to the events queue with a delay, as it came (its body and
//! attributes), and the original is acknowledged; the copy starts with no receives counted.
//! - Its user is busy (another delivery holds its lease): it first waits a moment inside
//!   the invocation (a lease is held for one ERP call), then goes back for 5 s. A lease ends
//!   with its holder's call, or expires with its timeout (`CLAIM_TIMEOUT_SECONDS`), so the
//!   waits end. A deletion whose erasure ran out of time goes back the same way: each
//!   attempt erases more.
//! - The invocation had no time left for its ERP call (its lease and look-up waited on a
//!   slow store, or its batch's other calls took the time): back for 1, 2, 4, then 8 s,
//!   counted in the copy's `noTimeDeferrals` attribute. After that many it fails like any
//!   other record, so a function whose timeout leaves no room for an ERP call fills the
//!   dead-letter queue instead of cycling unseen.

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::types::MessageAttributeValue;
use user_sync::events::EventEnvelope;

use crate::erp::Budget;
use crate::process::{ProcessError, Processed, Processor};

/// How long a record waits inside the invocation for its user, polling every `POLL`.
pub const WAIT: Duration = Duration::from_secs(1);
pub const POLL: Duration = Duration::from_millis(100);
/// The delay of a busy user's record's copy: long enough for most ERP calls to end.
pub const DELAY_SECONDS: i32 = 5;
/// The message attribute counting how often a record went back for want of time.
pub const NO_TIME_DEFERRALS: &str = "noTimeDeferrals";
/// How often a record goes back for want of time before it fails instead.
pub const MAX_NO_TIME_DEFERRALS: u32 = 4;

/// Why a record goes back to the queue, which sets its delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Its user stayed busy, or its erasure ran out of time (and got further).
    Busy,
    /// The invocation had no time left for its ERP call; it went back `before` times already.
    NoTime { before: u32 },
}

impl Why {
    /// Why `record` goes back when the invocation had no time for it: `None` once it has
    /// gone back `MAX_NO_TIME_DEFERRALS` times.
    pub fn no_time(record: &SqsMessage) -> Option<Self> {
        let before = record
            .message_attributes
            .get(NO_TIME_DEFERRALS)
            .and_then(|a| a.string_value.as_deref())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        (before < MAX_NO_TIME_DEFERRALS).then_some(Self::NoTime { before })
    }

    pub fn delay_seconds(self) -> i32 {
        match self {
            Self::Busy => DELAY_SECONDS,
            // A moment for the invocations to catch up, longer each time.
            Self::NoTime { before } => 1 << before.min(MAX_NO_TIME_DEFERRALS),
        }
    }
}

/// Processes `event`, waiting up to `WAIT` (within `budget`) while another delivery holds
/// its user or the event: a lease is held for one ERP call, so most waits end in time.
/// `ProcessError::InProgress` when the wait did not.
pub async fn process_waiting(
    processor: &Processor,
    event: &EventEnvelope,
    budget: Budget,
) -> Result<Processed, ProcessError> {
    let waited_until = Instant::now() + WAIT.min(budget.remaining());
    loop {
        match processor.process(event, budget).await {
            Err(ProcessError::InProgress) if Instant::now() + POLL < waited_until => tokio::time::sleep(POLL).await,
            result => return result,
        }
    }
}

/// Sends deferred records back to the events queue (`EVENTS_QUEUE_URL`).
#[derive(Debug, Clone)]
pub struct Deferral {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the deferred record could not be sent back to the events queue")]
pub struct DeferralError(#[source] Box<aws_sdk_sqs::Error>);

impl Deferral {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Sends `record` again, delayed as `why` says, with its string and number attributes
    /// (`eventType`, `correlationId`, whatever a producer set); one that went back for want
    /// of time carries the count.
    pub async fn defer(&self, record: &SqsMessage, why: Why) -> Result<(), DeferralError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(record.body.clone().unwrap_or_default())
            .delay_seconds(why.delay_seconds());
        for (name, attribute) in &record.message_attributes {
            let (Some(value), Some(data_type)) = (&attribute.string_value, &attribute.data_type) else {
                continue;
            };
            if name == NO_TIME_DEFERRALS {
                continue;
            }
            let value = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(value)
                .build()
                .expect("data type is set");
            request = request.message_attributes(name, value);
        }
        if let Why::NoTime { before } = why {
            let count = MessageAttributeValue::builder()
                .data_type("Number")
                .string_value((before + 1).to_string())
                .build()
                .expect("data type is set");
            request = request.message_attributes(NO_TIME_DEFERRALS, count);
        }
        request.send().await.map_err(|e| DeferralError(Box::new(e.into())))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_short_of_time_waits_longer_each_time_it_goes_back() {
        let delays: Vec<i32> = (0..MAX_NO_TIME_DEFERRALS)
            .map(|before| Why::NoTime { before }.delay_seconds())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8]);
        assert_eq!(Why::Busy.delay_seconds(), DELAY_SECONDS);
    }
}
