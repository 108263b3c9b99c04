//! `user_sync::reconcile` and the scheduled `Check` on real Users and ErpEmployees tables, a
//! topic and its queue (the emulator): every verdict found by id across the scan's segments
//! (each one page: more would take megabytes); the repair re-sends exactly the missing,
//! behind and deleted-upstream users through the outbox, and leaves it clean; a scheduled
//! run counts what drifted apart from users changed within the settling time.

use std::collections::{BTreeMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use reconciler::Check;
use test_support::{emulator, CrmTables};
use user_sync::crm::{Crm, Delivery};
use user_sync::domain::Drift;
use user_sync::events::{EventEnvelope, EventPublisher, EventType};
use user_sync::outbox::Outbox;
use user_sync::reconcile;
use user_sync::store::{ErpEmployeesTable, UsersTable};
use uuid::Uuid;

struct World {
    dynamo: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    users_table: String,
    views_table: String,
    queue: String,
    topic: String,
}

async fn world() -> World {
    let crm = CrmTables::create(&emulator().sdk_config().await).await;
    World {
        users_table: crm.users_table,
        views_table: crm.employees_table,
        queue: crm.events.queue_url,
        topic: crm.events.topic_arn,
        dynamo: crm.dynamo,
        sqs: crm.sqs,
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// A `Users` row: live at `version`, or a tombstone.
async fn row(w: &World, version: u64, deleted: bool) -> Uuid {
    let id = Uuid::new_v4();
    let mut put = w
        .dynamo
        .put_item()
        .table_name(&w.users_table)
        .item("Id", s(&id.to_string()))
        .item("Version", n(version));
    put = if deleted {
        put.item("DeletedAt", s("2026-12-06T10:00:00Z"))
    } else {
        put.item("Name", s("Ada"))
            .item("Email", s("ada@example.com"))
            .item("CreatedAt", s("2026-12-06T09:00:00Z"))
            .item("EventId", s(&Uuid::new_v4().to_string()))
    };
    put.send().await.unwrap();
    id
}

/// The ERP's view of `id` at `version` in `state`, and a failed version if any.
async fn view(w: &World, id: Uuid, version: u64, state: &str, failed: Option<u64>) {
    let mut put = w
        .dynamo
        .put_item()
        .table_name(&w.views_table)
        .item("UserId", s(&id.to_string()))
        .item("Version", n(version))
        .item("State", s(state))
        .item("ErpRecordId", s(&format!("EMP-{id}")))
        .item("ErpSystem", s("OracleFusion"))
        .item("EventId", s("e"))
        .item("SyncedAt", s("2026-12-06T10:00:00Z"));
    if let Some(failed) = failed {
        put = put.item("FailedVersion", n(failed));
    }
    put.send().await.unwrap();
}

/// Drains the queue: each event's user, type and version.
async fn sent(w: &World) -> HashSet<(String, &'static str, u64)> {
    test_support::drain(&w.sqs, &w.queue)
        .await
        .iter()
        .map(|m| {
            let event = EventEnvelope::parse(m.body().unwrap()).unwrap();
            (event.user.id.clone(), event.event_type.as_str(), event.version())
        })
        .collect()
}

#[tokio::test]
async fn finds_each_verdict_by_id_and_repairs_what_resending_mends() {
    let w = world().await;
    // More than one scan page per segment would need megabytes; many rows still spread
    // over every segment, and each in-sync one must stay unreported.
    for _ in 0..150 {
        let id = row(&w, 1, false).await;
        view(&w, id, 1, "Active", None).await;
    }
    let gone_and_erased = row(&w, 2, true).await;
    view(&w, gone_and_erased, 2, "Deleted", None).await;
    let missing = row(&w, 1, false).await;
    let behind = row(&w, 2, false).await;
    view(&w, behind, 1, "Active", None).await;
    let ahead = row(&w, 1, false).await;
    view(&w, ahead, 3, "Active", None).await;
    let failed = row(&w, 2, false).await;
    view(&w, failed, 1, "Active", Some(2)).await;
    let deleted_upstream = row(&w, 3, true).await;
    view(&w, deleted_upstream, 2, "Active", None).await;

    let users = UsersTable::new(w.dynamo.clone(), &w.users_table);
    let views = ErpEmployeesTable::new(w.dynamo.clone(), &w.views_table);
    let progress = std::sync::Mutex::new(Vec::new());
    let found = reconcile::compare(&users, &views, |read| progress.lock().unwrap().push(read))
        .await
        .unwrap();
    assert_eq!(found.users, 156, "each row read once across the segments");
    assert_eq!(progress.lock().unwrap().iter().max(), Some(&156));
    let by_verdict: BTreeMap<Drift, Vec<Uuid>> = found
        .drift
        .iter()
        .map(|(drift, users)| (*drift, users.iter().map(|u| u.id()).collect()))
        .collect();
    assert_eq!(
        by_verdict,
        BTreeMap::from([
            (Drift::Missing, vec![missing]),
            (Drift::Behind, vec![behind]),
            (Drift::DeletedUpstream, vec![deleted_upstream]),
            (Drift::Ahead, vec![ahead]),
            (Drift::Failed, vec![failed]),
        ])
    );
    assert_eq!(found.repairable(), 3);

    let aws = emulator().sdk_config().await;
    let events = EventPublisher::new(aws_sdk_sns::Client::new(&aws), &w.topic);
    let crm = Crm::new(Outbox::new(users, events), Delivery::Writer);
    let done = reconcile::repair(&crm, &found, "reconcile-test").await.unwrap();
    assert_eq!((done.sent, done.left_pending, done.skipped), (3, 0, 0));
    assert_eq!(
        sent(&w).await,
        HashSet::from([
            (missing.to_string(), EventType::UserCreated.as_str(), 1),
            (behind.to_string(), EventType::UserCreated.as_str(), 2),
            (deleted_upstream.to_string(), EventType::UserDeleted.as_str(), 3),
        ])
    );
    let marks = w.dynamo.scan().table_name(&w.users_table).send().await.unwrap();
    assert!(
        marks.items().iter().all(|i| !i.contains_key("Outbox")),
        "the outbox is clean"
    );

    // A tombstone whose deletion is still pending is left to it.
    let pending = row(&w, 4, true).await;
    view(&w, pending, 1, "Active", None).await;
    w.dynamo
        .update_item()
        .table_name(&w.users_table)
        .key("Id", s(&pending.to_string()))
        .update_expression(
            "SET Outbox = :p, OutboxSince = :t, OutboxEventId = :e, OutboxEvent = :b, OutboxCorrelationId = :c",
        )
        .expression_attribute_values(":p", s("pending"))
        .expression_attribute_values(":t", n(1))
        .expression_attribute_values(":e", s("other"))
        .expression_attribute_values(":b", s("{}"))
        .expression_attribute_values(":c", s("req"))
        .send()
        .await
        .unwrap();
    let found = reconcile::compare(&users_again(&w), &views, |_| {}).await.unwrap();
    let done = reconcile::repair(&crm, &found, "reconcile-test-2").await.unwrap();
    assert_eq!(done.skipped, 1, "the pending deletion goes first: {done:?}");
}

fn users_again(w: &World) -> UsersTable {
    UsersTable::new(w.dynamo.clone(), &w.users_table)
}

#[tokio::test]
async fn a_scheduled_run_counts_settled_drift_apart_from_users_just_changed() {
    let w = world().await;
    let in_sync = row(&w, 1, false).await;
    view(&w, in_sync, 1, "Active", None).await;
    // Created at 09:00 and deleted at 10:00 (the rows' times): long settled.
    let _missing = row(&w, 1, false).await;
    let deleted_upstream = row(&w, 2, true).await;
    view(&w, deleted_upstream, 1, "Active", None).await;
    let ahead = row(&w, 1, false).await;
    view(&w, ahead, 2, "Active", None).await;
    // Changed a minute ago: its event may be on its way.
    let just_changed = row(&w, 2, false).await;
    view(&w, just_changed, 1, "Active", None).await;
    w.dynamo
        .update_item()
        .table_name(&w.users_table)
        .key("Id", s(&just_changed.to_string()))
        .update_expression("SET UpdatedAt = :at")
        .expression_attribute_values(":at", s("2026-12-06T11:59:00Z"))
        .send()
        .await
        .unwrap();

    let check = Check::new(
        users_again(&w),
        ErpEmployeesTable::new(w.dynamo.clone(), &w.views_table),
        std::time::Duration::from_secs(15 * 60),
    );
    let report = check.run(time::macros::datetime!(2026-12-06 12:00 UTC)).await.unwrap();
    assert_eq!(report.users, 5);
    assert_eq!(report.count(Drift::Missing), 1);
    assert_eq!(report.count(Drift::DeletedUpstream), 1);
    assert_eq!(report.count(Drift::Ahead), 1);
    assert_eq!(
        report.count(Drift::Behind),
        0,
        "the behind user changed within the settling time"
    );
    assert_eq!(report.in_flight, 1);
    assert_eq!(report.repairable, 2);
    assert_eq!(report.drifted(), 3);

    // An hour later, the same user's drift has settled.
    let report = check.run(time::macros::datetime!(2026-12-06 13:00 UTC)).await.unwrap();
    assert_eq!((report.count(Drift::Behind), report.in_flight), (1, 0));
}
