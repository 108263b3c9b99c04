use base64::Engine;
use erp_processor::trigger::http::MAX_BODY_BYTES;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::helpers::{api_request, event, fixture, s, spawn_app, spawn_app_without_table};

#[tokio::test]
async fn the_originals_example_event_is_processed() {
    let app = spawn_app().await;
    let res = app.send(fixture("apigw-post-events.json")).await;

    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/json"));
    let body = res.json();
    assert_eq!(body["message"], "Event processed successfully");
    assert_eq!(body["eventId"], "evt-001");
    assert_eq!(body["userId"], "user-123");
    let processed_at = body["processedAt"].as_str().expect("processedAt");
    assert!(OffsetDateTime::parse(processed_at, &Rfc3339).is_ok(), "{processed_at}");
    assert_eq!(body["outcome"], "applied");
    assert_eq!(body.as_object().unwrap().len(), 5);

    let items = app.stored_items().await;
    let item = &items["evt-001"];
    assert_eq!(s(item, "ProcessedAt"), processed_at);
    assert_eq!(s(item, "EventTimestamp"), "2025-10-16T12:34:56.1234567Z");
    assert_eq!(s(item, "ErpRecordId"), "EMP-user-123");
    assert_eq!(s(item, "UserName"), "Ada Lovelace");
}

#[tokio::test]
async fn a_repeat_answers_with_the_first_processed_at() {
    let app = spawn_app().await;
    let body = event("evt-repeat", "user-repeat").to_string();
    let first = app.post_events(&body).await;
    let again = app.post_events(&body).await;

    assert_eq!((first.status, again.status), (200, 200));
    assert_eq!(again.json()["processedAt"], first.json()["processedAt"]);
    assert_eq!(app.stored_items().await.len(), 1);
}

#[tokio::test]
async fn the_same_event_id_with_another_payload_is_a_409_never_a_200() {
    let app = spawn_app().await;
    let first = app.post_events(&event("evt-taken", "user-first").to_string()).await;
    assert_eq!(first.status, 200);
    let res = app.post_events(&event("evt-taken", "user-second").to_string()).await;
    let problem = res.problem(409);
    assert_eq!(problem["type"], "urn:problem-type:event-id-conflict");
    assert!(
        !res.body.contains("user-first"),
        "a problem never quotes the stored record"
    );
    assert_eq!(s(&app.stored_items().await["evt-taken"], "UserId"), "user-first");
}

