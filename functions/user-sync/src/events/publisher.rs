use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use super::EventEnvelope;
use crate::domain::validation::UNDELIVERABLE;

/// The most messages one `PublishBatch` call takes.
pub const MAX_BATCH: usize = 10;

#[derive(Debug, thiserror::Error)]
#[error("publishing to the events topic failed")]
pub struct PublishError(#[source] pub Box<aws_sdk_sns::Error>);

impl<E, R> From<aws_sdk_sns::error::SdkError<E, R>> for PublishError
where
    aws_sdk_sns::Error: From<aws_sdk_sns::error::SdkError<E, R>>,
{
    fn from(e: aws_sdk_sns::error::SdkError<E, R>) -> Self {
        Self(Box::new(e.into()))
    }
}

/// What happened to one entry of a batch publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryOutcome {
    Sent,
    /// SNS refused this entry; the code says why (e.g. `InternalError`, throttling).
    Failed {
        code: String,
        sender_fault: bool,
    },
}

/// Publishes events once to the events topic, with the message attributes consumers filter
/// on: `eventType` and `correlationId`. Each consumer's queue is subscribed with raw message
/// delivery, so it receives the body and the attributes exactly as published.
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl EventPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// Publishes up to `MAX_BATCH` events in one call. `Err` when the call itself failed
    /// (nothing was published); otherwise one outcome per event, in order, since SNS may
    /// accept some entries of a batch and refuse others.
    pub async fn publish_batch(&self, events: &[(&EventEnvelope, &str)]) -> Result<Vec<EntryOutcome>, PublishError> {
        assert!(
            events.len() <= MAX_BATCH,
            "SNS takes at most {MAX_BATCH} messages a batch"
        );
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let entries = events
            .iter()
            .enumerate()
            .map(|(i, (event, correlation_id))| {
                PublishBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message(message_body(event))
                    .message_attributes("eventType", string_attribute(event.event_type.as_str()))
                    .message_attributes("correlationId", string_attribute(correlation_id))
                    .build()
                    .expect("id and message are set")
            })
            .collect();
        let out = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await?;
        // An entry SNS names neither published nor failed is treated as failed: never clear
        // what was not confirmed.
        let mut outcomes = vec![
            EntryOutcome::Failed {
                code: "NotReported".to_owned(),
                sender_fault: false
            };
            events.len()
        ];
        for ok in out.successful() {
            if let Some(slot) = ok
                .id()
                .and_then(|id| id.parse::<usize>().ok())
                .and_then(|i| outcomes.get_mut(i))
            {
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
