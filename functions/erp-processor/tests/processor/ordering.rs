//! A user's events take effect in version order however they are delivered: shuffled,
//! repeated, concurrent. An older event is recorded as superseded and changes nothing; a
//! deletion is final and erases the user's name and email from the audit trail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use erp_processor::erp::{Budget, Erp, ErpError};
use erp_processor::process::{Outcome, ProcessError, Processor};
use futures::future::{join_all, BoxFuture};
use serde_json::{json, Value};
use user_sync::domain::ErpEmployee;
use user_sync::domain::{EmployeeState, EmployeeView};
use user_sync::events::{now_utc_millis, EventEnvelope};
use user_sync::store::{ErpEmployeesTable, Leased, ProcessedUsersTable};

use crate::helpers::{s, spawn_app, TestApp};

/// A user's life as crm-api publishes it: created, renamed, given a new address, deleted.
fn lifecycle(user_id: &str) -> Vec<Value> {
    let state = |event: &str, kind: &str, version: u64, name: &str, email: &str| {
        json!({"eventId": format!("{event}-{user_id}"), "eventType": kind, "version": version,
               "timestamp": "2026-03-02T09:15:27.418Z",
               "user": {"id": user_id, "name": name, "email": email}})
    };
    vec![
        state("created", "UserCreated", 1, "Grace Hopper", "grace@example.com"),
        state("renamed", "UserUpdated", 2, "Grace B. Hopper", "grace@example.com"),
        state(
            "moved",
            "UserUpdated",
            3,
            "Grace B. Hopper",
            "grace.hopper@navy.example",
        ),
        json!({"eventId": format!("deleted-{user_id}"), "eventType": "UserDeleted", "version": 4,
               "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": user_id}}),
    ]
}

const PII: [&str; 4] = ["Grace", "Hopper", "grace@example.com", "navy.example"];

fn employees(app: &TestApp) -> ErpEmployeesTable {
    ErpEmployeesTable::new(app.dynamo.clone(), &app.config.employees_table)
}

