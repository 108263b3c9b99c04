//! A record the invocation has no time left for goes back to the queue, counted, a few
//! times; then it fails like any other, so its receives count toward the dead-letter queue.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::helpers::{event, failed_ids, spawn_app_with, sqs_event, TestApp};

/// A deadline this close leaves no ERP budget: `RESERVE` (2 s) is kept back from it.
fn deadline_in(left: Duration) -> u64 {
    (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + left).as_millis() as u64
}

async fn app_with_queue() -> (TestApp, aws_sdk_sqs::Client, String) {
    let aws = test_support::emulator().sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue = test_support::create_queue(&sqs, "events").await;
    let url = queue.clone();
    let app = spawn_app_with(move |config| config.events_queue_url = Some(url)).await;
    (app, sqs, queue)
}

/// One record, carrying `deferrals` in `noTimeDeferrals` when given.
fn batch(message_id: &str, body: &Value, deferrals: Option<u32>) -> Value {
    let mut batch = sqs_event(&[(message_id, Some(body.to_string()))]);
    if let Some(n) = deferrals {
        batch["Records"][0]["messageAttributes"]["noTimeDeferrals"] =
            json!({"stringValue": n.to_string(), "stringListValues": [], "binaryListValues": [], "dataType": "Number"});
    }
    batch
}

async fn receive(sqs: &aws_sdk_sqs::Client, queue: &str, wait_seconds: i32) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(queue)
        .message_attribute_names("All")
        .wait_time_seconds(wait_seconds)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default()
}

#[tokio::test]
async fn a_record_with_no_time_for_its_erp_call_goes_back_counted_and_delayed() {
    let (app, sqs, queue) = app_with_queue().await;
    let user_id = test_support::unique("user");
    let body = event(&test_support::unique("event"), &user_id);
    let answer = app
        .invoke_until(batch("m-1", &body, None), deadline_in(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(failed_ids(&answer).is_empty(), "acknowledged, not failed: {answer}");
    assert!(app.stored_items().await.is_empty(), "nothing processed");
    assert!(receive(&sqs, &queue, 0).await.is_empty(), "the copy is delayed");

    let copies = receive(&sqs, &queue, 10).await;
    let copy = &copies[0];
    assert_eq!(serde_json::from_str::<Value>(copy.body().unwrap()).unwrap(), body);
    let attributes = copy.message_attributes().unwrap();
    assert_eq!(attributes["correlationId"].string_value(), Some("corr-m-1"));
    assert_eq!(attributes["noTimeDeferrals"].string_value(), Some("1"));
    assert_eq!(attributes["noTimeDeferrals"].data_type(), "Number");

    // The lease was released: the copy, with time, is applied at once.
    let answer = app.invoke(batch("m-1-copy", &body, Some(1))).await.unwrap();
    assert!(failed_ids(&answer).is_empty(), "{answer}");
    assert_eq!(app.stored_items().await.len(), 1, "processed once");
}

#[tokio::test]
async fn a_record_that_went_back_four_times_for_want_of_time_fails_instead() {
    let (app, sqs, queue) = app_with_queue().await;
    let body = event(&test_support::unique("event"), &test_support::unique("user"));

    let answer = app
        .invoke_until(batch("m-3", &body, Some(3)), deadline_in(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(failed_ids(&answer).is_empty(), "the fourth time it goes back");
    let copies = receive(&sqs, &queue, 15).await;
    assert_eq!(
        copies[0].message_attributes().unwrap()["noTimeDeferrals"].string_value(),
        Some("4")
    );

    let answer = app
        .invoke_until(batch("m-4", &body, Some(4)), deadline_in(Duration::from_secs(1)))
        .await
        .unwrap();
    assert_eq!(failed_ids(&answer), ["m-4"], "failed: SQS counts the receive");
    assert!(receive(&sqs, &queue, 1).await.is_empty(), "not sent again");
    assert!(app.stored_items().await.is_empty());
}
