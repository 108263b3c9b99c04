use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;

use crate::helpers::{event, failed_ids, fixture, s, spawn_app, spawn_app_with, spawn_app_without_table};

/// What our audit records hold beyond the original's attributes.
const OURS: [&str; 5] = ["EventTimestamp", "ErpRecordId", "ErpSystem", "PayloadHash", "Version"];

#[tokio::test]
async fn a_mixed_batch_reports_exactly_the_bad_records() {
    let app = spawn_app().await;
    let earlier = event("evt-earlier", "0a1b2c3d-earlier").to_string();
    assert!(app.send_batch(&[("m-earlier", Some(earlier.clone()))]).await.is_empty());
    let first_record = app.stored_items().await["evt-earlier"].clone();

    let mut unknown_type = event("evt-unknown-type", "0a1b2c3d-unknown");
    unknown_type["eventType"] = json!("UserRenamed");
    let mut no_user = event("evt-no-user", "0a1b2c3d-no-user");
    no_user.as_object_mut().unwrap().remove("user");
    // DynamoDB could not key it: a permanent failure (the DLQ), never a "transient" one.
    let huge_id = event(&"e".repeat(3000), "0a1b2c3d-huge");
    // The id of evt-earlier, another user: not a redelivery, so never a success.
    let reused_id = event("evt-earlier", "0a1b2c3d-someone-else");
    let failed = app
        .send_batch(&[
            ("m-valid-1", Some(event("evt-1", "11111111-aaaa").to_string())),
            ("m-malformed", Some(r#"{"eventId": "evt-x", "user": "#.to_owned())),
            ("m-unknown-type", Some(unknown_type.to_string())),
            ("m-valid-2", Some(event("evt-2", "22222222-bbbb").to_string())),
            ("m-duplicate", Some(event("evt-1", "11111111-aaaa").to_string())),
            ("m-redelivery", Some(earlier)),
            ("m-null-body", None),
            ("m-no-user", Some(no_user.to_string())),
            ("m-huge-id", Some(huge_id.to_string())),
            ("m-reused-id", Some(reused_id.to_string())),
        ])
        .await;

    assert_eq!(
        failed,
        [
            "m-malformed",
            "m-unknown-type",
            "m-null-body",
            "m-no-user",
            "m-huge-id",
            "m-reused-id"
        ]
    );
    let items = app.stored_items().await;
    assert_eq!(
        items.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["evt-1", "evt-2", "evt-earlier"])
    );
    // A redelivery changes nothing but its count on the first record.
    let mut redelivered = items["evt-earlier"].clone();
    assert_eq!(
        redelivered.remove("Duplicates"),
        Some(AttributeValue::N("1".to_owned()))
    );
    assert!(redelivered.remove("LastDuplicateAt").is_some());
    assert_eq!(redelivered, first_record, "a redelivery changes nothing else");
    let item = &items["evt-1"];
    // m-duplicate, a copy in the same batch, counts on the record.
    let counted = ["Duplicates", "LastDuplicateAt"];
    assert_eq!(
        item.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from_iter(
            test_support::ORIGINAL_AUDIT_ATTRIBUTES
                .into_iter()
                .chain(OURS)
                .chain(counted)
        )
    );
    for (attr, value) in [
        ("UserId", "11111111-aaaa"),
        ("UserName", "Grace Hopper"),
        ("UserEmail", "grace.hopper@example.com"),
        ("EventType", "UserCreated"),
        ("Status", "Processed"),
        ("EventTimestamp", "2026-03-02T09:15:27.418Z"),
        ("ErpRecordId", "EMP-11111111"),
        ("ErpSystem", "OracleFusion"),
    ] {
        assert_eq!(s(item, attr), value, "{attr}");
    }
    assert!(
        time::OffsetDateTime::parse(&s(item, "ProcessedAt"), &time::format_description::well_known::Rfc3339).is_ok()
    );
}

#[tokio::test]
async fn the_fixture_batch_is_stored() {
    let app = spawn_app_with(|c| c.erp_system = "PeopleSoft".to_owned()).await;
    let answer = app.invoke(fixture("sqs-event.json")).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let items = app.stored_items().await;
    assert_eq!(items.len(), 2);
    let item = &items["8d0f5a31-6c2b-4f7e-a9d4-3e1b7c5f2a96"];
    assert_eq!(s(item, "UserId"), "c3e8a1f4-7b2d-4a96-8e5c-1f9d3b6a2e47");
    assert_eq!(s(item, "ErpRecordId"), "EMP-c3e8a1f4");
    assert_eq!(s(item, "ErpSystem"), "PeopleSoft");
}

#[tokio::test]
async fn a_batch_of_100_is_processed_concurrently_within_the_bound() {
    let latency = Duration::from_millis(100);
    let app = spawn_app_with(|c| {
        c.batch_concurrency = 25;
        c.erp = erp_processor::config::ErpConnector::Simulated { latency };
    })
    .await;
    let records: Vec<(String, Option<String>)> = (0..100)
        .map(|i| {
            (
                format!("m-{i:03}"),
                Some(event(&format!("evt-{i:03}"), &format!("user-{i:03}")).to_string()),
            )
        })
        .collect();
    let records: Vec<(&str, Option<String>)> = records.iter().map(|(id, body)| (id.as_str(), body.clone())).collect();

    let started = Instant::now();
    let failed = app.send_batch(&records).await;
    let elapsed = started.elapsed();

    assert_eq!(failed, Vec::<String>::new());
    assert_eq!(app.stored_items().await.len(), 100);
    // At most 25 at a time: four rounds of the simulated ERP latency at the least...
    assert!(elapsed >= latency * 4, "{elapsed:?}");
    // ...and far from one at a time, which would sleep 10 s (a wide margin: this proves
    // concurrency, it is no speed target).
    assert!(elapsed < latency * 80, "{elapsed:?}");
}

#[tokio::test]
async fn a_missing_table_fails_every_record() {
    let app = spawn_app_without_table().await;
    let answer = app.invoke(fixture("sqs-event.json")).await.unwrap();
    assert_eq!(
        failed_ids(&answer),
        [
            "4b9c7a2e-1f3d-4e8a-9b6c-2d5e8f1a3c70",
            "9e1d3c5b-7a2f-4b8e-8c6d-0f4a2e9b1d53"
        ]
    );
}

/// A batch still at work when its invocation's deadline nears answers with what it
/// finished: the record done at once is acknowledged, the one whose ERP call is still under
/// way is reported failed with the bad one, and the answer comes before the deadline
/// rather than a timeout that would have SQS retry all three.
#[tokio::test]
async fn a_batch_near_its_deadline_answers_with_what_it_finished() {
    let fast = spawn_app().await;
    let done = event("evt-done", "0a1b2c3d-done").to_string();
    assert!(fast.send_batch(&[("m-first", Some(done.clone()))]).await.is_empty());
    let (processed, employees) = (fast.config.processed_table.clone(), fast.config.employees_table.clone());
    let slow = spawn_app_with(move |config| {
        config.processed_table = processed;
        config.employees_table = employees;
        config.erp = erp_processor::config::ErpConnector::Simulated {
            latency: Duration::from_secs(30),
        };
    })
    .await;

    let batch = crate::helpers::sqs_event(&[
        ("m-again", Some(done)),
        ("m-slow", Some(event("evt-slow", "0a1b2c3d-slow").to_string())),
        ("m-bad", Some("not an event".to_owned())),
    ]);
    let started = Instant::now();
    let deadline = std::time::SystemTime::now() + Duration::from_secs(3);
    let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let answer = slow.invoke_until(batch, deadline_ms).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(failed_ids(&answer), ["m-slow", "m-bad"]);
    assert!(
        elapsed < Duration::from_secs(3),
        "answered before the deadline: {elapsed:?}"
    );
    assert!(
        !slow.stored_items().await.contains_key("evt-slow"),
        "the unfinished record is left for its redelivery"
    );
}