async fn view(app: &TestApp, user_id: &str) -> EmployeeView {
    employees(app)
        .get(user_id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no view of {user_id}"))
}

/// Every value of every item of `table` that mentions the user's name or email.
async fn traces_of_pii(app: &TestApp, table: &str) -> Vec<String> {
    test_support::scan_all(&app.dynamo, table)
        .await
        .into_iter()
        .flat_map(|item| item.into_iter())
        .map(|(name, value)| format!("{name}={value:?}"))
        .filter(|value| PII.iter().any(|pii| value.contains(pii)))
        .collect()
}

async fn assert_no_pii(app: &TestApp, table: &str) {
    assert_eq!(traces_of_pii(app, table).await, Vec::<String>::new(), "{table}");
}

/// Records `event` as processed without writing the view: a delivery that died in between.
async fn recorded_without_view(app: &TestApp, event: &EventEnvelope) {
    let table = ProcessedUsersTable::new(app.dynamo.clone(), &app.config.processed_table);
    let now = now_utc_millis();
    let erp_record = ErpEmployee::for_user(&event.user.id, "OracleFusion");
    let recorded = user_sync::store::ProcessedEvent {
        event,
        erp: &erp_record,
        processed_at: now,
        verdict: user_sync::store::Verdict::Applied,
    };
    assert_eq!(table.record(&recorded).await.unwrap(), user_sync::store::Found::Nothing);
}

/// Delivers the lifecycle's events in `order` (indexes, repeats allowed), each in a batch
/// of its own, as SQS may hand them to different invocations one after the other.
async fn deliver_in_order(app: &TestApp, user_id: &str, order: &[usize]) {
    let events = lifecycle(user_id);
    for (n, &i) in order.iter().enumerate() {
        let message_id = format!("m-{n}");
        let failed = app.send_batch(&[(&message_id, Some(events[i].to_string()))]).await;
        assert!(failed.is_empty(), "event {i} of {order:?} failed");
    }
}

#[tokio::test]
async fn shuffled_and_repeated_deliveries_end_in_the_newest_state() {
    let app = spawn_app().await;
    for order in [
        vec![0, 1, 2, 3],
        vec![3, 2, 1, 0],
        vec![1, 0, 3, 2, 1],
        vec![2, 2, 0, 3, 3, 1],
    ] {
        let user_id = test_support::unique("user");
        deliver_in_order(&app, &user_id, &order).await;

        let view = view(&app, &user_id).await;
        assert_eq!((view.version, view.state), (4, EmployeeState::Deleted), "{order:?}");
        assert_eq!(view.event_id, format!("deleted-{user_id}"));
        assert!(view.pii_event_ids.is_empty(), "{order:?}");

        // An event is applied when it is newer than everything before it, else superseded.
        let records = app.stored_items().await;
        let mut newest = 0;
        let mut seen = Vec::new();
        for &i in &order {
            if seen.contains(&i) {
                continue;
            }
            seen.push(i);
            let event_id = lifecycle(&user_id)[i]["eventId"].as_str().unwrap().to_owned();
            let record = &records[&event_id];
            let version = i as u64 + 1;
            if version > newest {
                assert_eq!(s(record, "Status"), "Processed", "{event_id} in {order:?}");
                newest = version;
            } else {
                assert_eq!(s(record, "Status"), "Superseded", "{event_id} in {order:?}");
                assert_eq!(record["SupersededBy"], AttributeValue::N(newest.to_string()));
            }
            assert_eq!(record["Version"], AttributeValue::N(version.to_string()));
        }
        let repeats = order.len() - seen.len();
        let counted: usize = records
            .values()
            .filter(|r| s(r, "UserId") == user_id)
            .filter_map(|r| {
                r.get("Duplicates")
                    .and_then(|d| d.as_n().ok())
                    .map(|n| n.parse::<usize>().unwrap())
            })
            .sum();
        assert_eq!(counted, repeats, "every repeat is counted on its first record");
    }
    assert_no_pii(&app, &app.config.processed_table).await;
    assert_no_pii(&app, &app.config.employees_table).await;
}

#[tokio::test]
async fn one_batch_of_a_users_shuffled_events_applies_them_in_version_order() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    let events = lifecycle(&user_id);
    let failed = app
        .send_batch(&[
            ("m-3", Some(events[2].to_string())),
            ("m-1", Some(events[0].to_string())),
            ("m-1-again", Some(events[0].to_string())),
            ("m-2", Some(events[1].to_string())),
        ])
        .await;
    assert!(failed.is_empty(), "{failed:?}");
    let records = app.stored_items().await;
    for event in &events[..3] {
        let record = &records[event["eventId"].as_str().unwrap()];
        assert_eq!(
            s(record, "Status"),
            "Processed",
            "sorted by version, none is superseded"
        );
    }
    let view = view(&app, &user_id).await;
    assert_eq!((view.version, view.state), (3, EmployeeState::Active));
    assert_eq!(view.pii_event_ids.len(), 3, "every applied state is listed for erasure");
    assert_eq!(
        s(&records[&format!("moved-{user_id}")], "UserEmail"),
        "grace.hopper@navy.example"
    );
}

#[tokio::test]
async fn an_update_before_its_create_creates_the_record_and_supersedes_the_create() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    deliver_in_order(&app, &user_id, &[1, 0]).await;

    let view = view(&app, &user_id).await;
    assert_eq!((view.version, view.state), (2, EmployeeState::Active));
    assert_eq!(view.event_id, format!("renamed-{user_id}"));
    let records = app.stored_items().await;
    let update = &records[&format!("renamed-{user_id}")];
    assert_eq!(s(update, "UserName"), "Grace B. Hopper");
    let create = &records[&format!("created-{user_id}")];
    assert_eq!(s(create, "Status"), "Superseded");
    assert!(
        !create.contains_key("UserName") && !create.contains_key("UserEmail"),
        "a superseded event changed nothing, and keeps no name or email"
    );
}

