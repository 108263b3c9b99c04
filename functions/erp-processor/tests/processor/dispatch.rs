use erp_processor::InvocationError;
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};

use crate::helpers::{fixture, proxy_headers, spawn_app, sqs_event};

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
    assert_eq!(proxy_headers(&answer)["content-type"], "application/json");
    assert_eq!(answer["isBase64Encoded"], false);
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["eventId"], "evt-001");
}

#[tokio::test]
async fn a_function_url_request_gets_a_payload_2_0_response() {
    let app = spawn_app().await;
    let body = fixture("apigw-post-events.json")["body"].clone();
    // What `cargo lambda watch` sends for `POST http://localhost:9000/events`.
    let request = json!({"version": "2.0", "routeKey": "$default", "rawPath": "/events", "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "localhost:9000"},
        "requestContext": {"accountId": "anonymous", "apiId": "local", "domainName": "localhost", "requestId": "r-1",
            "routeKey": "$default", "stage": "$default", "time": "25/Nov/2026:12:00:00 +0000", "timeEpoch": 1795694400000u64,
            "http": {"method": "POST", "path": "/events", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "curl"}},
        "body": body, "isBase64Encoded": false});
    let answer = app.invoke(request.clone()).await.unwrap();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["headers"]["content-type"], "application/json");
    let processed: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(processed["message"], "Event processed successfully");
    assert_eq!(processed["eventId"], "evt-001");

    let mut get = request;
    get["requestContext"]["http"]["method"] = json!("GET");
    let answer = app.invoke(get).await.unwrap();
    assert_eq!(answer["statusCode"], 405);
    assert_eq!(answer["headers"]["allow"], "POST");
}

#[tokio::test]
async fn an_unrelated_payload_fails_the_invocation() {
    let app = spawn_app().await;
    let s3 = json!({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]});
    let bare_event = json!({"eventId": "evt-1", "eventType": "UserCreated",
        "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": "u", "name": "Ada", "email": "ada@example.com"}});
    for (payload, case) in [
        (json!({}), "empty object"),
        (s3, "S3 notification"),
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
