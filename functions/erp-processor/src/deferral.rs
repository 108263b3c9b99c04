//! A record whose user another delivery holds (its lease) is not a failure: failing it would
//! spend one of its receives, and SQS dead-letters a record on its fifth receive whatever
//! the reason, so a user changed by many producers at once could lose events to the
//! dead-letter queue though nothing was wrong with them. Such a record first waits a moment
//! inside the invocation (a lease is held for one ERP call); if the user is still busy, it
//! is sent again to the events queue with a delay, as it came (its body and attributes),
//! and the original is acknowledged. The copy starts with no receives counted. A lease
//! ends with its holder's call, or expires with its timeout (`CLAIM_TIMEOUT_SECONDS`), so the waits end. A
//! deletion whose erasure ran out of time goes back the same way: each attempt erases more.

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::types::MessageAttributeValue;
use user_sync::events::EventEnvelope;

use crate::erp::Budget;
use crate::process::{ProcessError, Processed, Processor};

/// How long a record waits inside the invocation for its user, polling every `POLL`.
pub const WAIT: Duration = Duration::from_secs(1);
pub const POLL: Duration = Duration::from_millis(100);
/// The delay of a deferred record's copy: long enough for most ERP calls to end.
pub const DELAY_SECONDS: i32 = 5;

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

    /// Sends `record` again, delayed, with its string attributes (`eventType`,
    /// `correlationId`, whatever a producer set).
    pub async fn defer(&self, record: &SqsMessage) -> Result<(), DeferralError> {
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(record.body.clone().unwrap_or_default())
            .delay_seconds(DELAY_SECONDS);
        for (name, attribute) in &record.message_attributes {
            let (Some(value), Some(data_type)) = (&attribute.string_value, &attribute.data_type) else {
                continue;
            };
            let value = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(value)
                .build()
                .expect("data type is set");
            request = request.message_attributes(name, value);
        }
        request.send().await.map_err(|e| DeferralError(Box::new(e.into())))?;
        Ok(())
    }
}