#[tokio::test]
async fn a_deletion_is_final_and_a_later_event_is_superseded() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    let mut late = lifecycle(&user_id)[2].clone();
    late["version"] = json!(9);
    late["eventId"] = json!(format!("late-{user_id}"));
    deliver_in_order(&app, &user_id, &[0, 3]).await;
    assert!(app.send_batch(&[("m-late", Some(late.to_string()))]).await.is_empty());

    let view = view(&app, &user_id).await;
    assert_eq!((view.version, view.state), (4, EmployeeState::Deleted));
    let late = &app.stored_items().await[&format!("late-{user_id}")];
    assert_eq!(s(late, "Status"), "Superseded");
    assert_no_pii(&app, &app.config.processed_table).await;
}

#[tokio::test]
async fn a_deletion_erases_records_only_the_index_knows() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    // A record the original system wrote: no view lists it.
    let original = HashMap::from([
        ("EventId".to_owned(), AttributeValue::S(format!("original-{user_id}"))),
        ("UserId".to_owned(), AttributeValue::S(user_id.clone())),
        ("UserName".to_owned(), AttributeValue::S("Grace Hopper".to_owned())),
        (
            "UserEmail".to_owned(),
            AttributeValue::S("grace@example.com".to_owned()),
        ),
        ("EventType".to_owned(), AttributeValue::S("UserCreated".to_owned())),
        ("Status".to_owned(), AttributeValue::S("Processed".to_owned())),
        (
            "ProcessedAt".to_owned(),
            AttributeValue::S("2025-10-16T12:35:00.1234567Z".to_owned()),
        ),
    ]);
    app.dynamo
        .put_item()
        .table_name(&app.config.processed_table)
        .set_item(Some(original))
        .send()
        .await
        .unwrap();
    deliver_in_order(&app, &user_id, &[3]).await;

    let record = &app.stored_items().await[&format!("original-{user_id}")];
    assert_eq!(s(record, "UserId"), user_id, "the record stays, without PII");
    assert_no_pii(&app, &app.config.processed_table).await;
}

/// An ERP that records which versions it was given, and how many calls for one user
/// overlapped at most.
#[derive(Debug, Default)]
struct RecordingErp {
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    applied: Mutex<Vec<u64>>,
}

impl Erp for RecordingErp {
    fn integrate<'a>(
        &'a self,
        event: &'a EventEnvelope,
        _employee: &'a ErpEmployee,
        _budget: Budget,
    ) -> BoxFuture<'a, Result<(), ErpError>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.applied.lock().unwrap().push(event.version());
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

fn processor(app: &TestApp, erp: Arc<RecordingErp>, claim_timeout: Duration) -> Processor {
    let table = ProcessedUsersTable::new(app.dynamo.clone(), &app.config.processed_table);
    Processor::new(table, employees(app), erp, "OracleFusion", claim_timeout)
}

/// A fresh app, and a processor on its tables calling a recording ERP.
async fn recording() -> (TestApp, Arc<RecordingErp>, Processor) {
    let app = spawn_app().await;
    let erp = Arc::new(RecordingErp::default());
    let processor = processor(&app, erp.clone(), Duration::from_secs(60));
    (app, erp, processor)
}

fn envelopes(user_id: &str) -> Vec<EventEnvelope> {
    lifecycle(user_id)
        .iter()
        .map(|e| EventEnvelope::parse(&e.to_string()).unwrap())
        .collect()
}

#[tokio::test]
async fn concurrent_deliveries_of_one_user_never_overlap_at_the_erp() {
    let (app, erp, processor) = recording().await;
    let user_id = test_support::unique("user");
    // Three copies of each event at once; whatever is deferred is retried, as SQS would.
    let mut pending: Vec<EventEnvelope> = envelopes(&user_id)
        .into_iter()
        .flat_map(|e| [e.clone(), e.clone(), e])
        .collect();
    for _ in 0..20 {
        let outcomes = join_all(pending.iter().map(|e| processor.process(e, budget()))).await;
        pending = pending
            .into_iter()
            .zip(outcomes)
            .filter_map(|(event, outcome)| match outcome {
                Err(ProcessError::InProgress) => Some(event),
                Err(other) => panic!("{other}"),
                Ok(_) => None,
            })
            .collect();
        if pending.is_empty() {
            break;
        }
    }
    assert!(pending.is_empty(), "every delivery finished");
    assert_eq!(
        erp.most_in_flight.load(Ordering::SeqCst),
        1,
        "one ERP call per user at a time"
    );
    let applied = erp.applied.lock().unwrap().clone();
    assert!(
        applied.windows(2).all(|w| w[0] < w[1]),
        "applied in rising versions: {applied:?}"
    );
    assert_eq!(applied.last(), Some(&4));
    assert_eq!(view(&app, &user_id).await.version, 4);
}

