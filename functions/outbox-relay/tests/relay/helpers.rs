use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use crm_api::config::CrmApiConfig;
use erp_processor::config::{ErpConnector, ErpProcessorConfig};
use lambda_runtime::{Context, LambdaEvent};
use outbox_relay::{Relay, RelayReport};
use serde_json::{json, Value};
use test_support::{create_processed_table, emulator, CrmTables};
use user_sync::events::{now_utc_millis, EventPublisher};
use user_sync::store::UsersTable;
use uuid::Uuid;

/// The three functions wired to fresh tables and a fresh topic, its consumer's queue
/// subscribed to it.
pub struct Stack {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The consumer's queue the topic delivers to.
    pub queue_url: String,
    pub crm: crm_api::App,
    pub crm_config: CrmApiConfig,
    pub erp: erp_processor::App,
    pub processed_table: String,
    pub users: UsersTable,
}

pub async fn spawn_stack() -> Stack {
    let aws = emulator().sdk_config().await;
    let CrmTables {
        dynamo,
        sns,
        sqs,
        users_table,
        employees_table,
        events,
        ..
    } = CrmTables::create(&aws).await;
    let crm_config = CrmApiConfig {
        users_table,
        events_topic_arn: events.topic_arn,
        delivery: user_sync::crm::Delivery::Writer,
        employees_table: employees_table.clone(),
        mirror_contacts_table: None,
        metrics_namespace: "CrmErp/test".to_owned(),
    };
    let processed_table = create_processed_table(&dynamo).await;
    // The processor as its environment configures it: the defaults, the simulated ERP.
    let erp_config = ErpProcessorConfig::from_lookup(|name| match name {
        "ERP_PROCESSED_TABLE_NAME" => Some(processed_table.clone()),
        "ERP_EMPLOYEES_TABLE_NAME" => Some(employees_table.clone()),
        "METRICS_NAMESPACE" => Some("CrmErp/test".to_owned()),
        _ => None,
    })
    .expect("a valid configuration");
    assert_eq!(
        erp_config.erp,
        ErpConnector::Simulated {
            latency: Duration::ZERO
        }
    );
    Stack {
        crm: crm_api::App::new(&aws, &crm_config),
        erp: erp_processor::App::new(&aws, &erp_config)
            .await
            .expect("the simulated ERP needs nothing"),
        users: UsersTable::new(dynamo.clone(), &crm_config.users_table),
        dynamo,
        sns,
        sqs,
        queue_url: events.queue_url,
        crm_config,
        processed_table,
    }
}

impl Stack {
    /// The CRM API with its topic unreachable (a topic that does not exist).
    pub async fn crm_without_queue(&self) -> crm_api::App {
        let config = CrmApiConfig {
            events_topic_arn: format!("{}-unreachable", self.crm_config.events_topic_arn),
            ..self.crm_config.clone()
        };
        crm_api::App::new(&emulator().sdk_config().await, &config)
    }

    /// The CRM API as the stack deploys it with `OUTBOX_DELIVERY=stream`: it writes, and
    /// leaves the publishing to the table's stream.
    pub fn crm_leaving_to_stream(&self) -> crm_api::App {
        crm_api::App {
            crm: user_sync::crm::Crm::new(
                user_sync::outbox::Outbox::new(self.users.clone(), self.publisher()),
                user_sync::crm::Delivery::Stream,
            ),
            ..self.crm.clone()
        }
    }

