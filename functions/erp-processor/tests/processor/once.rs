//! The ERP side effect happens once per event: a delivery leases the event's user and looks
//! the event up before the ERP call, so concurrent and repeated deliveries make one call
//! between them; a claim an earlier version left is taken over; the same event id with
//! another payload is a conflict.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use erp_processor::erp::{Budget, Erp, ErpError};
use erp_processor::process::{Outcome, ProcessError, Processor};
use futures::future::{join_all, BoxFuture};
use serde_json::json;
use user_sync::domain::ErpEmployee;
use user_sync::events::{now_utc_millis, EventEnvelope};
use user_sync::store::{ErpEmployeesTable, Leased, ProcessedUsersTable};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::helpers::{event, s, spawn_app};

/// An ERP that counts its calls, each taking `latency`.
#[derive(Debug, Default)]
struct CountingErp {
    calls: AtomicUsize,
    latency: Duration,
}

impl Erp for CountingErp {
    fn integrate<'a>(
        &'a self,
        _event: &'a EventEnvelope,
        _employee: &'a ErpEmployee,
        _budget: Budget,
    ) -> BoxFuture<'a, Result<(), ErpError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.latency).await;
            Ok(())
        })
    }
}

async fn processor(
    latency: Duration,
    claim_timeout: Duration,
) -> (Processor, Arc<CountingErp>, crate::helpers::TestApp) {
    let app = spawn_app().await;
    let table = ProcessedUsersTable::new(app.dynamo.clone(), &app.config.processed_table);
    let erp = Arc::new(CountingErp {
        calls: AtomicUsize::new(0),
        latency,
    });
    let employees = ErpEmployeesTable::new(app.dynamo.clone(), &app.config.employees_table);
    let processor = Processor::new(table, employees, erp.clone(), "OracleFusion", claim_timeout);
    (processor, erp, app)
}

fn envelope(event_id: &str, user_id: &str) -> EventEnvelope {
    EventEnvelope::parse(&event(event_id, user_id).to_string()).unwrap()
}

#[tokio::test]
async fn concurrent_duplicate_deliveries_make_one_erp_call() {
    let (processor, erp, app) = processor(Duration::from_millis(300), Duration::from_secs(60)).await;
    let event = envelope("evt-concurrent", "0a1b2c3d-concurrent");
    let outcomes = join_all((0..8).map(|_| processor.process(&event, budget()))).await;

    assert_eq!(
        erp.calls.load(Ordering::SeqCst),
        1,
        "one side effect for eight deliveries"
    );
    let done = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(p) if p.outcome == Outcome::Applied))
        .count();
    let waiting = outcomes
        .iter()
        .filter(|o| matches!(o, Err(ProcessError::InProgress)))
        .count();
    assert_eq!((done, waiting), (1, 7), "{outcomes:?}");

    // Once completed, every redelivery is a duplicate that calls nothing.
    let again = processor.process(&event, budget()).await.unwrap();
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert_eq!(erp.calls.load(Ordering::SeqCst), 1);
    let items = app.stored_items().await;
    let record = &items["evt-concurrent"];
    assert_eq!(s(record, "Status"), "Processed");
    assert_eq!(s(record, "UserName"), "Grace Hopper");
    assert!(!record.contains_key("ClaimToken") && !record.contains_key("ClaimExpiresAt"));
}