#[tokio::test]
async fn a_live_lease_defers_the_user_and_an_expired_one_is_taken_over() {
    let (app, erp, processor) = recording().await;
    let created = envelopes(&test_support::unique("user")).remove(0);
    let now = now_utc_millis();
    let held = employees(&app)
        .lease(&created.user.id, now, now + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(held, Leased::Mine(_, None)));
    assert!(matches!(
        processor.process(&created, budget()).await,
        Err(ProcessError::InProgress)
    ));
    assert!(erp.applied.lock().unwrap().is_empty());

    // A delivery that took the lease and died: it expires, and the next one proceeds.
    let other = envelopes(&test_support::unique("user")).remove(0);
    let now = now_utc_millis();
    employees(&app)
        .lease(&other.user.id, now, now + Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        processor.process(&other, budget()).await.unwrap().outcome,
        Outcome::Applied
    );
    assert_eq!(view(&app, &other.user.id).await.version, 1);
}

#[tokio::test]
async fn a_recorded_event_whose_view_was_not_written_is_finished_by_its_redelivery() {
    let (app, erp, processor) = recording().await;
    let user_id = test_support::unique("user");
    let events = envelopes(&user_id);
    processor.process(&events[0], budget()).await.unwrap();
    // A delivery of v2 that completed its record and died before writing the view.
    recorded_without_view(&app, &events[1]).await;
    assert_eq!(view(&app, &user_id).await.version, 1);

    assert_eq!(
        processor.process(&events[1], budget()).await.unwrap().outcome,
        Outcome::Duplicate
    );
    let view = view(&app, &user_id).await;
    assert_eq!((view.version, view.event_id.as_str()), (2, events[1].event_id.as_str()));
    assert!(view.pii_event_ids.contains(&events[1].event_id), "listed for erasure");
    assert_eq!(erp.applied.lock().unwrap().as_slice(), [1], "no second ERP call");
}