#[tokio::test]
async fn a_body_not_sent_as_json_is_a_415() {
    let app = spawn_app().await;
    let body = event("evt-form", "user-form").to_string();
    for content_type in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
        let mut request = api_request("POST", "/events", Some(&body));
        for headers in ["headers", "multiValueHeaders"] {
            request[headers].as_object_mut().unwrap().remove("Content-Type");
        }
        if let Some(content_type) = content_type {
            request["headers"]["Content-Type"] = json!(content_type);
            request["multiValueHeaders"]["Content-Type"] = json!([content_type]);
        }
        app.send(request).await.problem(415);
    }
    assert!(app.stored_items().await.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_a_400() {
    let app = spawn_app().await;
    for (body, detail, case) in [
        (None, "The body is empty.", "no body"),
        (Some(""), "The body is empty.", "empty"),
        (Some("  \n"), "The body is empty.", "blank"),
        (
            Some(r#"{"eventId": "#),
            "The body is not valid JSON: EOF while parsing a value at line 1 column 12.",
            "truncated JSON",
        ),
        (Some("[1, 2]"), "The body is not a JSON object.", "array"),
    ] {
        let res = app.send(api_request("POST", "/events", body)).await;
        let problem = res.problem(400);
        assert_eq!(problem["detail"], detail, "{case}");
        assert!(problem.get("errors").is_none(), "{case}");
    }
    assert!(app.stored_items().await.is_empty());
}

#[tokio::test]
async fn invalid_fields_are_a_400_listing_every_field() {
    let app = spawn_app().await;
    let valid = event("evt-invalid", "user-invalid");
    for (patch, fields, case) in [
        (json!({"user": null}), vec!["user"], "missing user"),
        (
            json!({"eventType": "UserRenamed"}),
            vec!["eventType"],
            "unknown eventType",
        ),
        (
            json!({"timestamp": "02/03/2026 09:15"}),
            vec!["timestamp"],
            "bad timestamp",
        ),
        (
            json!({"timestamp": "2026-03-02T09:15:27"}),
            vec!["timestamp"],
            "timestamp without offset",
        ),
        (json!({"eventId": " "}), vec!["eventId"], "blank eventId"),
        (
            json!({"user": {"id": "u"}}),
            vec!["user.name", "user.email"],
            "partial user",
        ),
        (json!({"user": "ada"}), vec!["user"], "user not an object"),
        (
            json!({"eventId": "e".repeat(3000)}),
            vec!["eventId"],
            "3 KB eventId (over a key's bound)",
        ),
        (
            json!({"user": {"id": "grace@example.com ".repeat(10), "name": "Grace", "email": "g@example.com"}}),
            vec!["user.id"],
            "an email posted as a long user.id",
        ),
        (
            json!({"eventId": null, "eventType": null, "timestamp": null, "user": null}),
            vec!["eventId", "eventType", "timestamp", "user"],
            "everything missing",
        ),
    ] {
        let mut body = valid.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let res = app.post_events(&body.to_string()).await;
        assert_eq!(res.problem_fields(), fields, "{case}");
        assert!(!res.body.contains("grace"), "{case}: a problem never quotes the body");
    }
    assert!(app.stored_items().await.is_empty());
}

#[tokio::test]
async fn a_body_over_256_kib_is_a_413() {
    let app = spawn_app().await;
    let event = event("evt-large", "user-large").to_string();
    let exactly_the_limit = format!("{event}{}", " ".repeat(MAX_BODY_BYTES - event.len()));
    let over = format!("{exactly_the_limit} ");

    assert_eq!(app.post_events(&exactly_the_limit).await.status, 200);
    app.post_events(&over).await.problem(413);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&over);
    let mut request = api_request("POST", "/events", Some(&encoded));
    request["isBase64Encoded"] = json!(true);
    app.send(request).await.problem(413);
}

#[tokio::test]
async fn a_base64_body_is_decoded() {
    let app = spawn_app().await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(event("evt-b64", "user-b64").to_string());
    let mut request = api_request("POST", "/events", Some(&encoded));
    request["isBase64Encoded"] = json!(true);
    let res = app.send(request).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["eventId"], "evt-b64");

    let mut request = api_request("POST", "/events", Some("not base64!"));
    request["isBase64Encoded"] = json!(true);
    let problem = app.send(request).await.problem(400);
    assert_eq!(problem["detail"], "The body is not valid base64.");
}

#[tokio::test]
async fn the_path_may_carry_the_stage() {
    let app = spawn_app().await;
    for (path, event_id) in [("/prod/events", "evt-staged"), ("/events/", "evt-slash")] {
        let body = event(event_id, "user-path").to_string();
        let res = app.send(api_request("POST", path, Some(&body))).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
}

#[tokio::test]
async fn a_storage_failure_is_a_503_without_detail() {
    let app = spawn_app_without_table().await;
    let res = app.post_events(&event("evt-503", "user-503").to_string()).await;
    let problem = res.problem(503);
    assert_eq!(problem["detail"], "The event could not be recorded; retry later.");
    assert!(!res.body.contains(&app.config.processed_table), "{}", res.body);
    assert!(!res.body.contains("ResourceNotFound"), "{}", res.body);
}

#[tokio::test]
async fn another_method_on_events_is_a_405() {
    let app = spawn_app().await;
    for method in ["GET", "PUT", "DELETE"] {
        let res = app.send(api_request(method, "/events", None)).await;
        res.problem(405);
        assert_eq!(res.header("allow"), Some("POST"), "{method}");
    }
}

#[tokio::test]
async fn an_unknown_path_is_a_404() {
    let app = spawn_app().await;
    for (method, path) in [
        ("POST", "/"),
        ("POST", "/event"),
        ("POST", "/events/evt-1"),
        ("GET", "/api/crm"),
    ] {
        let body = event("evt-404", "user-404").to_string();
        app.send(api_request(method, path, Some(&body))).await.problem(404);
    }
    assert!(app.stored_items().await.is_empty());
}

/// What a queue message could not carry is refused as it enters, naming the field and the
/// rule, and nothing is recorded.
#[tokio::test]
async fn text_a_queue_cannot_carry_is_a_400() {
    let app = spawn_app().await;
    let mut body = event("evt-fffe", "user-fffe");
    body["user"]["name"] = serde_json::json!("Grace\u{FFFF}");
    body["user"]["email"] = serde_json::json!("grace\u{FFFE}@example.com");
    let res = app.post_events(&body.to_string()).await;
    assert_eq!(res.problem_fields(), ["user.name", "user.email"]);
    assert!(res.body.contains("U+FFFF"), "{}", res.body);
    assert!(app.stored_items().await.is_empty());
}
