//! SQS batches: every record processed on its own, concurrently (bounded), and exactly the
//! failed records reported back so SQS retries only those.

use std::sync::Mutex;
use std::time::Instant;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsMessage};
use futures::stream::{self, StreamExt};
use user_sync::events::{EnvelopeError, EventEnvelope};
use user_sync::store::RecordError;

use crate::deferral::Why;
use crate::erp::{Budget, ErpError};
use crate::metrics::Tally;
use crate::process::{Outcome, ProcessError};
use tracing::Instrument;

use crate::{deferral, App};
use user_sync::errors::chain as error_chain;

/// Why one record failed. Every kind is reported as a batch item failure: a permanent one
/// fails again on every receive until the queue's redrive policy moves it to the
/// dead-letter queue, where it can be inspected; a transient one will likely succeed on
/// redelivery.
#[derive(Debug, thiserror::Error)]
enum RecordFailure {
    #[error("the body is not a valid event: {0}")]
    Invalid(#[from] EnvelopeError),
    #[error(transparent)]
    Process(#[from] ProcessError),
}

impl RecordFailure {
    /// Nothing is wrong with the record, it only needs another go (`deferral`): its user is
    /// busy, its erasure ran out of time (and got further), or the invocation had no time
    /// left for its ERP call (a few times only). Sent back delayed rather than failed, so it
    /// spends no receive.
    fn deferral(&self, record: &SqsMessage) -> Option<Why> {
        match self {
            Self::Process(ProcessError::InProgress | ProcessError::Record(RecordError::ErasureIncomplete { .. })) => {
                Some(Why::Busy)
            }
            Self::Process(ProcessError::Erp(ErpError::NoTime)) => Why::no_time(record),
            _ => None,
        }
    }

    /// Fails again on every receive, until the dead-letter queue (the processor's rule,
    /// and a body that is no event).
    fn is_permanent(&self) -> bool {
        match self {
            Self::Invalid(_) => true,
            Self::Process(error) => error.is_permanent(),
        }
    }
}

/// A batch whose records each have a message id (the dispatcher checked).
pub struct Batch(pub(crate) Vec<(String, SqsMessage)>);

/// Processes every record, at most `app.batch_concurrency` at a time, and names the
/// failed ones in record order. Records of the same user are processed one after the
/// other, oldest version first: each finds the user free (not leased by its sibling), a
/// copy finds the event done, and an older version that came later in the batch is applied
/// before the newer one instead of superseded by it. A problem that hits the whole batch (the table is
/// missing, DynamoDB is down) fails each record on its own, so every record is reported.
/// Every ERP call of the batch ends within `budget`. At `answer_by` the batch answers with
/// what it finished: the records still in flight are reported failed (SQS retries them),
/// rather than the invocation running past its deadline, when SQS would retry every record,
/// the finished ones too. One metrics line per batch.
pub async fn handle(app: &App, batch: Batch, budget: Budget, answer_by: Option<Instant>) -> SqsBatchResponse {
    let total = batch.0.len();
    let ids: Vec<String> = batch.0.iter().map(|(id, _)| id.clone()).collect();
    let tally = Mutex::new(Tally::default());
    let tally = &tally;
    // Each record's verdict once it has one: `true` failed, `false` acknowledged.
    let verdicts = Mutex::new(vec![None::<bool>; total]);
    let verdicts = &verdicts;
    let decide = |index: usize, failed: bool| lock(verdicts)[index] = Some(failed);
    // A permanent failure fails every receive alike: it counts once, on the first.
    let count = |result: &Result<Outcome, RecordFailure>, receive: u32| {
        let mut tally = lock(tally);
        match result {
            Ok(outcome) => tally.count(*outcome),
            Err(failure) if failure.is_permanent() && receive > 1 => {}
            Err(failure) => tally.count_failure(failure.is_permanent()),
        }
    };
    let work = stream::iter(same_user_groups(batch)).for_each_concurrent(app.batch_concurrency, |group| async move {
        for (index, message_id, record, event) in group {
            let span = tracing::info_span!(
                "sqs_record",
                message_id = %message_id,
                correlation_id = correlation_id(&record),
            );
            let receive = receive_count(&record);
            let last_receive = receive >= app.max_receive_count;
            let user = event
                .as_ref()
                .ok()
                .map(|e| (e.user.id.clone(), e.version(), e.event_id.clone()));
            let result = process_record(app, event, budget).instrument(span.clone()).await;
            let deferral = result.as_ref().err().and_then(|failure| failure.deferral(&record));
            if let Some(why) = deferral {
                if defer(app, &record, why).instrument(span.clone()).await {
                    decide(index, false);
                    continue;
                }
            }
            count(&result, receive);
            if let Err(failure) = result {
                span.in_scope(|| log_failure(&failure));
                // Bound for the dead-letter queue: the user's sync status says so. An
                // event refused for good (a conflict, the ERP's 4xx) is marked at once.
                let refused = matches!(&failure, RecordFailure::Process(e) if e.is_permanent());
                if let (Some((user_id, version, event_id)), true) = (user, last_receive || refused) {
                    mark_failed(app, &user_id, version, &event_id).instrument(span).await;
                }
                decide(index, true);
            } else {
                decide(index, false);
            }
        }
    });
    let finished = match answer_by {
        Some(at) => tokio::time::timeout_at(at.into(), work).await.is_ok(),
        None => {
            work.await;
            true
        }
    };
    let verdicts = lock(verdicts).clone();
    let unfinished = verdicts.iter().filter(|v| v.is_none()).count();
    if !finished {
        // Their leases expire on their own; a record written before its view is finished
        // by its redelivery.
        tracing::warn!(
            records = total,
            unfinished,
            "batch answered at its deadline; the unfinished records failed"
        );
        let mut tally = lock(tally);
        for _ in 0..unfinished {
            tally.count_failure(false);
        }
    }
    let failed: Vec<String> = ids
        .into_iter()
        .zip(verdicts)
        .filter(|(_, verdict)| *verdict != Some(false))
        .map(|(id, _)| id)
        .collect();
    tracing::info!(records = total, failed = failed.len(), "batch processed");
    let tally = *lock(tally);
    crate::metrics::emit(&app.metrics_namespace, app.service, &tally, &app.erp_calls.drain());
    let mut response = SqsBatchResponse::default();
    response.set_failures(failed);
    response
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Parsed = (usize, String, SqsMessage, Result<EventEnvelope, EnvelopeError>);

/// The records, parsed, in groups of one user each (groups in record order, each sorted by
/// version); a record that does not parse is a group of its own.
fn same_user_groups(batch: Batch) -> Vec<Vec<Parsed>> {
    let mut groups: Vec<Vec<Parsed>> = Vec::new();
    let mut by_user: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, (message_id, record)) in batch.0.into_iter().enumerate() {
        let event = EventEnvelope::parse(record.body.as_deref().unwrap_or_default());
        let group = event.as_ref().ok().and_then(|e| by_user.get(&e.user.id).copied());
        match group {
            Some(at) => groups[at].push((index, message_id, record, event)),
            None => {
                if let Ok(e) = &event {
                    by_user.insert(e.user.id.clone(), groups.len());
                }
                groups.push(vec![(index, message_id, record, event)]);
            }
        }
    }
    for group in &mut groups {
        group.sort_by_key(|(_, _, _, event)| event.as_ref().map_or(0, EventEnvelope::version));
    }
    groups
}

async fn process_record(
    app: &App,
    event: Result<EventEnvelope, EnvelopeError>,
    budget: Budget,
) -> Result<Outcome, RecordFailure> {
    let event = event?;
    let processed = deferral::process_waiting(&app.processor, &event, budget).await?;
    tracing::info!(
        event_id = %event.event_id,
        user_id = %event.user.id,
        event_type = event.event_type.as_str(),
        version = event.version(),
        erp_record_id = %processed.erp_record_id,
        outcome = processed.outcome.as_str(),
        "event processed"
    );
    Ok(processed.outcome)
}

/// Sends a record that only needs another go back to the queue, delayed, instead of
/// failing it (`deferral`): `true` when it went, and the original is acknowledged.
async fn defer(app: &App, record: &SqsMessage, why: Why) -> bool {
    let Some(deferral) = &app.deferral else { return false };
    match deferral.defer(record, why).await {
        Ok(()) => {
            let reason = match why {
                Why::Busy => "its user is busy",
                Why::NoTime { .. } => "the invocation had no time left for its ERP call",
            };
            tracing::info!(
                delay_seconds = why.delay_seconds(),
                reason,
                "record deferred: sent again, delayed"
            );
            true
        }
        Err(error) => {
            tracing::warn!(error = %error_chain(&error), "record deferral failed; SQS retries it");
            false
        }
    }
}

/// How often SQS has handed this record over, this time included (1 when it does not say).
fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Records a failure for good on the user's ERP view; itself a failure only to log (the
/// store may be what failed).
async fn mark_failed(app: &App, user_id: &str, version: u64, event_id: &str) {
    let marked = app
        .processor
        .employees()
        .mark_failed(user_id, version, event_id, user_sync::events::now_utc_millis())
        .await;
    if let Err(error) = marked {
        tracing::error!(user_id, event_id, error = %error_chain(&error), "the failure was not recorded on the user's view");
    }
}

/// The reason only, never the body: it holds a name and an email.
fn log_failure(failure: &RecordFailure) {
    let kind = if failure.is_permanent() {
        "permanent"
    } else {
        "transient"
    };
    if failure.is_permanent() {
        tracing::warn!(reason = %failure, kind, "record rejected")
    } else if matches!(failure, RecordFailure::Process(ProcessError::InProgress)) {
        // Expected when deliveries of one event overlap: the retry finds it done.
        tracing::info!(reason = %failure, kind, "record deferred")
    } else {
        tracing::error!(reason = %error_chain(failure), kind, "record failed")
    }
}

/// The `correlationId` message attribute the CRM API sets, tying this record to the
/// request that created the user; cut to an id's bound for the log, since any producer may
/// set it to anything.
fn correlation_id(record: &SqsMessage) -> Option<&str> {
    let id = record
        .message_attributes
        .get("correlationId")
        .and_then(|a| a.string_value.as_deref())?;
    let end = id
        .char_indices()
        .nth(user_sync::events::MAX_ID_CHARS)
        .map_or(id.len(), |(at, _)| at);
    Some(&id[..end])
}