#[tokio::test]
async fn a_claim_an_earlier_version_left_is_taken_over_and_a_leased_user_waits() {
    let (processor, erp, app) = processor(Duration::ZERO, Duration::from_secs(60)).await;
    let event = envelope("evt-abandoned", "0a1b2c3d-abandoned");
    // The claim a processor before the one-put record wrote, left by a delivery that died
    // before its ERP call (its expiry still ahead: under the user's lease it is dead anyway).
    let later = (now_utc_millis() + Duration::from_secs(600)).unix_timestamp() * 1000;
    app.dynamo
        .put_item()
        .table_name(&app.config.processed_table)
        .item("EventId", AttributeValue::S("evt-abandoned".to_owned()))
        .item("UserId", AttributeValue::S("0a1b2c3d-abandoned".to_owned()))
        .item("Status", AttributeValue::S("InProgress".to_owned()))
        .item("ClaimToken", AttributeValue::S("dead".to_owned()))
        .item("ClaimExpiresAt", AttributeValue::N(later.to_string()))
        .send()
        .await
        .unwrap();

    let processed = processor.process(&event, budget()).await.unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    assert_eq!(erp.calls.load(Ordering::SeqCst), 1);
    let record = &app.stored_items().await["evt-abandoned"];
    assert_eq!(s(record, "Status"), "Processed");
    assert!(!record.contains_key("ClaimToken") && !record.contains_key("ClaimExpiresAt"));

    // Another delivery holds the user: the event waits, without an ERP call.
    let live = envelope("evt-live", "0a1b2c3d-live");
    let employees = ErpEmployeesTable::new(app.dynamo.clone(), &app.config.employees_table);
    let now = now_utc_millis();
    let held = employees
        .lease("0a1b2c3d-live", now, now + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(held, Leased::Mine(..)));
    assert!(matches!(
        processor.process(&live, budget()).await,
        Err(ProcessError::InProgress)
    ));
    assert_eq!(
        erp.calls.load(Ordering::SeqCst),
        1,
        "no call while another delivery holds the user"
    );
    assert!(!app.stored_items().await.contains_key("evt-live"), "nothing recorded");
}

/// The one case the look-up under the lease cannot refuse before the ERP call: one event id
/// on two users' events delivered at the same moment (each under its own user's lease,
/// neither recorded yet). Both reach the ERP under the one key; the record's conditional
/// write keeps the first, and the other is a conflict.
#[tokio::test]
async fn an_event_id_two_users_reuse_at_once_is_recorded_once_and_the_other_conflicts() {
    let (processor, erp, app) = processor(Duration::from_millis(200), Duration::from_secs(60)).await;
    let first = envelope("evt-raced", "0a1b2c3d-raced-1");
    let second = envelope("evt-raced", "0a1b2c3d-raced-2");
    let (a, b) = tokio::join!(
        processor.process(&first, budget()),
        processor.process(&second, budget())
    );

    let outcomes = [&a, &b];
    let applied = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(p) if p.outcome == Outcome::Applied))
        .count();
    let conflicts = outcomes
        .iter()
        .filter(|o| matches!(o, Err(ProcessError::Conflict)))
        .count();
    assert_eq!((applied, conflicts), (1, 1), "{outcomes:?}");
    assert_eq!(erp.calls.load(Ordering::SeqCst), 2);
    let winner = if a.is_ok() { &first } else { &second };
    assert_eq!(s(&app.stored_items().await["evt-raced"], "UserId"), winner.user.id);
}

#[tokio::test]
async fn the_same_event_id_with_another_payload_is_a_conflict() {
    let (processor, erp, app) = processor(Duration::ZERO, Duration::from_secs(60)).await;
    processor
        .process(&envelope("evt-reused", "0a1b2c3d-first"), budget())
        .await
        .unwrap();
    let mut other = event("evt-reused", "0a1b2c3d-first");
    other["user"]["email"] = json!("someone.else@example.com");
    let other = EventEnvelope::parse(&other.to_string()).unwrap();
    assert!(matches!(
        processor.process(&other, budget()).await,
        Err(ProcessError::Conflict)
    ));
    assert!(matches!(
        processor
            .process(&envelope("evt-reused", "0a1b2c3d-second"), budget())
            .await,
        Err(ProcessError::Conflict)
    ));
    assert_eq!(erp.calls.load(Ordering::SeqCst), 1);
    let record = &app.stored_items().await["evt-reused"];
    assert_eq!(
        s(record, "UserId"),
        "0a1b2c3d-first",
        "the record keeps the first event"
    );
}

fn budget() -> Budget {
    Budget::lasting(Duration::from_secs(30))
}
