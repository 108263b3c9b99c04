//! The invocations each function receives, as Lambda delivers them.

use bytes::Bytes;
use serde_json::{json, Value};
use uuid::Uuid;

/// Anything small: the floor echoes it.
pub fn hello(n: usize) -> Bytes {
    Bytes::from(json!({"hello": "world", "n": n}).to_string())
}

/// `GET /api/crm/{id}` as an API Gateway REST (payload 1.0) proxy event.
pub fn get_user(user_id: &str) -> Bytes {
    let path = format!("/api/crm/{user_id}");
    Bytes::from(
        json!({
            "resource": "/api/crm/{id}",
            "path": path,
            "httpMethod": "GET",
            "headers": {"Accept": "application/json", "Host": "api.example.com"},
            "multiValueHeaders": {"Accept": ["application/json"], "Host": ["api.example.com"]},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": {"id": user_id},
            "stageVariables": null,
            "requestContext": {
                "resourcePath": "/api/crm/{id}", "httpMethod": "GET", "path": format!("/prod{path}"),
                "stage": "prod", "requestId": Uuid::new_v4().to_string(), "accountId": "123456789012",
                "apiId": "a1b2c3", "identity": {"sourceIp": "127.0.0.1"}
            },
            "body": null,
            "isBase64Encoded": false
        })
        .to_string(),
    )
}

/// `POST /api/crm` of a new user as an API Gateway REST proxy event, signed by a caller
/// (what the stage passes on after IAM auth).
pub fn post_user(n: usize) -> Bytes {
    let body = json!({"name": format!("Bench User {n}"), "email": format!("bench{n}@example.com")}).to_string();
    Bytes::from(
        json!({
            "resource": "/api/crm",
            "path": "/api/crm",
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json", "Host": "api.example.com"},
            "multiValueHeaders": {"Content-Type": ["application/json"], "Host": ["api.example.com"]},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "resourcePath": "/api/crm", "httpMethod": "POST", "path": "/prod/api/crm",
                "stage": "prod", "requestId": Uuid::new_v4().to_string(), "accountId": "123456789012",
                "apiId": "a1b2c3",
                "identity": {"sourceIp": "127.0.0.1", "userArn": "arn:aws:iam::123456789012:user/bench"}
            },
            "body": body,
            "isBase64Encoded": false
        })
        .to_string(),
    )
}

/// An SQS batch of `records` new `UserCreated` events (new event and user ids each time).
pub fn sqs_batch(records: usize) -> Bytes {
    let records: Vec<Value> = (0..records).map(|_| sqs_record()).collect();
    Bytes::from(json!({ "Records": records }).to_string())
}

fn sqs_record() -> Value {
    let body = json!({
        "eventId": Uuid::new_v4().to_string(),
        "eventType": "UserCreated",
        "timestamp": "2026-03-02T09:15:27.418Z",
        "user": {"id": Uuid::new_v4().to_string(), "name": "Bench User", "email": "bench@example.com"}
    });
    let string_attr =
        |v: String| json!({"stringValue": v, "stringListValues": [], "binaryListValues": [], "dataType": "String"});
    json!({
        "messageId": Uuid::new_v4().to_string(),
        "receiptHandle": "bench",
        "body": body.to_string(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1772442927431",
                       "SenderId": "AROA3XFRBF23EXAMPLE7:crm-api", "ApproximateFirstReceiveTimestamp": "1772442927452"},
        "messageAttributes": {
            "correlationId": string_attr(Uuid::new_v4().to_string()),
            "eventType": string_attr("UserCreated".to_owned())
        },
        "md5OfBody": "00000000000000000000000000000000",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-events",
        "awsRegion": "us-east-1"
    })
}

/// Checks an answer is the success the event asked for, so a broken function cannot
/// pass for a fast one.
pub fn check(function: &str, event: &[u8], answer: &[u8]) -> Result<(), String> {
    let answer: Value = serde_json::from_slice(answer).map_err(|e| format!("{function}: answer is not JSON: {e}"))?;
    let ok = match function {
        "floor" => serde_json::from_slice::<Value>(event).ok().as_ref() == Some(&answer),
        "crm-api" => answer["statusCode"] == 200,
        _ => answer["batchItemFailures"] == json!([]),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{function}: unexpected answer {answer}"))
    }
}
