use serde_json::json;
use std::time::Duration;

use crate::helpers::{s, spawn_app, ApiRequest, REQUEST_ID};

#[tokio::test]
async fn creates_the_user_stores_it_and_publishes_its_event() {
    let app = spawn_app().await;
    let res = app
        .post_users(&json!({"name": "  Ada Lovelace ", "email": "Ada@Example.COM"}))
        .await;

    assert_eq!(res.status, 201, "{}", res.body);
    let body = res.json();
    let id = body["id"].as_str().unwrap();
    assert!(uuid::Uuid::try_parse(id).is_ok());
    assert_eq!(body["name"], "Ada Lovelace");
    assert_eq!(body["email"], "Ada@example.com", "domain lowercased, local part kept");
    let created_at = body["createdAt"].as_str().unwrap();
    assert!(time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339).is_ok());
    assert_eq!(res.header("location"), Some(&*format!("crm/{id}")));
    assert_eq!(body.as_object().unwrap().len(), 4, "no bookkeeping leaks: {body}");

    let items = app.stored_items().await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(s(item, "Id"), id);
    assert_eq!(s(item, "Name"), "Ada Lovelace");
    assert_eq!(s(item, "Email"), "Ada@example.com");
    assert_eq!(s(item, "CreatedAt"), created_at);
    let event_id = s(item, "EventId");

    let messages = app.queued_messages().await;
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    let event: serde_json::Value = serde_json::from_str(message.body().unwrap()).unwrap();
    assert_eq!(
        event,
        json!({"eventId": event_id, "eventType": "UserCreated", "timestamp": created_at, "version": 1,
               "user": {"id": id, "name": "Ada Lovelace", "email": "Ada@example.com"}})
    );
    let attrs = message.message_attributes().unwrap();
    assert_eq!(attrs["eventType"].string_value(), Some("UserCreated"));
    assert_eq!(attrs["eventType"].data_type(), "String");
    assert_eq!(
        attrs["correlationId"].string_value(),
        Some(REQUEST_ID),
        "API Gateway's request id"
    );
}

#[tokio::test]
async fn an_id_in_the_body_is_ignored() {
    let app = spawn_app().await;
    let chosen = "11111111-1111-1111-1111-111111111111";
    let res = app
        .post_users(&json!({"id": chosen, "name": "Ada", "email": "ada@example.com"}))
        .await;
    assert_eq!(res.status, 201);
    assert_ne!(res.json()["id"], chosen);
}

#[tokio::test]
async fn lists_every_invalid_field_at_once() {
    let app = spawn_app().await;
    let long_name = "a".repeat(201);
    let long_email = format!("{}@example.com", "a".repeat(250));
    for (body, fields, case) in [
        (json!({}), vec!["name", "email"], "empty object"),
        (json!({"name": null, "email": null}), vec!["name", "email"], "nulls"),
        (
            json!({"name": " ", "email": "ada@example.com"}),
            vec!["name"],
            "blank name",
        ),
        (
            json!({"name": long_name, "email": "ada@example.com"}),
            vec!["name"],
            "name over 200",
        ),
        (
            json!({"name": "Ada\u{0000}", "email": "ada@example.com"}),
            vec!["name"],
            "control character",
        ),
        (
            json!({"name": "Ada", "email": "not-an-email"}),
            vec!["email"],
            "email syntax",
        ),
        (
            json!({"name": "Ada", "email": long_email}),
            vec!["email"],
            "email over 254",
        ),
        (
            json!({"name": 42, "email": ["a@b.co"]}),
            vec!["name", "email"],
            "wrong types",
        ),
        (json!({"name": "", "email": ""}), vec!["name", "email"], "both blank"),
    ] {
        let res = app.post_users(&body).await;
        assert_eq!(res.problem_fields(), fields, "{case}");
        let problem = res.json();
        assert_eq!(problem["type"], "urn:problem-type:validation-error", "{case}");
        assert!(!res.body.contains("a@b.co"), "{case}: values are not echoed");
    }
    assert!(app.stored_items().await.is_empty(), "nothing stored for invalid input");
    assert!(
        app.queued_messages().await.is_empty(),
        "nothing published for invalid input"
    );
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let app = spawn_app().await;
    for (body, case) in [
        ("{\"name\": ", "truncated"),
        ("not json", "not json"),
        ("[1, 2]", "array"),
        ("\"Ada\"", "string"),
        ("", "empty"),
    ] {
        let res = app
            .send(
                ApiRequest::new("POST", "/api/crm")
                    .header("Content-Type", "application/json")
                    .body(body),
            )
            .await;
        let problem = res.problem(400);
        assert!(
            problem["detail"].as_str().unwrap().len() > 5,
            "{case}: says what is wrong"
        );
    }
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let app = spawn_app().await;
    let big = json!({"name": "a".repeat(16 * 1024), "email": "ada@example.com"});
    app.post_users(&big).await.problem(413);
    let just_fits = json!({"name": "Ada", "email": "ada@example.com", "pad": "x".repeat(16 * 1024 - 60)});
    assert_eq!(app.post_users(&just_fits).await.status, 201);
}

#[tokio::test]
async fn a_content_type_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let body = json!({"name": "Ada", "email": "ada@example.com"}).to_string();
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut req = ApiRequest::new("POST", "/api/crm").body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        app.send(req).await.problem(415);
    }
    let res = app
        .send(
            ApiRequest::new("POST", "/api/crm")
                .header("Content-Type", "application/json; charset=utf-8")
                .body(body),
        )
        .await;
    assert_eq!(res.status, 201, "parameters are fine");
}

