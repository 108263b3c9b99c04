use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use erp_processor::config::{ErpConnector, ErpProcessorConfig};
use erp_processor::{handle, App, InvocationError};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use test_support::{create_employees_table, create_processed_table, emulator, unique};
pub use test_support::{s, TestResponse};

/// The handler wired to fresh `ErpProcessedUsers` and `ErpEmployees` tables in the shared
/// emulator.
pub struct TestApp {
    pub app: App,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub config: ErpProcessorConfig,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The defaults with the simulated ERP (no latency), on these tables.
fn config_for(processed_table: String, employees_table: String) -> ErpProcessorConfig {
    ErpProcessorConfig {
        downstream: &erp_processor::downstream::ERP,
        processed_table,
        employees_table,
        erp_system: "OracleFusion".to_owned(),
        batch_concurrency: ErpProcessorConfig::DEFAULT_BATCH_CONCURRENCY,
        erp: ErpConnector::Simulated {
            latency: Duration::ZERO,
        },
        metrics_namespace: "CrmErp/test".to_owned(),
        claim_timeout: Duration::from_secs(ErpProcessorConfig::DEFAULT_CLAIM_TIMEOUT_SECONDS),
        max_receive_count: ErpProcessorConfig::DEFAULT_MAX_RECEIVE_COUNT,
        events_queue_url: None,
    }
}

/// A fresh table, and the configuration adjusted by `tweak` (concurrency, latency...).
pub async fn spawn_app_with(tweak: impl FnOnce(&mut ErpProcessorConfig)) -> TestApp {
    let aws = emulator().sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let mut config = config_for(
        create_processed_table(&dynamo).await,
        create_employees_table(&dynamo).await,
    );
    tweak(&mut config);
    TestApp {
        app: App::new(&aws, &config).await.expect("the simulated ERP needs nothing"),
        dynamo,
        config,
    }
}

/// The handler wired to a table that does not exist: every write fails.
pub async fn spawn_app_without_table() -> TestApp {
    let aws = emulator().sdk_config().await;
    let config = config_for(unique("Missing"), unique("Missing"));
    TestApp {
        app: App::new(&aws, &config).await.expect("the simulated ERP needs nothing"),
        dynamo: aws_sdk_dynamodb::Client::new(&aws),
        config,
    }
}

impl TestApp {
    /// Invokes the handler as the Lambda runtime does, and returns the answer as the
    /// runtime would send it (serialized JSON).
    pub async fn invoke(&self, payload: Value) -> Result<Value, InvocationError> {
        // No deadline (0): the fallback budget, as under `cargo lambda watch`.
        self.invoke_until(payload, 0).await
    }

    /// As `invoke`, for an invocation whose deadline is `deadline_ms` (ms since the epoch).
    pub async fn invoke_until(&self, payload: Value, deadline_ms: u64) -> Result<Value, InvocationError> {
        let mut context = Context::default();
        context.request_id = "0f5b2c8e-3a1d-4e6f-9b7c-2d4e6f8a0b1c".to_owned();
        context.deadline = deadline_ms;
        let output = handle(&self.app, LambdaEvent::new(payload, context)).await?;
        Ok(serde_json::to_value(output).expect("the output serializes"))
    }

    /// Sends an SQS batch and returns the message ids it reports as failed.
    pub async fn send_batch(&self, records: &[(&str, Option<String>)]) -> Vec<String> {
        let answer = self
            .invoke(sqs_event(records))
            .await
            .expect("a batch never fails the invocation");
        failed_ids(&answer)
    }

    pub async fn send(&self, request: Value) -> TestResponse {
        let answer = self
            .invoke(request)
            .await
            .expect("a request never fails the invocation");
        from_proxy_response(&answer)
    }

    pub async fn post_events(&self, body: &str) -> TestResponse {
        self.send(api_request("POST", "/events", Some(body))).await
    }

    /// Every item of the table, by `EventId`.
    pub async fn stored_items(&self) -> HashMap<String, HashMap<String, AttributeValue>> {
        test_support::scan_all(&self.dynamo, &self.config.processed_table)
            .await
            .into_iter()
            .map(|item| (s(&item, "EventId"), item))
            .collect()
    }
}

/// The message ids in a `batchItemFailures` answer, in order.
pub fn failed_ids(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("not a batch response: {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().expect("itemIdentifier").to_owned())
        .collect()
}

pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixtures are JSON")
}

/// An SQS event in the fixture's shape, one record per (message id, body); a `None` body
/// is sent as JSON null.
pub fn sqs_event(records: &[(&str, Option<String>)]) -> Value {
    let template = fixture("sqs-event.json")["Records"][0].clone();
    let records: Vec<Value> = records
        .iter()
        .map(|(message_id, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(message_id);
            record["receiptHandle"] = json!(format!("AQEB{message_id}"));
            record["body"] = json!(body);
            record["messageAttributes"]["correlationId"]["stringValue"] = json!(format!("corr-{message_id}"));
            record
        })
        .collect();
    json!({ "Records": records })
}

/// An API Gateway REST proxy request in the fixture's shape.
pub fn api_request(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut request = fixture("apigw-post-events.json");
    request["httpMethod"] = json!(method);
    request["requestContext"]["httpMethod"] = json!(method);
    request["path"] = json!(path);
    request["resource"] = json!(path);
    request["requestContext"]["resourcePath"] = json!(path);
    request["requestContext"]["path"] = json!(format!("/prod{path}"));
    request["body"] = json!(body);
    request
}

/// A valid `UserCreated` event body.
pub fn event(event_id: &str, user_id: &str) -> Value {
    json!({
        "eventId": event_id,
        "eventType": "UserCreated",
        "timestamp": "2026-03-02T09:15:27.418Z",
        "user": {"id": user_id, "name": "Grace Hopper", "email": "grace.hopper@example.com"}
    })
}

/// A proxy integration's answer (payload 1.0) as a test response, its headers merged from
/// `headers` and `multiValueHeaders` as API Gateway merges them.
fn from_proxy_response(answer: &Value) -> TestResponse {
    let status = answer["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("not a proxy response: {answer}"));
    assert_eq!(answer["isBase64Encoded"], false);
    let headers = proxy_headers(answer);
    TestResponse {
        status: u16::try_from(status).expect("an HTTP status"),
        headers,
        body: answer["body"].as_str().unwrap_or_default().to_owned(),
    }
}

/// A payload 1.0 answer's headers, lowercased, from both of its header maps.
pub fn proxy_headers(answer: &Value) -> std::collections::HashMap<String, String> {
    let single = answer["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v.as_str()));
    let multi = answer["multiValueHeaders"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k, v[0].as_str()));
    single
        .chain(multi)
        .map(|(k, v)| (k.to_ascii_lowercase(), v.expect("a header is text").to_owned()))
        .collect()
}
