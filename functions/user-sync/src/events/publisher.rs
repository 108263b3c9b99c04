use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::EventEnvelope;
use crate::domain::validation::UNDELIVERABLE;

/// The most messages one `SendMessageBatch` call takes.
pub const MAX_BATCH: usize = 10;

#[derive(Debug, thiserror::Error)]
#[error("sending to the events queue failed")]
pub struct PublishError(#[source] pub Box<aws_sdk_sqs::Error>);

impl<E, R> From<aws_sdk_sqs::error::SdkError<E, R>> for PublishError
where
    aws_sdk_sqs::Error: From<aws_sdk_sqs::error::SdkError<E, R>>,
{
    fn from(e: aws_sdk_sqs::error::SdkError<E, R>) -> Self {
        Self(Box::new(e.into()))
    }
}

/// What happened to one entry of a batch send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Sent,
    /// SQS refused this entry; the code says why (e.g. `InternalError`, throttling).
    Failed {
        code: String,
        sender_fault: bool,
    },
}

/// Sends events to the events queue, with the message attributes consumers filter on:
/// `eventType` and `correlationId`.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl EventPublisher {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Sends up to `MAX_BATCH` events in one call. `Err` when the call itself failed
    /// (nothing was sent); otherwise one outcome per event, in order, since SQS may accept
    /// some entries of a batch and refuse others.
    pub async fn publish_batch(&self, events: &[(&EventEnvelope, &str)]) -> Result<Vec<EntryOutcome>, PublishError> {
        assert!(
            events.len() <= MAX_BATCH,
            "SQS takes at most {MAX_BATCH} messages a batch"
        );
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let entries = events
            .iter()
            .enumerate()
            .map(|(i, (event, correlation_id))| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(message_body(event))
                    .message_attributes("eventType", string_attribute(event.event_type.as_str()))
                    .message_attributes("correlationId", string_attribute(correlation_id))
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        // An entry SQS names neither sent nor failed is treated as failed: never clear
        // what was not confirmed.
        let mut outcomes = vec![
            EntryOutcome::Failed {
                code: "NotReported".to_owned(),
                sender_fault: false
            };
            events.len()
        ];
        for ok in out.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| outcomes.get_mut(i)) {
                *slot = EntryOutcome::Sent;
            }
        }
        for failed in out.failed() {
            if let Some(slot) = failed.id().parse::<usize>().ok().and_then(|i| outcomes.get_mut(i)) {
                *slot = EntryOutcome::Failed {
                    code: failed.code().to_owned(),
                    sender_fault: failed.sender_fault(),
                };
            }
        }
        Ok(outcomes)
    }
}

/// The event as a message body: its JSON with every character a queue message cannot carry
/// (`UNDELIVERABLE`) escaped. Such characters occur only inside JSON strings, where `\uXXXX`
/// reads back as the same character, so a consumer parses the very event. The CRM refuses
/// them now; users stored before still travel.
pub fn message_body(event: &EventEnvelope) -> String {
    let json = event.to_json();
    if !json.contains(UNDELIVERABLE) {
        return json;
    }
    let mut body = String::with_capacity(json.len() + 12);
    for c in json.chars() {
        if UNDELIVERABLE.contains(&c) {
            body.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            body.push(c);
        }
    }
    body
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_escapes_what_a_queue_cannot_carry_and_reads_back_the_same() {
        let user = crate::events::UserSnapshot {
            id: "u-1".to_owned(),
            name: Some("Ada\u{FFFF} \u{FFFE}L\u{FFFD}".to_owned()),
            email: Some("ada@example.com".to_owned()),
        };
        let event = EventEnvelope::user_updated(user, 2, uuid::Uuid::nil(), time::OffsetDateTime::UNIX_EPOCH);
        let body = message_body(&event);
        assert!(!body.contains(UNDELIVERABLE), "{body}");
        assert!(body.contains("Ada\\uffff \\ufffeL\u{FFFD}"), "{body}");
        assert_eq!(EventEnvelope::parse(&body).unwrap(), event);
        let plain = EventEnvelope::user_deleted(
            uuid::Uuid::nil(),
            3,
            uuid::Uuid::nil(),
            time::OffsetDateTime::UNIX_EPOCH,
        );
        assert_eq!(message_body(&plain), plain.to_json(), "nothing to escape");
    }
}
