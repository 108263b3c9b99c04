//! `ops::redrive` against a real SQS API (the emulator): listing takes nothing, a move
//! takes only what was chosen, and a failed send deletes nothing.

use std::collections::HashSet;

use aws_sdk_sqs::Client;
use ops::redrive::{self, Selection};
use test_support::{create_queue, emulator};

fn event(id: &str, user: &str) -> String {
    serde_json::json!({"eventId": id, "eventType": "UserCreated", "timestamp": "2026-12-01T12:00:00Z",
        "user": {"id": user, "name": "Ada Lovelace", "email": "ada@example.com"}})
    .to_string()
}

async fn send(sqs: &Client, queue: &str, body: &str) {
    sqs.send_message()
        .queue_url(queue)
        .message_body(body)
        .send()
        .await
        .unwrap();
}

/// Every body in the queue, received with no visibility timeout (so nothing is held).
async fn bodies(sqs: &Client, queue: &str) -> Vec<String> {
    let mut all = HashSet::new();
    for _ in 0..3 {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        all.extend(out.messages.unwrap_or_default().into_iter().filter_map(|m| m.body));
    }
    let mut all: Vec<String> = all.into_iter().collect();
    all.sort();
    all
}

async fn queues() -> (Client, String, String) {
    let sqs = Client::new(&emulator().sdk_config().await);
    let dlq = create_queue(&sqs, "dead-letters").await;
    let events = create_queue(&sqs, "events").await;
    (sqs, dlq, events)
}

#[tokio::test]
async fn lists_ids_only_and_leaves_every_message_in_place() {
    let (sqs, dlq, _) = queues().await;
    send(&sqs, &dlq, &event("evt-1", "user-1")).await;
    send(&sqs, &dlq, "not json").await;

    let mut letters = redrive::list(&sqs, &dlq).await.unwrap();
    letters.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].event_id, None, "the poison message");
    assert_eq!(letters[1].event_id.as_deref(), Some("evt-1"));
    assert_eq!(letters[1].event_type.as_deref(), Some("UserCreated"));
    assert_eq!(letters[1].user_id.as_deref(), Some("user-1"));
    assert!(letters.iter().all(|l| l.receive_count >= 1));
    assert!(
        !format!("{letters:?}").contains("ada@example.com"),
        "no email in what is listed"
    );
    assert_eq!(
        bodies(&sqs, &dlq).await.len(),
        2,
        "listing released every message at once"
    );
}

#[tokio::test]
async fn moves_the_chosen_messages_then_all() {
    let (sqs, dlq, events) = queues().await;
    for (id, user) in [("evt-a", "user-a"), ("evt-b", "user-b"), ("evt-c", "user-c")] {
        send(&sqs, &dlq, &event(id, user)).await;
    }

    let chosen = Selection::Ids(HashSet::from(["evt-b".to_owned()]));
    let mut progress = 0;
    let moved = redrive::redrive(&sqs, &dlq, &events, &chosen, |_| progress += 1)
        .await
        .unwrap();
    assert_eq!(
        moved.iter().map(|l| l.event_id.as_deref()).collect::<Vec<_>>(),
        [Some("evt-b")]
    );
    assert_eq!(progress, 1);
    assert_eq!(
        bodies(&sqs, &events).await,
        [event("evt-b", "user-b")],
        "the body, unchanged"
    );
    assert_eq!(
        bodies(&sqs, &dlq).await.len(),
        2,
        "the others are back, visible at once"
    );

    let moved = redrive::redrive(&sqs, &dlq, &events, &Selection::All, |_| {})
        .await
        .unwrap();
    assert_eq!(moved.len(), 2);
    assert!(bodies(&sqs, &dlq).await.is_empty());
    assert_eq!(bodies(&sqs, &events).await.len(), 3);
}

#[tokio::test]
async fn a_failed_send_deletes_nothing() {
    let (sqs, dlq, events) = queues().await;
    send(&sqs, &dlq, &event("evt-x", "user-x")).await;
    let gone = format!("{events}-does-not-exist");

    let error = redrive::redrive(&sqs, &dlq, &gone, &Selection::All, |_| {})
        .await
        .unwrap_err();
    assert!(error.contains("send"), "{error}");
    assert_eq!(
        bodies(&sqs, &dlq).await,
        [event("evt-x", "user-x")],
        "still in the dead-letter queue, visible at once"
    );
}
