//! Stands in for the SQS event source mapping: long-polls the queue, invokes the function
//! with `SqsEvent` batches, deletes exactly the records the function did not report in
//! `batchItemFailures`, and leaves the rest to reappear after the visibility timeout, so
//! the queue's redrive policy moves a record that keeps failing to the dead-letter queue.

use std::collections::HashSet;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use tokio::time::Instant;

use crate::invoke::Lambda;
use crate::provision::EventSource;
use crate::AnyError;

/// SQS returns at most this many messages per receive.
const RECEIVE_MAX: i32 = 10;

pub async fn run(sqs: aws_sdk_sqs::Client, lambda: Lambda, source: EventSource) -> Result<(), AnyError> {
    println!(
        "[poller] {} <- {} (batch size {}, window {}s)",
        source.function, source.queue_url, source.batch_size, source.batching_window_seconds
    );
    loop {
        let batch = gather(&sqs, &source).await?;
        if batch.is_empty() {
            continue;
        }
        let failed = match lambda.invoke(&source.function, &sqs_event(&batch, &source)).await {
            Ok(answer) if source.report_batch_item_failures => failed_ids(answer),
            Ok(_) => HashSet::new(),
            Err(e) => {
                eprintln!("[poller] invocation failed, the whole batch will be retried: {e}");
                batch.iter().filter_map(|m| m.message_id.clone()).collect()
            }
        };
        let done: Vec<&Message> = batch
            .iter()
            .filter(|m| m.message_id.as_ref().is_some_and(|id| !failed.contains(id)))
            .collect();
        delete(&sqs, &source.queue_url, &done).await?;
        println!(
            "[poller] batch of {}: {} processed, {} failed",
            batch.len(),
            done.len(),
            failed.len()
        );
    }
}

/// Up to `batch_size` messages: waits for the first, then gathers more for at most the
/// batching window, as the event source mapping does.
async fn gather(sqs: &aws_sdk_sqs::Client, source: &EventSource) -> Result<Vec<Message>, AnyError> {
    let mut batch = receive(sqs, source, source.batch_size, 5).await?;
    if batch.is_empty() {
        return Ok(batch);
    }
    let deadline = Instant::now() + Duration::from_secs(source.batching_window_seconds);
    while batch.len() < source.batch_size && Instant::now() < deadline {
        let wait = deadline.saturating_duration_since(Instant::now()).as_secs().clamp(0, 1);
        let more = receive(sqs, source, source.batch_size - batch.len(), wait as i32).await?;
        if more.is_empty() && wait == 0 {
            break;
        }
        batch.extend(more);
    }
    Ok(batch)
}

async fn receive(
    sqs: &aws_sdk_sqs::Client,
    source: &EventSource,
    want: usize,
    wait_seconds: i32,
) -> Result<Vec<Message>, AnyError> {
    let out = sqs
        .receive_message()
        .queue_url(&source.queue_url)
        .max_number_of_messages(i32::try_from(want).unwrap_or(RECEIVE_MAX).clamp(1, RECEIVE_MAX))
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await?;
    Ok(out.messages.unwrap_or_default())
}

/// The batch as Lambda delivers it.
fn sqs_event(batch: &[Message], source: &EventSource) -> serde_json::Value {
    let mut event = SqsEvent::default();
    event.records = batch
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.md5_of_message_attributes = m.md5_of_message_attributes.clone();
            record.attributes = m
                .attributes()
                .map(|attrs| attrs.iter().map(|(k, v)| (k.as_str().to_owned(), v.clone())).collect())
                .unwrap_or_default();
            record.message_attributes = m
                .message_attributes()
                .map(|attrs| {
                    attrs
                        .iter()
                        .map(|(k, v)| {
                            let mut attr = SqsMessageAttribute::default();
                            attr.string_value = v.string_value.clone();
                            attr.data_type = Some(v.data_type.clone());
                            (k.clone(), attr)
                        })
                        .collect()
                })
                .unwrap_or_default();
            record.event_source = Some("aws:sqs".to_owned());
            record.event_source_arn = Some(source.queue_arn.clone());
            record.aws_region = Some(source.region.clone());
            record
        })
        .collect();
    serde_json::to_value(event).expect("an SqsEvent serializes")
}

fn failed_ids(answer: serde_json::Value) -> HashSet<String> {
    match serde_json::from_value::<SqsBatchResponse>(answer) {
        Ok(response) => response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        Err(e) => {
            eprintln!("[poller] the function's answer is no batch response ({e}); treating every record as processed");
            HashSet::new()
        }
    }
}

async fn delete(sqs: &aws_sdk_sqs::Client, queue_url: &str, done: &[&Message]) -> Result<(), AnyError> {
    for chunk in done.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .build()
                    .expect("id and receipt handle are set")
            })
            .collect();
        sqs.delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(())
}
