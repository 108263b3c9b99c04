//! Creates the template's tables and queues in moto, and describes what the local stack
//! needs to run: the functions' environment, the event source and the schedule.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::template::{local_name, reference, Template, TemplateError};
use crate::AnyError;

/// What `provision` created, and how the functions and triggers are wired to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocalStack {
    pub tables: Vec<String>,
    /// Local queue name → URL.
    pub queues: BTreeMap<String, String>,
    /// The functions' environment variables, resolved to the local resources.
    pub env: BTreeMap<String, String>,
    pub event_sources: Vec<EventSource>,
    pub schedules: Vec<Schedule>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventSource {
    /// The binary (`cargo lambda watch` function name) it invokes.
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: usize,
    pub batching_window_seconds: u64,
    pub report_batch_item_failures: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Schedule {
    pub function: String,
    pub every_seconds: u64,
}

impl LocalStack {
    /// `KEY=VALUE` lines for `cargo lambda watch --env-file`.
    pub fn env_file(&self) -> String {
        self.env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

/// A created queue: its URL and ARN, by logical id.
struct LocalQueue {
    url: String,
    arn: String,
}

pub async fn provision(aws: &SdkConfig, template: &Template, visibility: Option<u64>) -> Result<LocalStack, AnyError> {
    let dynamo = aws_sdk_dynamodb::Client::new(aws);
    let sqs = aws_sdk_sqs::Client::new(aws);

    let mut tables = BTreeMap::new();
    for table in template.of_type("AWS::DynamoDB::Table") {
        let name = local_name(table.logical_id).to_owned();
        create_table(&dynamo, &name, table.properties).await?;
        tables.insert(table.logical_id.to_owned(), name);
    }

    // Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
    let mut queues: BTreeMap<String, LocalQueue> = BTreeMap::new();
    let mut pending: Vec<_> = template.of_type("AWS::SQS::Queue").collect();
    pending.sort_by_key(|q| q.properties.get("RedrivePolicy").is_some());
    for queue in pending {
        let name = local_name(queue.logical_id).to_owned();
        let created = create_queue(&sqs, &name, queue.properties, &queues, visibility).await?;
        queues.insert(queue.logical_id.to_owned(), created);
    }

    let functions = function_binaries(template)?;
    let mut env = BTreeMap::new();
    for (name, value) in template.function_environment()? {
        env.insert(name.clone(), resolve(&name, &value, &tables, &queues)?);
    }
    // The functions talk to the same moto as this tool, with its region and credentials.
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_owned(), value);
        }
    }

    let region = aws.region().map_or("us-east-1".to_owned(), ToString::to_string);
    let mut event_sources = Vec::new();
    for mapping in template.of_type("AWS::Lambda::EventSourceMapping") {
        let props = mapping.properties;
        let queue = reference(&props["EventSourceArn"])
            .and_then(|(id, _)| queues.get(id))
            .ok_or_else(|| {
                unsupported(format!(
                    "{}: its source is not a queue of the template",
                    mapping.logical_id
                ))
            })?;
        event_sources.push(EventSource {
            function: function_of(&props["FunctionName"], &functions, mapping.logical_id)?,
            queue_url: queue.url.clone(),
            queue_arn: queue.arn.clone(),
            region: region.clone(),
            batch_size: props["BatchSize"].as_u64().unwrap_or(10) as usize,
            batching_window_seconds: props["MaximumBatchingWindowInSeconds"].as_u64().unwrap_or(0),
            report_batch_item_failures: props["FunctionResponseTypes"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures")),
        });
    }

    let mut schedules = Vec::new();
    for rule in template.of_type("AWS::Events::Rule") {
        let Some(expression) = rule.properties["ScheduleExpression"].as_str() else {
            continue;
        };
        let every_seconds = rate_seconds(expression)
            .ok_or_else(|| unsupported(format!("{}: schedule {expression} is not a rate(...)", rule.logical_id)))?;
        for target in rule.properties["Targets"].as_array().into_iter().flatten() {
            schedules.push(Schedule {
                function: function_of(&target["Arn"], &functions, rule.logical_id)?,
                every_seconds,
            });
        }
    }

    Ok(LocalStack {
        tables: tables.into_values().collect(),
        queues: queues
            .into_iter()
            .map(|(id, q)| (local_name(&id).to_owned(), q.url))
            .collect(),
        env,
        event_sources,
        schedules,
    })
}

fn unsupported(message: String) -> AnyError {
    TemplateError::Unsupported(message).into()
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, props: &Value) -> Result<(), AnyError> {
    let key_schema = |keys: &Value| -> Result<Vec<KeySchemaElement>, AnyError> {
        keys.as_array()
            .into_iter()
            .flatten()
            .map(|k| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(k["AttributeName"].as_str().unwrap_or_default())
                    .key_type(KeyType::from(k["KeyType"].as_str().unwrap_or_default()))
                    .build()?)
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&props["KeySchema"])?));
    for attr in props["AttributeDefinitions"].as_array().into_iter().flatten() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr["AttributeName"].as_str().unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(
                    attr["AttributeType"].as_str().unwrap_or_default(),
                ))
                .build()?,
        );
    }
    for index in props["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
        let projection = &index["Projection"];
        let non_key: Option<Vec<String>> = projection["NonKeyAttributes"]
            .as_array()
            .map(|attrs| attrs.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect());
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap_or_default())
                .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            projection["ProjectionType"].as_str().unwrap_or("ALL"),
                        ))
                        .set_non_key_attributes(non_key)
                        .build(),
                )
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Provisioning twice against the same server is fine.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => Ok(()),
        Err(e) => Err(aws_sdk_dynamodb::Error::from(e).into()),
    }
}

