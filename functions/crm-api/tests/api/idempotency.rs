use serde_json::json;

use crate::helpers::{send_to, spawn_app, ApiRequest, REQUEST_ID};

fn keyed(key: &str, name: &str) -> ApiRequest {
    ApiRequest::post_json("/api/crm", &json!({"name": name, "email": "ada@example.com"})).header("Idempotency-Key", key)
}

#[tokio::test]
async fn the_same_key_and_body_create_one_user_and_answer_the_same() {
    let app = spawn_app().await;
    let first = app.send(keyed("order-42", "Ada")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    for _ in 0..3 {
        let again = app.send(keyed("order-42", "Ada")).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.json(), first.json(), "same id, same createdAt");
        assert_eq!(again.header("location"), first.header("location"));
    }
    assert_eq!(app.stored_items().await.len(), 1);

    // Each repeat publishes the event again, with the same event id, for consumers that
    // missed it; the processor's idempotency makes the copies harmless.
    let events: Vec<serde_json::Value> = app
        .queued_messages()
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(events.len(), 4);
    assert!(events.windows(2).all(|w| w[0] == w[1]), "identical events: {events:?}");
}

#[tokio::test]
async fn different_keys_create_different_users() {
    let app = spawn_app().await;
    let a = app.send(keyed("key-a", "Ada")).await.json();
    let b = app.send(keyed("key-b", "Ada")).await.json();
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let ada = "arn:aws:iam::123456789012:user/ada";
    let ci = "arn:aws:sts::123456789012:assumed-role/deployer/ci";
    let by_ada = app.send(keyed("order-7", "Ada").caller(ada)).await;
    let by_ci = app.send(keyed("order-7", "Ada").caller(ci)).await;
    let unsigned = app.send(keyed("order-7", "Ada")).await;
    for res in [&by_ada, &by_ci, &unsigned] {
        assert_eq!(res.status, 201, "{}", res.body);
    }
    let ids: std::collections::HashSet<_> = [&by_ada, &by_ci, &unsigned]
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "one user per caller");
    let again = app.send(keyed("order-7", "Ada").caller(ada)).await;
    assert_eq!(again.json(), by_ada.json(), "a caller's repeat finds its own user");
    assert_eq!(app.stored_items().await.len(), 3);
}

#[tokio::test]
async fn a_repeat_sends_the_event_with_the_first_requests_correlation_id() {
    let app = spawn_app().await;
    let first = app.send(keyed("order-8", "Ada")).await;
    assert_eq!(first.status, 201);
    let mut repeat = keyed("order-8", "Ada");
    repeat.request_id = "d3bf1e2a-0000-4000-8000-000000000002".to_owned();
    assert_eq!(app.send(repeat).await.status, 201);
    let correlation: Vec<String> = app
        .queued_messages()
        .await
        .iter()
        .map(|m| {
            m.message_attributes().unwrap()["correlationId"]
                .string_value()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        correlation,
        [REQUEST_ID, REQUEST_ID],
        "the repeat's event is the first's"
    );
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422() {
    let app = spawn_app().await;
    assert_eq!(app.send(keyed("order-43", "Ada")).await.status, 201);
    let problem = app.send(keyed("order-43", "Grace")).await.problem(422);
    assert_eq!(problem["type"], "urn:problem-type:idempotency-key-reused");
    assert_eq!(app.stored_items().await.len(), 1);
    assert_eq!(app.queued_messages().await.len(), 1, "a conflict publishes nothing");
}

/// A repeat answers as its first request did only while nothing has changed: the table of
/// docs/api.md's "Idempotency-Key". No repeat sends an event of another payload.
#[tokio::test]
async fn a_repeat_after_a_change_or_deletion_is_refused() {
    let app = spawn_app().await;
    let first = app.send(keyed("order-45", "Ada")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let patch = ApiRequest::new("PATCH", &format!("/api/crm/{id}"))
        .header("content-type", "application/merge-patch+json")
        .body(json!({"name": "Grace"}).to_string());
    assert_eq!(app.send(patch).await.status, 200);
    for (name, case) in [("Grace", "the body of the user now"), ("Ada", "the first body")] {
        let problem = app.send(keyed("order-45", name)).await.problem(422);
        assert_eq!(problem["type"], "urn:problem-type:idempotency-key-reused", "{case}");
    }
    assert_eq!(
        app.send(ApiRequest::new("DELETE", &format!("/api/crm/{id}")))
            .await
            .status,
        204
    );
    let problem = app.send(keyed("order-45", "Ada")).await.problem(409);
    assert_eq!(problem["type"], "urn:problem-type:user-deleted");
    let types: Vec<String> = app
        .queued_messages()
        .await
        .iter()
        .map(|m| serde_json::from_str::<serde_json::Value>(m.body().unwrap()).unwrap()["eventType"].to_string())
        .collect();
    assert_eq!(
        types,
        [r#""UserCreated""#, r#""UserUpdated""#, r#""UserDeleted""#],
        "no repeat sent anything"
    );
}

#[tokio::test]
async fn an_invalid_key_is_400() {
    let app = spawn_app().await;
    for (key, case) in [
        ("", "empty"),
        (&*"k".repeat(256), "256 characters"),
        ("tab\there", "control character"),
        ("two words", "space: HTTP trims it at the ends, so a key is one word"),
    ] {
        let res = app.send(keyed(key, "Ada")).await;
        assert_eq!(res.problem_fields(), ["Idempotency-Key"], "{case}");
    }
    assert_eq!(
        app.send(keyed(&"k".repeat(255), "Ada")).await.status,
        201,
        "255 is fine"
    );
}

#[tokio::test]
async fn a_repeat_sends_a_pending_event_and_clears_it() {
    let app = spawn_app().await;
    let broken = app
        .with_topic_arn(&format!("{}-gone", app.config.events_topic_arn))
        .await;
    let first = send_to(&broken, keyed("order-44", "Ada")).await;
    assert_eq!(first.status, 201);
    let id = first.json()["id"].as_str().unwrap().parse().unwrap();
    assert!(app.app.users.has_pending(id).await.unwrap());
    assert!(app.queued_messages().await.is_empty(), "no event reached the queue");

    let retry = app.send(keyed("order-44", "Ada")).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.json(), first.json());
    let messages = app.queued_messages().await;
    assert_eq!(messages.len(), 1, "the retry sent the event");
    let event: serde_json::Value = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(event["user"]["id"], retry.json()["id"]);
    assert!(!app.app.users.has_pending(id).await.unwrap(), "and cleared its mark");
    assert_eq!(app.stored_items().await.len(), 1, "and created no second user");
}
