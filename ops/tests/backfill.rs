//! `ops::backfill` on a real Users table and queue (the emulator): every user of more
//! than one page is re-published once per generation, a rerun sends the same events, the
//! outbox is left clean, and a user with an undelivered event is left to it.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use ops::backfill::{self, Users, PAGE_SIZE};
use test_support::{create_topic_with_queue, create_users_table, emulator};
use user_sync::domain::{NewUser, RawField, User};
use user_sync::events::{now_utc_millis, EventEnvelope, EventPublisher};
use user_sync::store::{PendingEvent, UsersTable};
use uuid::Uuid;

struct World {
    dynamo: aws_sdk_dynamodb::Client,
    sns: aws_sdk_sns::Client,
    topic: String,
    sqs: aws_sdk_sqs::Client,
    table: String,
    queue: String,
    users: UsersTable,
    events: EventPublisher,
}

async fn world() -> World {
    let aws = emulator().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let table = create_users_table(&dynamo).await;
    let sns = aws_sdk_sns::Client::new(&aws);
    let events = create_topic_with_queue(&sns, &sqs, "events").await;
    let queue = events.queue_url;
    World {
        users: UsersTable::new(dynamo.clone(), &table),
        events: EventPublisher::new(sns.clone(), &events.topic_arn),
        topic: events.topic_arn,
        sns,
        dynamo,
        sqs,
        table,
        queue,
    }
}

/// A user as crm-api stores it; `delivered` clears its event's outbox mark.
async fn user(w: &World, n: usize, delivered: bool) -> Uuid {
    let new = NewUser::parse(
        RawField::Text(&format!("User {n}")),
        RawField::Text(&format!("u{n}@example.com")),
    )
    .unwrap();
    // Created a little while ago, as users to backfill are.
    let user = User::new(
        Uuid::new_v4(),
        new,
        now_utc_millis() - time::Duration::minutes(5),
        Uuid::new_v4(),
    );
    let event = EventEnvelope::user_created(&user);
    w.users
        .insert(&user, &PendingEvent::new(event.clone(), "test"))
        .await
        .unwrap();
    if delivered {
        w.users.clear_pending(&event.user.id, &event.event_id).await.unwrap();
    }
    user.id
}

/// Drains the queue: every message's event id.
async fn sent_event_ids(w: &World) -> Vec<String> {
    test_support::drain(&w.sqs, &w.queue)
        .await
        .iter()
        .map(|m| EventEnvelope::parse(m.body().unwrap()).unwrap().event_id)
        .collect()
}

async fn pending_marks(w: &World) -> usize {
    let out = w.dynamo.scan().table_name(&w.table).send().await.unwrap();
    out.items().iter().filter(|i| i.contains_key("Outbox")).count()
}

#[tokio::test]
async fn republishes_every_user_once_per_generation_across_pages() {
    let w = world().await;
    let count = PAGE_SIZE + 20;
    for n in 0..count {
        user(&w, n, true).await;
    }
    // A row exactly as the original system wrote it.
    let legacy = Uuid::new_v4();
    w.dynamo
        .put_item()
        .table_name(&w.table)
        .item("Id", AttributeValue::S(legacy.to_string()))
        .item("Name", AttributeValue::S("Old Timer".to_owned()))
        .item("Email", AttributeValue::S("old@example.com".to_owned()))
        .send()
        .await
        .unwrap();

    let mut pages = 0;
    let done = backfill::run(&w.users, &w.events, &Users::All, "1", |_| pages += 1)
        .await
        .unwrap();
    assert_eq!((done.users, done.sent, done.skipped), (count + 1, count + 1, 0));
    assert!(pages >= 2, "progress after each of the {pages} pages");
    let first: HashSet<String> = sent_event_ids(&w).await.into_iter().collect();
    assert_eq!(
        first.len(),
        count + 1,
        "one event per user, the original's row included"
    );
    assert_eq!(pending_marks(&w).await, 0, "the outbox is clean");

    // Run again (as after an interruption): the very same events.
    backfill::run(&w.users, &w.events, &Users::All, "1", |_| {})
        .await
        .unwrap();
    let again: HashSet<String> = sent_event_ids(&w).await.into_iter().collect();
    assert_eq!(again, first);

    // A new generation: new ids for every user.
    backfill::run(&w.users, &w.events, &Users::All, "2", |_| {})
        .await
        .unwrap();
    let second: HashSet<String> = sent_event_ids(&w).await.into_iter().collect();
    assert_eq!(second.len(), count + 1);
    assert!(second.is_disjoint(&first));
}

#[tokio::test]
async fn chosen_users_only_and_an_undelivered_event_goes_first() {
    let w = world().await;
    let chosen = user(&w, 1, true).await;
    let undelivered = user(&w, 2, false).await;
    user(&w, 3, true).await;
    let unknown = Uuid::new_v4();

    let done = backfill::run(
        &w.users,
        &w.events,
        &Users::Ids(vec![chosen, undelivered, unknown]),
        "1",
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((done.sent, done.skipped, done.not_found), (1, 1, 1));
    let sent = sent_event_ids(&w).await;
    let user = w.users.get(chosen).await.unwrap().unwrap();
    assert_eq!(sent, [user_sync::crm::backfill_event(&user, "1").event_id]);
    assert!(
        w.users.has_pending(undelivered).await.unwrap(),
        "its own event is still pending, untouched"
    );
}

#[tokio::test]
async fn an_event_not_sent_now_is_pending_from_now_for_the_relay() {
    let w = world().await;
    let id = user(&w, 1, true).await;
    let unreachable = EventPublisher::new(w.sns.clone(), format!("{}-does-not-exist", w.topic));
    let started = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);

    let done = backfill::run(&w.users, &unreachable, &Users::Ids(vec![id]), "1", |_| {})
        .await
        .unwrap();
    assert_eq!((done.sent, done.left_pending), (0, 1));
    assert!(
        w.users.has_pending(id).await.unwrap(),
        "left in the outbox for the relay"
    );
    // Pending since the backfill, not since the user's creation: the relay's grace period
    // and its staleness alarm count from now.
    let pending = w
        .users
        .pending_events(time::OffsetDateTime::now_utc(), 10)
        .await
        .unwrap();
    let mark = pending.iter().find(|p| p.event.user.id == id.to_string()).unwrap();
    assert!(
        mark.since >= started,
        "pending since {} (the run started {started})",
        mark.since
    );
    assert!(
        mark.event.timestamp < started,
        "the event keeps the user's creation time"
    );
}
