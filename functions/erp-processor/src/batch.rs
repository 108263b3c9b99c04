//! SQS batches: every record processed on its own, concurrently (bounded), and exactly the
//! failed records reported back so SQS retries only those.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use futures::stream::{self, StreamExt};
use integration::events::{EnvelopeError, EventEnvelope};
use integration::store::RecordError;
use tracing::Instrument;

use crate::App;
use integration::errors::chain as error_chain;

/// Why one record failed. Both kinds are reported as batch item failures: a permanent one
/// fails again on every receive until the queue's redrive policy moves it to the
/// dead-letter queue, where it can be inspected; a transient one will likely succeed on
/// redelivery.
#[derive(Debug, thiserror::Error)]
enum RecordFailure {
    #[error("permanent: the body is not a valid event: {0}")]
    Permanent(#[from] EnvelopeError),
    #[error("transient: recording the event failed")]
    Transient(#[from] RecordError),
}

/// A batch whose records each have a message id (the dispatcher checked).
pub struct Batch(pub(crate) Vec<(String, SqsMessage)>);

/// Processes every record, at most `app.batch_concurrency` at a time, and names the
/// failed ones in record order. A problem that hits the whole batch (the table is
/// missing, DynamoDB is down) fails each record on its own, so every record is reported.
pub async fn handle(app: &App, batch: Batch) -> SqsBatchResponse {
    let total = batch.0.len();
    let mut failed: Vec<(usize, String)> = stream::iter(batch.0.into_iter().enumerate())
        .map(|(index, (message_id, record))| async move {
            let span = tracing::info_span!(
                "sqs_record",
                message_id = %message_id,
                correlation_id = correlation_id(&record),
            );
            match process_record(app, &record).instrument(span.clone()).await {
                Ok(()) => None,
                Err(failure) => {
                    span.in_scope(|| log_failure(&failure));
                    Some((index, message_id))
                }
            }
        })
        .buffer_unordered(app.batch_concurrency)
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    failed.sort_unstable_by_key(|(index, _)| *index);
    tracing::info!(records = total, failed = failed.len(), "batch processed");
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed.into_iter().map(|(_, message_id)| message_id));
    response
}

async fn process_record(app: &App, record: &SqsMessage) -> Result<(), RecordFailure> {
    let event = EventEnvelope::parse(record.body.as_deref().unwrap_or_default())?;
    let processed = app.processor.process(&event).await?;
    tracing::info!(
        event_id = %event.event_id,
        user_id = %event.user.id,
        erp_record_id = %processed.erp_record_id,
        duplicate = processed.duplicate,
        "event processed"
    );
    Ok(())
}

/// The reason only, never the body: it holds a name and an email.
fn log_failure(failure: &RecordFailure) {
    match failure {
        RecordFailure::Permanent(_) => tracing::warn!(reason = %failure, "record rejected"),
        RecordFailure::Transient(_) => tracing::error!(reason = %error_chain(failure), "record failed"),
    }
}

/// The `correlationId` message attribute the CRM API sets, tying this record to the
/// request that created the user.
/// The message's `correlationId` attribute for the log, cut to an id's bound: any producer
/// may set it to anything.
fn correlation_id(record: &SqsMessage) -> Option<&str> {
    let id = record
        .message_attributes
        .get("correlationId")
        .and_then(|a| a.string_value.as_deref())?;
    let end = id
        .char_indices()
        .nth(integration::events::MAX_ID_CHARS)
        .map_or(id.len(), |(at, _)| at);
    Some(&id[..end])
}