#[tokio::test]
async fn a_failed_send_still_answers_201_and_leaves_the_event_pending() {
    let app = spawn_app().await;
    let broken = app
        .with_topic_arn(&format!("{}-gone", app.config.events_topic_arn))
        .await;
    let res = crate::helpers::send_to(
        &broken,
        ApiRequest::post_json("/api/crm", &json!({"name": "Ada", "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["id"].as_str().unwrap().parse().unwrap();
    assert!(
        app.app.users.has_pending(id).await.unwrap(),
        "durably pending for the relay"
    );

    let items = app.stored_items().await;
    let event: serde_json::Value = serde_json::from_str(&s(&items[0], "OutboxEvent")).unwrap();
    assert_eq!(event["eventId"], s(&items[0], "EventId"));
    assert_eq!(s(&items[0], "OutboxCorrelationId"), REQUEST_ID);

    // Relay bookkeeping never shows through the API.
    for path in [format!("/api/crm/{id}"), "/api/crm".to_owned()] {
        let shown = app.get(&path).await.body;
        assert!(!shown.contains("Outbox") && !shown.contains("utbox"), "{path}: {shown}");
    }
}

#[tokio::test]
async fn a_sent_event_leaves_no_pending_mark() {
    let app = spawn_app().await;
    let res = app
        .post_users(&json!({"name": "Ada", "email": "ada@example.com"}))
        .await;
    let id = res.json()["id"].as_str().unwrap().parse().unwrap();
    assert!(!app.app.users.has_pending(id).await.unwrap());
    let item = &app.stored_items().await[0];
    assert!(item.keys().all(|k| !k.starts_with("Outbox")), "{item:?}");
}

#[tokio::test]
async fn an_unavailable_store_is_503_without_internal_detail() {
    let app = spawn_app().await;
    let config = crm_api::config::CrmApiConfig {
        users_table: "no-such-table".to_owned(),
        ..app.config.clone()
    };
    let broken = crm_api::App::new(&test_support::emulator().sdk_config().await, &config);
    for req in [
        ApiRequest::post_json("/api/crm", &json!({"name": "Ada", "email": "ada@example.com"})),
        ApiRequest::new("GET", "/api/crm"),
        ApiRequest::new("GET", "/api/crm/00000000-0000-4000-8000-000000000000"),
    ] {
        let problem = crate::helpers::send_to(&broken, req).await.problem(503);
        let text = problem.to_string();
        for leak in ["no-such-table", "ResourceNotFound", "DynamoDB", "dispatch"] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
    }
    assert!(
        app.queued_messages().await.is_empty(),
        "no event for a user that was not stored"
    );
}

/// A queue that accepts connections and never answers costs a `POST` the SDK's timeouts, not
/// the function's: the user is created (201) with its event left in the outbox for the relay.
/// A table that hangs the same way is a 503. Either answer comes long before API Gateway's
/// 29 s; without timeouts neither would ever come.
#[tokio::test]
async fn a_hanging_service_ends_in_an_answer() {
    let app = spawn_app().await;
    let hanging = test_support::sdk_config_for(&test_support::hanging_endpoint())
        .await
        .into_builder()
        .timeout_config(user_sync::aws::timeouts())
        .build();
    let hung_queue = crm_api::App {
        crm: user_sync::crm::Crm::new(
            user_sync::outbox::Outbox::new(
                app.app.users.clone(),
                user_sync::events::EventPublisher::new(
                    aws_sdk_sns::Client::new(&hanging),
                    &app.config.events_topic_arn,
                ),
            ),
            user_sync::crm::Delivery::Writer,
        ),
        ..app.app.clone()
    };
    let body = json!({"name": "Ada", "email": "ada@example.com"});
    let answer = ApiRequest::post_json("/api/crm", &body);
    let res = tokio::time::timeout(Duration::from_secs(25), crate::helpers::send_to(&hung_queue, answer))
        .await
        .expect("an answer despite the hanging queue");
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.json()["id"].as_str().unwrap().parse().unwrap();
    assert!(
        app.app.users.has_pending(id).await.unwrap(),
        "the event waits for the relay"
    );

    let hung_table = crm_api::App::new(&hanging, &app.config);
    let answer = ApiRequest::post_json("/api/crm", &body);
    let res = tokio::time::timeout(Duration::from_secs(25), crate::helpers::send_to(&hung_table, answer))
        .await
        .expect("an answer despite the hanging table");
    res.problem(503);
}

/// A client resolves `Location` against the URL it requested (RFC 3986 §5), whatever prefix
/// that URL had: API Gateway's stage, a custom domain's base path, or none (a function URL).
#[tokio::test]
async fn location_resolves_to_the_user_behind_any_prefix() {
    let app = spawn_app().await;
    let body = json!({"name": "Ada", "email": "ada@example.com"});
    let through_gateway = ApiRequest::post_json("/api/crm", &body);
    for (requested, req) in [
        (
            "https://a1b2c3.execute-api.us-east-1.amazonaws.com/prod/api/crm",
            through_gateway.clone(),
        ),
        (
            "http://127.0.0.1:4566/restapis/a1b2c3/prod/_user_request_/api/crm",
            through_gateway.clone(),
        ),
        ("https://crm.example.com/v1/api/crm", through_gateway.clone()),
        (
            "https://crm.example.com/v1/api/crm/",
            ApiRequest::post_json("/api/crm/", &body),
        ),
        (
            "http://127.0.0.1:9000/api/crm",
            through_gateway.clone().via_function_url(),
        ),
    ] {
        let res = app.send(req).await;
        assert_eq!(res.status, 201, "{}", res.body);
        let id = res.json()["id"].as_str().unwrap().to_owned();
        let base = url::Url::parse(requested).unwrap();
        let resolved = base.join(res.header("location").unwrap()).unwrap();
        let collection = requested.trim_end_matches('/');
        assert_eq!(resolved.as_str(), format!("{collection}/{id}"), "from {requested}");
    }
}
