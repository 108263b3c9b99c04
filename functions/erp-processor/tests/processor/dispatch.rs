use erp_processor::InvocationError;
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};

use crate::helpers::{fixture, spawn_app, sqs_event};

#[tokio::test]
async fn an_sqs_event_gets_a_batch_response() {
    let app = spawn_app().await;
    let answer = app.invoke(fixture("sqs-event.json")).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn an_api_gateway_request_gets_a_proxy_response() {
    let app = spawn_app().await;
    let answer = app.invoke(fixture("apigw-post-events.json")).await.unwrap();
    assert_eq!(answer["statusCode"], 200);
    assert_eq!(answer["headers"]["content-type"], "application/json");
    assert_eq!(answer["isBase64Encoded"], false);
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["eventId"], "evt-001");
}

#[tokio::test]
async fn an_unrelated_payload_fails_the_invocation() {
    let app = spawn_app().await;
    let mut http_api = fixture("apigw-post-events.json");
    http_api = json!({"version": "2.0", "routeKey": "POST /events", "rawPath": "/events",
        "requestContext": {"http": {"method": "POST", "path": "/events"}}, "body": http_api["body"]});
    let s3 = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]});
    let bare_event = json!({"eventId": "evt-1", "eventType": "UserCreated",
        "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": "u", "name": "Ada", "email": "ada@example.com"}});
    for (payload, case) in [
        (json!({}), "empty object"),
        (s3, "S3 notification"),
        (http_api, "HTTP API payload 2.0"),
        (bare_event, "a bare event"),
        (json!({"Records": []}), "no records"),
        (json!(null), "null"),
        (json!("UserCreated"), "a string"),
    ] {
        match app.invoke(payload).await {
            Err(error @ InvocationError::Unsupported(_)) => {
                assert!(!error.to_string().contains("ada@"), "{case}: {error}");
                assert_eq!(Diagnostic::from(error).error_type, "UnsupportedPayload", "{case}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_sqs_event_of_the_wrong_shape_fails_the_invocation() {
    let app = spawn_app().await;
    let mut no_message_id = sqs_event(&[("m-1", Some("{}".to_owned()))]);
    no_message_id["Records"][0].as_object_mut().unwrap().remove("messageId");
    let mut body_not_text = sqs_event(&[("m-1", Some("{}".to_owned()))]);
    body_not_text["Records"][0]["body"] = json!({"eventId": "e"});

    assert!(matches!(
        app.invoke(no_message_id).await,
        Err(InvocationError::MissingMessageId { index: 0 })
    ));
    assert!(matches!(
        app.invoke(body_not_text).await,
        Err(InvocationError::MalformedSqsEvent(_))
    ));
}
