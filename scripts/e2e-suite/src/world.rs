//! What the checks talk to: the HTTP API, and moto's tables and queues.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::proxy::FaultProxy;
use crate::stack::DevStack;

pub type Item = HashMap<String, AttributeValue>;

pub struct World {
    pub root: std::path::PathBuf,
    pub http: reqwest::Client,
    pub api: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub users_table: String,
    pub processed_table: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub proxy: FaultProxy,
}

impl World {
    pub async fn new(root: &std::path::Path, dev: &DevStack, proxy: FaultProxy) -> Self {
        let local = dev.local_json();
        let aws = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(format!("http://{}", dev.moto))
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "e2e",
            ))
            .load()
            .await;
        let text = |v: &Value| v.as_str().expect("a string in local.json").to_owned();
        let queues = local["queues"].as_object().expect("queues");
        let dlq_url = queues
            .iter()
            .find(|(name, _)| name.contains("Dead"))
            .map(|(_, url)| text(url));
        Self {
            root: root.to_owned(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            api: dev.api.clone(),
            dynamo: aws_sdk_dynamodb::Client::new(&aws),
            sqs: aws_sdk_sqs::Client::new(&aws),
            users_table: text(&local["env"]["USERS_TABLE_NAME"]),
            processed_table: text(&local["env"]["ERP_PROCESSED_TABLE_NAME"]),
            queue_url: text(&local["env"]["EVENTS_QUEUE_URL"]),
            dlq_url: dlq_url.expect("a dead-letter queue"),
            proxy,
        }
    }

    pub async fn post_user(&self, name: &str, email: &str) -> Result<(u16, Value), String> {
        let res = self
            .http
            .post(format!("{}/api/crm", self.api))
            .json(&serde_json::json!({"name": name, "email": email}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let body = res.json().await.map_err(|e| e.to_string())?;
        Ok((status, body))
    }

    pub async fn get(&self, path: &str) -> Result<(u16, Option<String>, Value), String> {
        let res = self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let link = res
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = res.json().await.map_err(|e| e.to_string())?;
        Ok((status, link, body))
    }

    /// Every item of a table.
    pub async fn scan(&self, table: &str) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .dynamo
                .scan()
                .table_name(table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan moto");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// The audit records, grouped by user id.
    pub async fn processed_by_user(&self) -> HashMap<String, Vec<Item>> {
        let mut by_user: HashMap<String, Vec<Item>> = HashMap::new();
        for item in self.scan(&self.processed_table).await {
            if let Some(user) = item.get("UserId").and_then(|v| v.as_s().ok()) {
                by_user.entry(user.clone()).or_default().push(item);
            }
        }
        by_user
    }

    pub async fn send_raw(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send to moto");
    }

    /// Messages in the dead-letter queue, read without consuming them for long.
    pub async fn dead_letters(&self) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive from moto");
        out.messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    /// Messages visible or in flight on the events queue.
    pub async fn queue_depth(&self) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        [A::ApproximateNumberOfMessages, A::ApproximateNumberOfMessagesNotVisible]
            .iter()
            .filter_map(|a| attrs.get(a)?.parse::<u64>().ok())
            .sum()
    }
}

pub fn s(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}
