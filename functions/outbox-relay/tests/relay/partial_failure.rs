//! SNS accepting some entries of a batch and refusing others: no emulator does that, so the
//! topic is mocked here (`aws-smithy-mocks`) while DynamoDB stays real.

use std::time::Duration;

use aws_sdk_sns::operation::publish_batch::PublishBatchOutput;
use aws_sdk_sns::types::{BatchResultErrorEntry, PublishBatchResultEntry};
use aws_smithy_mocks::{mock, mock_client};
use outbox_relay::Relay;
use user_sync::events::{now_utc_millis, EventPublisher};

use crate::helpers::{post_user, spawn_stack};

#[tokio::test]
async fn only_the_entries_sns_accepted_are_cleared() {
    let stack = spawn_stack().await;
    let crm = stack.crm_without_queue().await;
    let mut users = Vec::new();
    for name in ["Ada", "Grace", "Edsger"] {
        users.push(post_user(&crm, name, None).await.1);
        // Distinct timestamps, so the relay's oldest-first order is the creation order.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let accepted = |id: &str| {
        PublishBatchResultEntry::builder()
            .id(id)
            .message_id(format!("msg-{id}"))
            .build()
    };
    let rule = mock!(aws_sdk_sns::Client::publish_batch).then_output(move || {
        PublishBatchOutput::builder()
            .successful(accepted("0"))
            .successful(accepted("2"))
            .failed(
                BatchResultErrorEntry::builder()
                    .id("1")
                    .code("InternalError")
                    .sender_fault(false)
                    .build()
                    .unwrap(),
            )
            .build()
    });
    let sns = mock_client!(aws_sdk_sns, [&rule]);
    let relay = Relay::new(
        stack.users.clone(),
        EventPublisher::new(sns, "arn:aws:sns:us-east-1:000000000000:invalid"),
        Duration::ZERO,
        1000,
    );

    let report = relay.run(now_utc_millis()).await.unwrap();
    assert_eq!((report.pending, report.sent, report.failed), (3, 2, 1));
    assert_eq!(rule.num_calls(), 1, "one batch call for three events");
    assert!(!stack.users.has_pending(users[0]).await.unwrap());
    assert!(
        stack.users.has_pending(users[1]).await.unwrap(),
        "the refused event stays pending"
    );
    assert!(!stack.users.has_pending(users[2]).await.unwrap());

    // The next run, with the real topic, delivers the refused one.
    let retry = stack.run_relay().await;
    assert_eq!((retry.pending, retry.sent), (1, 1));
    assert!(!stack.users.has_pending(users[1]).await.unwrap());
}
