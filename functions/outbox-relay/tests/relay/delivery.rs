use std::time::Duration;

use outbox_relay::Relay;
use user_sync::domain::{EmailAddress, NewUser, User, UserName};
use user_sync::events::{now_utc_millis, EventEnvelope};
use user_sync::store::PendingEvent;
use uuid::Uuid;

use crate::helpers::{post_user, rename_user, spawn_stack};

#[tokio::test]
async fn an_event_the_api_could_not_send_is_delivered_by_the_next_run_exactly_once() {
    let stack = spawn_stack().await;
    let crm = stack.crm_without_queue().await;
    let (status, user_id) = post_user(&crm, "Ada", None).await;
    assert_eq!(status, 201, "the user is created although the queue is unreachable");
    assert!(stack.users.has_pending(user_id).await.unwrap());
    assert_eq!(stack.drain_queue_into_processor().await, 0, "nothing reached the queue");

    let report = stack.run_relay().await;
    assert_eq!((report.pending, report.sent, report.failed), (1, 1, 0));
    assert!(!stack.users.has_pending(user_id).await.unwrap(), "cleared once sent");
    assert_eq!(stack.drain_queue_into_processor().await, 1);

    let again = stack.run_relay().await;
    assert_eq!((again.pending, again.sent), (0, 0), "nothing left to relay");
    let processed = stack.processed_by_user().await;
    assert_eq!(processed.len(), 1);
    assert_eq!(processed[&user_id.to_string()].len(), 1, "exactly one record");
}

#[tokio::test]
async fn a_write_whose_send_never_happened_is_delivered() {
    let stack = spawn_stack().await;
    // The function died after its write: only the write step ran.
    let new = NewUser {
        name: UserName::parse("Ada").unwrap(),
        email: EmailAddress::parse("ada@example.com").unwrap(),
    };
    let user = User::new(Uuid::new_v4(), new, now_utc_millis(), Uuid::new_v4());
    stack
        .users
        .insert(&user, &PendingEvent::new(EventEnvelope::user_created(&user), "req-1"))
        .await
        .unwrap();

    assert_eq!(stack.run_relay().await.sent, 1);
    assert_eq!(stack.drain_queue_into_processor().await, 1);
    let processed = stack.processed_by_user().await;
    let records = &processed[&user.id.to_string()];
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0]["EventId"].as_s().unwrap(),
        &user.event_id.to_string(),
        "the original event id"
    );
}

#[tokio::test]
async fn events_younger_than_the_grace_period_wait_for_a_later_run() {
    let stack = spawn_stack().await;
    let (_, user_id) = post_user(&stack.crm_without_queue().await, "Ada", None).await;
    let patient = Relay::new(stack.users.clone(), stack.publisher(), Duration::from_secs(30), 1000);

    let report = patient.run(now_utc_millis()).await.unwrap();
    assert_eq!((report.pending, report.sent), (0, 0));
    assert!(stack.users.has_pending(user_id).await.unwrap());

    let later = patient.run(now_utc_millis() + Duration::from_secs(31)).await.unwrap();
    assert_eq!(later.sent, 1);
    assert!(later.oldest_pending_age_seconds >= 31.0, "{later:?}");
}

#[tokio::test]
async fn many_pending_events_go_out_in_batches_and_a_run_is_bounded() {
    let stack = spawn_stack().await;
    let crm = stack.crm_without_queue().await;
    let mut users = Vec::new();
    for i in 0..25 {
        users.push(post_user(&crm, &format!("User {i}"), None).await.1);
    }

    let bounded = Relay::new(stack.users.clone(), stack.publisher(), Duration::ZERO, 12);
    let first = bounded.run(now_utc_millis()).await.unwrap();
    assert_eq!((first.pending, first.sent, first.failed), (12, 12, 0));
    let second = stack.run_relay().await;
    assert_eq!((second.pending, second.sent), (13, 13));

    assert_eq!(stack.drain_queue_into_processor().await, 25);
    let processed = stack.processed_by_user().await;
    for user in &users {
        assert_eq!(processed[&user.to_string()].len(), 1, "{user}");
        assert!(!stack.users.has_pending(*user).await.unwrap());
    }
}

#[tokio::test]
async fn an_unreachable_queue_leaves_every_event_pending() {
    let stack = spawn_stack().await;
    let crm = stack.crm_without_queue().await;
    let (_, a) = post_user(&crm, "Ada", None).await;
    let (_, b) = post_user(&crm, "Grace", None).await;
    let dead = user_sync::events::EventPublisher::new(
        stack.sns.clone(),
        format!("{}-unreachable", stack.crm_config.events_topic_arn),
    );
    let report = Relay::new(stack.users.clone(), dead, Duration::ZERO, 1000)
        .run(now_utc_millis())
        .await
        .unwrap();
    assert_eq!((report.pending, report.sent, report.failed), (2, 0, 2));
    assert!(stack.users.has_pending(a).await.unwrap() && stack.users.has_pending(b).await.unwrap());
}

#[tokio::test]
async fn a_users_pending_events_go_out_in_version_order_in_one_run() {
    let stack = spawn_stack().await;
    let crm = stack.crm_without_queue().await;
    let (_, user_id) = post_user(&crm, "Ada", None).await;
    for name in ["Ada B", "Ada C"] {
        assert_eq!(rename_user(&crm, user_id, name).await, 200);
    }
    let report = stack.run_relay().await;
    // The two renames collapsed into the newest, which carries the whole state.
    assert_eq!(
        (report.pending, report.sent, report.failed, report.not_cleared),
        (1, 2, 0, 0)
    );
    assert!(!stack.users.has_pending(user_id).await.unwrap());

    let out = stack
        .sqs
        .receive_message()
        .queue_url(&stack.queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let mut sent: Vec<(u64, String)> = out
        .messages()
        .iter()
        .map(|m| {
            let event: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
            (
                event["version"].as_u64().unwrap(),
                event["eventType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    sent.sort();
    assert_eq!(sent, [(1, "UserCreated".to_owned()), (3, "UserUpdated".to_owned())]);
    assert_eq!(stack.drain_queue_into_processor().await, 2);
    let records = &stack.processed_by_user().await[&user_id.to_string()];
    let statuses: Vec<String> = records.iter().map(|r| test_support::s(r, "Status")).collect();
    assert_eq!(statuses, ["Processed"; 2], "sent in order, so none was superseded");
}
