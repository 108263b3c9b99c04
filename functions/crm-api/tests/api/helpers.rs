use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use crm_api::config::CrmApiConfig;
use crm_api::{routes, App};
use serde_json::{json, Value};
use test_support::{emulator, CrmTables};
pub use test_support::{s, TestResponse};

pub const REQUEST_ID: &str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef";

/// The handler wired to a fresh `Users` table and events topic in the shared emulator, and
/// a queue subscribed to the topic, as a consumer's.
pub struct TestApp {
    pub app: App,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub config: CrmApiConfig,
    /// The consumer's queue the topic delivers to.
    pub queue_url: String,
}

pub async fn spawn_app() -> TestApp {
    let aws = emulator().sdk_config().await;
    let crm = CrmTables::create(&aws).await;
    let config = CrmApiConfig {
        users_table: crm.users_table,
        events_topic_arn: crm.events.topic_arn,
        delivery: user_sync::crm::Delivery::Writer,
        employees_table: crm.employees_table,
        mirror_contacts_table: Some(crm.mirror_contacts_table),
        metrics_namespace: "CrmErp/test".to_owned(),
    };
    TestApp {
        app: App::new(&aws, &config),
        dynamo: crm.dynamo,
        sqs: crm.sqs,
        config,
        queue_url: crm.events.queue_url,
    }
}

impl TestApp {
    /// The same table, with the events topic replaced (e.g. by one that does not exist).
    pub async fn with_topic_arn(&self, arn: &str) -> App {
        let config = CrmApiConfig {
            events_topic_arn: arn.to_owned(),
            ..self.config.clone()
        };
        App::new(&emulator().sdk_config().await, &config)
    }

    pub async fn send(&self, req: ApiRequest) -> TestResponse {
        send_to(&self.app, req).await
    }

    pub async fn post_users(&self, body: &Value) -> TestResponse {
        self.send(ApiRequest::post_json("/api/crm", body)).await
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(ApiRequest::new("GET", path)).await
    }

    /// Every message now on the consumer's queue (received, not deleted).
    pub async fn queued_messages(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        loop {
            let batch = test_support::receive(&self.sqs, &self.queue_url).await;
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }

    pub async fn stored_items(&self) -> Vec<HashMap<String, AttributeValue>> {
        self.dynamo
            .scan()
            .table_name(&self.config.users_table)
            .send()
            .await
            .expect("scan the emulator")
            .items
            .unwrap_or_default()
    }
}

pub async fn send_to(app: &App, req: ApiRequest) -> TestResponse {
    let request = lambda_http::request::from_str(&req.to_event().to_string()).expect("a valid API Gateway event");
    let response = routes::handle(app, request).await.expect("the handler never fails");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().expect("ASCII header").to_owned()))
        .collect();
    let body = match response.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8(b.clone()).expect("utf-8 body"),
        _ => String::new(),
    };
    TestResponse { status, headers, body }
}

/// A request as API Gateway REST (stage `prod`) or a function URL delivers it.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub function_url: bool,
    /// The IAM caller API Gateway reports (`requestContext.identity.userArn`).
    pub caller_arn: Option<String>,
    /// API Gateway's request id (`requestContext.requestId`).
    pub request_id: String,
}

impl ApiRequest {
    pub fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            function_url: false,
            caller_arn: None,
            request_id: REQUEST_ID.to_owned(),
        }
    }

    pub fn post_json(path: &str, body: &Value) -> Self {
        Self::new("POST", path)
            .header("Content-Type", "application/json")
            .body(body.to_string())
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Signed by this IAM principal, as API Gateway's IAM authorization reports it.
    pub fn caller(mut self, arn: &str) -> Self {
        self.caller_arn = Some(arn.to_owned());
        self
    }

    /// Deliver it as a Lambda function URL (payload v2) does, as `cargo lambda watch` does.
    pub fn via_function_url(mut self) -> Self {
        self.function_url = true;
        self
    }

    fn to_event(&self) -> Value {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let params: HashMap<String, String> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut headers: HashMap<String, String> = HashMap::from([("Host".to_owned(), "api.example.com".to_owned())]);
        headers.extend(self.headers.iter().cloned());
        if self.function_url {
            return json!({
                "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
                "headers": headers, "queryStringParameters": params,
                "requestContext": {"accountId": "anonymous", "apiId": "local", "domainName": "localhost",
                    "http": {"method": self.method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "test"},
                    "requestId": self.request_id, "routeKey": "$default", "stage": "$default",
                    "time": "25/Nov/2026:11:40:00 +0000", "timeEpoch": 1795693200000u64},
                "body": self.body, "isBase64Encoded": false
            });
        }
        let multi = |m: &HashMap<String, String>| -> HashMap<String, Vec<String>> {
            m.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect()
        };
        json!({
            "resource": path, "path": path, "httpMethod": self.method,
            "headers": headers, "multiValueHeaders": multi(&headers),
            "queryStringParameters": if params.is_empty() { Value::Null } else { json!(params) },
            "multiValueQueryStringParameters": if params.is_empty() { Value::Null } else { json!(multi(&params)) },
            "pathParameters": null, "stageVariables": null,
            "requestContext": {"accountId": "123456789012", "resourceId": "abc123", "stage": "prod",
                "requestId": self.request_id, "httpMethod": self.method, "path": format!("/prod{path}"),
                "resourcePath": path, "apiId": "a1b2c3", "protocol": "HTTP/1.1",
                "identity": {"sourceIp": "127.0.0.1", "userAgent": "test", "userArn": self.caller_arn}},
            "body": self.body, "isBase64Encoded": false
        })
    }
}
