//! The relay as the `Users` stream's consumer, fed records made of the items crm-api wrote
//! (the deployed stream itself carries every e2e scenario's events).

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_sdk_dynamodb::types::AttributeValue;
use user_sync::events::now_utc_millis;

use uuid::Uuid;

use crate::helpers::{post_user, rename_user, spawn_stack, Stack};

type Item = HashMap<String, AttributeValue>;

/// A stream record of a write, with both images, in the shape Lambda's event carries it.
fn record(before: Option<&Item>, after: &Item) -> EventRecord {
    let mut record = EventRecord::default();
    record.event_name = if before.is_some() { "MODIFY" } else { "INSERT" }.to_owned();
    record.change.old_image = before.cloned().unwrap_or_default().into();
    record.change.new_image = after.clone().into();
    // Through JSON, as the function reads it.
    let event: Event = serde_json::from_value(serde_json::json!({"Records": [record]})).expect("a stream event");
    event.records.into_iter().next().expect("one record")
}

/// A user created, then renamed behind its pending create, through crm-api leaving the
/// publishing to the stream; the user's item after each write.
async fn created_and_renamed(stack: &Stack) -> (crm_api::App, Uuid, Item, Item) {
    let crm = stack.crm_leaving_to_stream();
    let (_, id) = post_user(&crm, "Ada", None).await;
    let created = stack.item(id).await;
    assert_eq!(rename_user(&crm, id, "Ada Lovelace").await, 200);
    let changed = stack.item(id).await;
    (crm, id, created, changed)
}

#[tokio::test]
async fn a_write_left_to_the_stream_is_published_by_its_record_and_its_mark_cleared() {
    let stack = spawn_stack().await;
    let crm = stack.crm_leaving_to_stream();
    let (status, id) = post_user(&crm, "Ada", None).await;
    assert_eq!(status, 201);
    assert!(stack.users.has_pending(id).await.unwrap(), "the write holds its event");
    assert_eq!(stack.drain_queue_into_processor().await, 0, "crm-api published nothing");

    let written = stack.item(id).await;
    let report = stack
        .relay()
        .deliver_written(&[record(None, &written)], now_utc_millis())
        .await;
    assert_eq!(
        (report.pending, report.sent, report.failed, report.not_cleared),
        (1, 1, 0, 0)
    );
    assert!(!stack.users.has_pending(id).await.unwrap(), "cleared once sent");
    assert_eq!(stack.drain_queue_into_processor().await, 1);

    // The clearing is a write too; its record leaves nothing to send.
    let cleared = stack.item(id).await;
    let report = stack
        .relay()
        .deliver_written(&[record(Some(&written), &cleared)], now_utc_millis())
        .await;
    assert_eq!((report.pending, report.sent), (0, 0));
    assert_eq!(
        stack.processed_by_user().await[&id.to_string()].len(),
        1,
        "processed once"
    );
}

#[tokio::test]
async fn a_batch_with_a_users_create_and_change_publishes_both_once_in_order() {
    let stack = spawn_stack().await;
    let (crm, id, created, changed) = created_and_renamed(&stack).await;
    let other = post_user(&crm, "Grace", None).await.1;
    let batch = [
        record(None, &created),
        record(Some(&created), &changed),
        record(None, &stack.item(other).await),
    ];

    let report = stack.relay().deliver_written(&batch, now_utc_millis()).await;
    // The change was written behind the pending create: the create's record takes the
    // create, and delivering it moves the change up.
    assert_eq!((report.pending, report.sent, report.failed), (2, 3, 0));
    assert!(!stack.users.has_pending(id).await.unwrap());
    assert_eq!(stack.drain_queue_into_processor().await, 3);
    let processed = stack.processed_by_user().await;
    // Applied in version order: a change applied first would have superseded the create.
    let mut records: Vec<(&str, &str)> = processed[&id.to_string()]
        .iter()
        .map(|r| {
            (
                r["Version"].as_n().unwrap().as_str(),
                r["Status"].as_s().unwrap().as_str(),
            )
        })
        .collect();
    records.sort_unstable();
    assert_eq!(records, [("1", "Processed"), ("2", "Processed")]);
    assert_eq!(processed[&other.to_string()].len(), 1);
}

#[tokio::test]
async fn an_event_the_stream_could_not_publish_stays_for_the_schedule() {
    let stack = spawn_stack().await;
    let (_, id) = post_user(&stack.crm_leaving_to_stream(), "Ada", None).await;
    let written = stack.item(id).await;
    let unreachable = stack.relay_to_unreachable_topic();

    let report = unreachable
        .deliver_written(&[record(None, &written)], now_utc_millis())
        .await;
    assert_eq!((report.pending, report.sent, report.failed), (1, 0, 1));
    assert!(stack.users.has_pending(id).await.unwrap(), "still pending");
    let swept = stack.run_relay().await;
    assert_eq!((swept.pending, swept.sent), (1, 1), "the schedule's run sends it");
    assert_eq!(stack.drain_queue_into_processor().await, 1);
}

#[tokio::test]
async fn a_batch_with_a_users_create_and_deletion_publishes_the_deletion_alone() {
    let stack = spawn_stack().await;
    let crm = stack.crm_leaving_to_stream();
    let (_, id) = post_user(&crm, "Ada", None).await;
    let created = stack.item(id).await;
    crm.crm.delete(id, None, "req-delete").await.expect("deleted");
    let deleted = stack.item(id).await;
    let batch = [record(None, &created), record(Some(&created), &deleted)];

    // The deletion replaced the pending create: the create, with the name and email, is
    // never published.
    let report = stack.relay().deliver_written(&batch, now_utc_millis()).await;
    assert_eq!(
        (report.pending, report.sent, report.failed, report.not_cleared),
        (1, 1, 0, 0)
    );
    assert!(!stack.users.has_pending(id).await.unwrap());
    assert_eq!(stack.drain_queue_into_processor().await, 1);
    let processed = stack.processed_by_user().await;
    let records = &processed[&id.to_string()];
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["EventType"].as_s().unwrap(), "UserDeleted");
}

#[tokio::test]
async fn a_stale_record_of_a_change_behind_a_delivered_event_sends_nothing_again() {
    let stack = spawn_stack().await;
    let (_, _, created, changed) = created_and_renamed(&stack).await;
    // The create's batch delivers the create, then the change it moved up.
    let first = stack
        .relay()
        .deliver_written(&[record(None, &created)], now_utc_millis())
        .await;
    assert_eq!(first.sent, 2);
    // The change's own record, in the next batch, still shows the create pending.
    let second = stack
        .relay()
        .deliver_written(&[record(Some(&created), &changed)], now_utc_millis())
        .await;
    assert_eq!((second.pending, second.sent), (0, 0), "nothing published twice");
    assert_eq!(stack.drain_queue_into_processor().await, 2);
}

#[tokio::test]
async fn a_repeated_keyed_create_writes_and_sends_nothing() {
    let stack = spawn_stack().await;
    let crm = stack.crm_leaving_to_stream();
    let (status, id) = post_user(&crm, "Ada", Some("key-1")).await;
    assert_eq!(status, 201);
    let written = stack.item(id).await;
    assert_eq!(post_user(&crm, "Ada", Some("key-1")).await, (201, id), "the same user");
    // The first request's event waits for its stream record; the repeat left no other.
    assert_eq!(stack.item(id).await, written, "the repeat wrote nothing");
    assert_eq!(
        stack.drain_queue_into_processor().await,
        0,
        "the repeat published nothing"
    );
    assert!(stack.users.has_pending(id).await.unwrap());
}