    /// The user's item as stored now, as a stream record's image shows it.
    pub async fn item(&self, id: Uuid) -> HashMap<String, AttributeValue> {
        self.dynamo
            .get_item()
            .table_name(&self.crm_config.users_table)
            .key("Id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
            .unwrap_or_default()
    }

    pub fn publisher(&self) -> EventPublisher {
        EventPublisher::new(self.sns.clone(), &self.crm_config.events_topic_arn)
    }

    /// A relay with no grace period, so it takes every pending event now.
    pub fn relay(&self) -> Relay {
        Relay::new(self.users.clone(), self.publisher(), Duration::ZERO, 1000)
    }

    /// A relay whose topic does not exist: every publish fails.
    pub fn relay_to_unreachable_topic(&self) -> Relay {
        let topic = format!("{}-unreachable", self.crm_config.events_topic_arn);
        Relay::new(
            self.users.clone(),
            EventPublisher::new(self.sns.clone(), &topic),
            Duration::ZERO,
            1000,
        )
    }

    pub async fn run_relay(&self) -> RelayReport {
        self.relay().run(now_utc_millis()).await.expect("relay run")
    }

    /// Every message on the queue, fed to the processor in SQS batches of up to 10, as the
    /// event source mapping would; deletes what the processor did not report as failed.
    /// Returns how many messages were delivered.
    pub async fn drain_queue_into_processor(&self) -> usize {
        let mut delivered = 0;
        loop {
            let messages = test_support::receive(&self.sqs, &self.queue_url).await;
            if messages.is_empty() {
                return delivered;
            }
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    json!({"messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(),
                           "attributes": {}, "messageAttributes": {}, "md5OfBody": m.md5_of_body(),
                           "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:events",
                           "awsRegion": "us-east-1"})
                })
                .collect();
            let answer = erp_processor::handle(
                &self.erp,
                LambdaEvent::new(json!({"Records": records}), Context::default()),
            )
            .await
            .expect("an SQS batch is always handled");
            let answer = serde_json::to_value(answer).unwrap();
            assert_eq!(answer["batchItemFailures"], json!([]), "the processor failed records");
            for m in &messages {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .expect("delete");
            }
            delivered += messages.len();
        }
    }

    /// The processor's audit records, by user id.
    pub async fn processed_by_user(&self) -> HashMap<String, Vec<HashMap<String, AttributeValue>>> {
        test_support::processed_by_user(&self.dynamo, &self.processed_table).await
    }
}

/// `POST /api/crm` through the CRM API's handler; the status and the new user's id.
pub async fn post_user(app: &crm_api::App, name: &str, idempotency_key: Option<&str>) -> (u16, Uuid) {
    let mut headers = json!({"Content-Type": "application/json", "Host": "api.example.com"});
    if let Some(key) = idempotency_key {
        headers["Idempotency-Key"] = json!(key);
    }
    let event = json!({
        "resource": "/api/crm", "path": "/api/crm", "httpMethod": "POST", "headers": headers,
        "requestContext": {"stage": "prod", "requestId": Uuid::new_v4().to_string(), "httpMethod": "POST",
                           "resourcePath": "/api/crm", "accountId": "123456789012", "apiId": "a1b2c3"},
        "body": json!({"name": name, "email": "user@example.com"}).to_string(), "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid REST event");
    let response = crm_api::routes::handle(app, request).await.expect("infallible");
    let body: Value = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    let id = body["id"].as_str().map(|s| s.parse().unwrap()).unwrap_or_default();
    (response.status().as_u16(), id)
}

/// `PATCH /api/crm/{id}` (a merge patch of the name) through the CRM API's handler; the status.
pub async fn rename_user(app: &crm_api::App, id: Uuid, name: &str) -> u16 {
    let path = format!("/api/crm/{id}");
    let event = json!({
        "resource": "/api/crm/{id}", "path": path, "httpMethod": "PATCH", "pathParameters": {"id": id.to_string()},
        "headers": {"Content-Type": "application/merge-patch+json", "Host": "api.example.com"},
        "requestContext": {"stage": "prod", "requestId": Uuid::new_v4().to_string(), "httpMethod": "PATCH",
                           "resourcePath": "/api/crm/{id}", "accountId": "123456789012", "apiId": "a1b2c3"},
        "body": json!({"name": name}).to_string(), "isBase64Encoded": false
    });
    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid REST event");
    let response = crm_api::routes::handle(app, request).await.expect("infallible");
    response.status().as_u16()
}