async fn create_queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    props: &Value,
    created: &BTreeMap<String, LocalQueue>,
    visibility: Option<u64>,
) -> Result<LocalQueue, AnyError> {
    let mut request = client.create_queue().queue_name(name);
    for (property, attribute) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
        ("MaximumMessageSize", QueueAttributeName::MaximumMessageSize),
        (
            "ReceiveMessageWaitTimeSeconds",
            QueueAttributeName::ReceiveMessageWaitTimeSeconds,
        ),
    ] {
        if let Some(value) = props.get(property).and_then(number_text) {
            request = request.attributes(attribute, value);
        }
    }
    if let Some(seconds) = visibility {
        request = request.attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string());
    }
    if let Some(redrive) = props.get("RedrivePolicy") {
        let dlq = reference(&redrive["deadLetterTargetArn"])
            .and_then(|(id, _)| created.get(id))
            .ok_or_else(|| unsupported(format!("{name}: its dead-letter queue is not in the template")))?;
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq.arn,
            "maxReceiveCount": redrive["maxReceiveCount"].as_u64().unwrap_or(5),
        });
        request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
    }
    let url = request
        .send()
        .await
        .map_err(aws_sdk_sqs::Error::from)?
        .queue_url
        .unwrap_or_default();
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws_sdk_sqs::Error::from)?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default();
    Ok(LocalQueue { url, arn })
}

fn number_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// A function's environment value, with references to tables and queues made local.
fn resolve(
    name: &str,
    value: &Value,
    tables: &BTreeMap<String, String>,
    queues: &BTreeMap<String, LocalQueue>,
) -> Result<String, AnyError> {
    if let Some(text) = number_text(value) {
        return Ok(text);
    }
    let resolved = reference(value).and_then(|(id, attribute)| match attribute {
        None if tables.contains_key(id) => tables.get(id).cloned(),
        None | Some("QueueUrl") => queues.get(id).map(|q| q.url.clone()),
        Some("QueueName") => queues.get(id).map(|_| local_name(id).to_owned()),
        Some("Arn") => queues.get(id).map(|q| q.arn.clone()),
        _ => None,
    });
    resolved.ok_or_else(|| unsupported(format!("{name}: cannot make {value} local")))
}

/// Each function's binary name, from the `binary` tag the CDK app puts on it.
fn function_binaries(template: &Template) -> Result<BTreeMap<String, String>, AnyError> {
    template
        .of_type("AWS::Lambda::Function")
        .map(|f| {
            let binary = f.properties["Tags"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["Key"] == "binary")
                .and_then(|t| t["Value"].as_str())
                .ok_or_else(|| unsupported(format!("{}: no `binary` tag names its binary", f.logical_id)))?;
            Ok((f.logical_id.to_owned(), binary.to_owned()))
        })
        .collect()
}

fn function_of(value: &Value, functions: &BTreeMap<String, String>, user: &str) -> Result<String, AnyError> {
    reference(value)
        .and_then(|(id, _)| functions.get(id))
        .cloned()
        .ok_or_else(|| unsupported(format!("{user}: its function is not a function of the template")))
}

/// `rate(5 minutes)` → 300.
fn rate_seconds(expression: &str) -> Option<u64> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let unit = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86400,
        _ => return None,
    };
    Some(n * unit)
}

#[cfg(test)]
mod tests {
    use super::rate_seconds;

    #[test]
    fn rates() {
        assert_eq!(rate_seconds("rate(1 minute)"), Some(60));
        assert_eq!(rate_seconds("rate(5 minutes)"), Some(300));
        assert_eq!(rate_seconds("rate(2 hours)"), Some(7200));
        assert_eq!(rate_seconds("cron(0 12 * * ? *)"), None);
    }
}