#[tokio::test]
async fn a_view_written_by_an_event_whose_record_was_not_written_is_not_applied_twice() {
    let (app, erp, processor) = recording().await;
    let user_id = test_support::unique("user");
    let events = envelopes(&user_id);
    processor.process(&events[0], budget()).await.unwrap();
    // A delivery of v2 that called the ERP and wrote the view, but died before its audit
    // record was written (the two are written at once).
    let now = now_utc_millis();
    let Leased::Mine(lease, before) = employees(&app)
        .lease(&user_id, now, now + Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("the user is free")
    };
    let pii = EmployeeView::pii_event_ids_with(before.as_ref(), &events[1].event_id);
    let erp_record = ErpEmployee::for_user(&user_id, "OracleFusion");
    let written = user_sync::store::Applied {
        version: 2,
        state: EmployeeState::Active,
        erp_record_id: &erp_record.record_id,
        erp_system: &erp_record.system,
        event_id: &events[1].event_id,
        synced_at: now,
        pii_event_ids: &pii,
    };
    assert!(employees(&app).apply(&lease, &written).await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;

    assert_eq!(
        processor.process(&events[1], budget()).await.unwrap().outcome,
        Outcome::Applied
    );
    assert_eq!(erp.applied.lock().unwrap().as_slice(), [1], "no second ERP call");
    let record = &app.stored_items().await[&events[1].event_id];
    assert_eq!(s(record, "Status"), "Processed");
    assert_eq!(view(&app, &user_id).await.version, 2);
    // And the user is free for its next event.
    processor.process(&events[2], budget()).await.unwrap();
    assert_eq!(erp.applied.lock().unwrap().as_slice(), [1, 3]);
}

#[tokio::test]
async fn a_state_re_published_under_a_new_event_id_is_applied_again() {
    let (app, erp, processor) = recording().await;
    let created = envelopes(&test_support::unique("user")).remove(0);
    assert_eq!(
        processor.process(&created, budget()).await.unwrap().outcome,
        Outcome::Applied
    );
    // scripts/backfill: the stored state again, under an id of its own.
    let mut again = created.clone();
    again.event_id = format!("backfill-{}", created.event_id);
    assert_eq!(
        processor.process(&again, budget()).await.unwrap().outcome,
        Outcome::Applied
    );
    assert_eq!(erp.applied.lock().unwrap().as_slice(), [1, 1]);
    assert_eq!(view(&app, &created.user.id).await.event_id, again.event_id);
}

#[tokio::test]
async fn an_event_bound_for_the_dead_letter_queue_marks_its_user_failed() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    let created = lifecycle(&user_id).remove(0);
    // Another delivery holds the user: a transient failure, on an early receive and on the last.
    let now = now_utc_millis();
    employees(&app)
        .lease(&user_id, now, now + Duration::from_secs(60))
        .await
        .unwrap();
    let mut batch = crate::helpers::sqs_event(&[("m-1", Some(created.to_string()))]);
    batch["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("2");
    assert_eq!(
        crate::helpers::failed_ids(&app.invoke(batch.clone()).await.unwrap()),
        ["m-1"]
    );
    assert_eq!(
        employees(&app).sync_state(&user_id).await.unwrap().failed_version,
        None,
        "retried, not failed"
    );
    batch["Records"][0]["attributes"]["ApproximateReceiveCount"] = json!("5");
    assert_eq!(crate::helpers::failed_ids(&app.invoke(batch).await.unwrap()), ["m-1"]);
    assert_eq!(
        employees(&app).sync_state(&user_id).await.unwrap().failed_version,
        Some(1)
    );

    // A refused event (its id reused with another payload) is marked at once.
    let other = test_support::unique("user");
    deliver_in_order(&app, &other, &[0]).await;
    let mut reused = lifecycle(&other)[0].clone();
    reused["user"]["name"] = json!("Someone Else");
    assert_eq!(app.send_batch(&[("m-2", Some(reused.to_string()))]).await, ["m-2"]);
    assert_eq!(
        employees(&app).sync_state(&other).await.unwrap().failed_version,
        Some(1)
    );
}

#[tokio::test]
async fn a_deletion_finished_by_its_redelivery_erases_what_came_in_between() {
    let (app, erp, processor) = recording().await;
    let user_id = test_support::unique("user");
    let events = envelopes(&user_id);
    processor.process(&events[0], budget()).await.unwrap();
    // A delivery of the deletion (as version 2) recorded it and died before the view.
    let mut deletion = events[3].clone();
    deletion.version = Some(2);
    recorded_without_view(&app, &deletion).await;
    // Meanwhile version 1 is re-published (a backfill): applied again, with its PII.
    let mut again = events[0].clone();
    again.event_id = format!("backfill-{}", again.event_id);
    assert_eq!(
        processor.process(&again, budget()).await.unwrap().outcome,
        Outcome::Applied
    );

    assert_eq!(
        processor.process(&deletion, budget()).await.unwrap().outcome,
        Outcome::Duplicate
    );
    let view = view(&app, &user_id).await;
    assert_eq!((view.version, view.state), (2, EmployeeState::Deleted));
    assert_eq!(
        erp.applied.lock().unwrap().as_slice(),
        [1, 1, 2],
        "the record removed again"
    );
    assert_no_pii(&app, &app.config.processed_table).await;
}

#[tokio::test]
async fn a_failure_recorded_during_a_first_lease_outlives_its_release() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    let now = now_utc_millis();
    let Leased::Mine(lease, None) = employees(&app)
        .lease(&user_id, now, now + Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("a new user")
    };
    employees(&app).mark_failed(&user_id, 1, "evt-1", now).await.unwrap();
    employees(&app).release(&lease).await.unwrap();
    let state = employees(&app).sync_state(&user_id).await.unwrap();
    assert_eq!((state.view, state.failed_version), (None, Some(1)));
    // And the lease is gone: the next delivery takes it.
    let next = employees(&app)
        .lease(&user_id, now, now + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(next, Leased::Mine(..)));
}

