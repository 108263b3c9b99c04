use aws_sdk_sqs::types::MessageAttributeValue;

use super::EventEnvelope;

#[derive(Debug, thiserror::Error)]
#[error("sending the event to the queue failed")]
pub struct PublishError(#[source] pub Box<aws_sdk_sqs::Error>);

/// Sends events to the events queue, with the message attributes consumers filter on.
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

    pub async fn publish(&self, event: &EventEnvelope, correlation_id: &str) -> Result<(), PublishError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(event.to_json())
            .message_attributes("eventType", string_attribute(event.event_type.as_str()))
            .message_attributes("correlationId", string_attribute(correlation_id))
            .send()
            .await
            .map_err(|e| PublishError(Box::new(e.into())))?;
        Ok(())
    }
}

fn string_attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type is set")
}