fn budget() -> Budget {
    Budget::lasting(Duration::from_secs(30))
}

/// A deletion is superseded by nothing but a deletion: after a producer posted a far higher
/// version of the user, the CRM's deletion still erases the name and email and ends the
/// employee, and the view's version does not go back.
#[tokio::test]
async fn a_deletion_after_a_higher_posted_version_still_erases_and_ends_the_employee() {
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    deliver_in_order(&app, &user_id, &[0]).await;
    let mut posted = lifecycle(&user_id)[1].clone();
    posted["eventId"] = json!(format!("producer-{user_id}"));
    posted["version"] = json!(100);
    assert_eq!(app.post_events(&posted.to_string()).await.status, 200);
    deliver_in_order(&app, &user_id, &[3]).await;

    let view = view(&app, &user_id).await;
    assert_eq!((view.state, view.version), (EmployeeState::Deleted, 100));
    let deletion = &app.stored_items().await[&format!("deleted-{user_id}")];
    assert_eq!(s(deletion, "Status"), "Processed", "applied, not superseded");
    assert_no_pii(&app, &app.config.processed_table).await;
}

/// Thousands of records erase within one invocation; one whose time runs out erases what
/// it can, fails (to be redelivered) and the next delivery resumes.
#[tokio::test]
async fn a_deletion_erases_thousands_of_records_and_resumes_when_time_runs_out() {
    const RECORDS: usize = 3_000;
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    let requests: Vec<_> = (0..RECORDS)
        .map(|n| {
            let item = HashMap::from([
                ("EventId".to_owned(), AttributeValue::S(format!("old-{n}-{user_id}"))),
                ("UserId".to_owned(), AttributeValue::S(user_id.clone())),
                ("UserName".to_owned(), AttributeValue::S("Grace Hopper".to_owned())),
                (
                    "UserEmail".to_owned(),
                    AttributeValue::S("grace@example.com".to_owned()),
                ),
                ("Status".to_owned(), AttributeValue::S("Processed".to_owned())),
            ]);
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    for chunk in requests.chunks(25) {
        app.dynamo
            .batch_write_item()
            .request_items(&app.config.processed_table, chunk.to_vec())
            .send()
            .await
            .unwrap();
    }
    let deletion = EventEnvelope::parse(&lifecycle(&user_id)[3].to_string()).unwrap();
    let processor = &app.app.processor;
    let error = processor
        .process(&deletion, Budget::lasting(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            ProcessError::Record(user_sync::store::RecordError::ErasureIncomplete { done: 0, .. })
        ),
        "{error:?}"
    );
    assert!(
        !app.stored_items().await.contains_key(&format!("deleted-{user_id}")),
        "unclaimed"
    );

    let processed = processor.process(&deletion, budget()).await.unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    assert_no_pii(&app, &app.config.processed_table).await;
}

/// A lease write that landed but whose answer was lost is sent again by the SDK with the
/// same token: the retry finds the delivery's own lease and takes it, rather than calling
/// the user busy and deferring the record until its own lease expires.
#[tokio::test]
async fn a_lease_whose_answer_was_lost_is_taken_by_the_retry() {
    let app = spawn_app().await;
    let (proxy, connections) = test_support::lost_first_answer(&test_support::emulator().endpoint);
    let through_proxy = test_support::sdk_config_for(&proxy).await;
    let losing = ErpEmployeesTable::new(
        aws_sdk_dynamodb::Client::new(&through_proxy),
        &app.config.employees_table,
    );
    let user_id = test_support::unique("user");
    let now = now_utc_millis();
    let leased = losing
        .lease(&user_id, now, now + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(leased, Leased::Mine(_, None)), "{leased:?}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        2,
        "the first answer lost, the write sent again"
    );
    assert!(
        matches!(
            employees(&app)
                .lease(&user_id, now, now + Duration::from_secs(60))
                .await
                .unwrap(),
            Leased::Busy
        ),
        "held: another delivery finds the user busy"
    );
}

/// A record whose user another delivery holds spends no receive: it waits a moment, then
/// goes back to the queue delayed, as it came, and its batch reports no failure. A lease
/// held a second waits inside the invocation instead.
#[tokio::test]
async fn a_busy_user_defers_its_record_without_failing_it() {
    let aws = test_support::emulator().sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = test_support::create_queue(&sqs, "events").await;
    let url = queue.clone();
    let app = crate::helpers::spawn_app_with(move |config| config.events_queue_url = Some(url)).await;
    let user_id = test_support::unique("user");
    let created = lifecycle(&user_id).remove(0);
    let now = now_utc_millis();
    let held = employees(&app)
        .lease(&user_id, now, now + Duration::from_secs(60))
        .await
        .unwrap();
    assert!(matches!(held, Leased::Mine(_, None)));
    assert!(app.send_batch(&[("m-1", Some(created.to_string()))]).await.is_empty());
    assert!(
        app.stored_items().await.is_empty(),
        "nothing processed while the user is held"
    );

    let out = sqs
        .receive_message()
        .queue_url(&queue)
        .message_attribute_names("All")
        .wait_time_seconds(10)
        .send()
        .await
        .unwrap();
    let copy = &out.messages()[0];
    assert_eq!(serde_json::from_str::<Value>(copy.body().unwrap()).unwrap(), created);
    let attributes = copy.message_attributes().unwrap();
    assert_eq!(attributes["correlationId"].string_value(), Some("corr-m-1"));

    // Held for a moment only: the record waits for it inside the invocation.
    let other = test_support::unique("user");
    let now = now_utc_millis();
    employees(&app)
        .lease(&other, now, now + Duration::from_millis(300))
        .await
        .unwrap();
    let record = lifecycle(&other).remove(0);
    assert!(app.send_batch(&[("m-2", Some(record.to_string()))]).await.is_empty());
    assert_eq!(view(&app, &other).await.version, 1, "applied, not deferred");
}

/// However often a user changes, its view lists only the newest records holding PII (the
/// item stays far below DynamoDB's 400 KB), and its deletion still erases every record,
/// the older ones found through the index.
#[tokio::test]
async fn a_user_changed_thousands_of_times_keeps_a_bounded_view_and_is_erased_whole() {
    const CHANGES: u64 = 2_000;
    let app = spawn_app().await;
    let user_id = test_support::unique("user");
    let processor = &app.app.processor;
    for version in 1..=CHANGES {
        let kind = if version == 1 { "UserCreated" } else { "UserUpdated" };
        let event = EventEnvelope::parse(
            &json!({"eventId": format!("change-{version}-{user_id}"), "eventType": kind, "version": version,
                    "timestamp": "2026-03-02T09:15:27.418Z",
                    "user": {"id": user_id, "name": "Grace Hopper", "email": "grace@example.com"}})
            .to_string(),
        )
        .unwrap();
        processor.process(&event, budget()).await.unwrap();
    }
    let view = view(&app, &user_id).await;
    assert_eq!(view.version, CHANGES);
    assert_eq!(view.pii_event_ids.len(), user_sync::domain::MAX_PII_EVENT_IDS);
    assert_eq!(
        view.pii_event_ids.last().map(String::as_str),
        Some(format!("change-{CHANGES}-{user_id}").as_str())
    );
    let mut deletion = lifecycle(&user_id)[3].clone();
    deletion["version"] = json!(CHANGES + 1);
    let deletion = EventEnvelope::parse(&deletion.to_string()).unwrap();
    assert_eq!(
        processor.process(&deletion, budget()).await.unwrap().outcome,
        Outcome::Applied
    );
    assert_no_pii(&app, &app.config.processed_table).await;
}
