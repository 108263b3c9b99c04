//! The function's entry point: recognises which trigger sent the payload and hands it to
//! the SQS batch handler or the `POST /events` route.

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use crate::batch::{self, Batch};
use crate::{routes, App};

/// What the function answers, in the shape its trigger expects.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Output {
    /// To the SQS event source mapping: `{"batchItemFailures":[{"itemIdentifier":…}]}`.
    Batch(SqsBatchResponse),
    /// To API Gateway's proxy integration: `{"statusCode",…,"body"}`. Boxed: it is ten
    /// times the size of a batch response.
    Http(Box<ApiGatewayProxyResponse>),
    /// To a function URL (payload 2.0), as `cargo lambda watch` calls it locally.
    HttpV2(Box<ApiGatewayV2httpResponse>),
}

/// A payload the function cannot handle. The invocation fails: for an SQS batch that
/// retries every record (the right outcome when we cannot even name them); anything else
/// is a wiring mistake to surface, not to answer.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("unsupported payload: neither an SQS event nor an API Gateway or function URL request ({0})")]
    Unsupported(String),
    #[error("the SQS event does not have the documented shape: {0}")]
    MalformedSqsEvent(String),
    #[error("SQS record {index} has no messageId, so its failure could not be reported")]
    MissingMessageId { index: usize },
    #[error("the API Gateway request does not have the documented shape: {0}")]
    MalformedApiRequest(String),
}

impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Self {
        let error_type = match error {
            InvocationError::Unsupported(_) => "UnsupportedPayload",
            InvocationError::MalformedSqsEvent(_) | InvocationError::MissingMessageId { .. } => "MalformedSqsEvent",
            InvocationError::MalformedApiRequest(_) => "MalformedApiRequest",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Which trigger a payload came from, judged by the fields only that trigger sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `Records`, each with `eventSource` `aws:sqs`.
    Sqs,
    /// `httpMethod`, `path` and `requestContext`: a REST API (payload 1.0) proxy request.
    ApiGateway,
    /// `version` `2.0`, `rawPath` and `requestContext.http`: a function URL request (what
    /// `cargo lambda watch` sends for HTTP calls) or an HTTP API payload 2.0.
    FunctionUrl,
    Unknown,
}

impl Trigger {
    pub fn of(payload: &Value) -> Self {
        let is_sqs_record = |r: &Value| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs");
        if let Some(records) = payload.get("Records").and_then(Value::as_array) {
            if !records.is_empty() && records.iter().all(is_sqs_record) {
                return Self::Sqs;
            }
        }
        let has = |key: &str| payload.get(key).is_some();
        let is_rest_request = payload.get("httpMethod").is_some_and(Value::is_string)
            && payload.get("requestContext").is_some_and(Value::is_object)
            && has("path");
        if is_rest_request {
            return Self::ApiGateway;
        }
        let is_v2_request = payload.get("version").and_then(Value::as_str) == Some("2.0")
            && has("rawPath")
            && payload.pointer("/requestContext/http").is_some_and(Value::is_object);
        if is_v2_request {
            return Self::FunctionUrl;
        }
        Self::Unknown
    }
}

pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Output, InvocationError> {
    // The runtime's span around this call already carries the request id.
    let result = dispatch(app, event.payload).await;
    if let Err(error) = &result {
        tracing::error!(error = %error, "invocation rejected");
    }
    result
}

async fn dispatch(app: &App, payload: Value) -> Result<Output, InvocationError> {
    match Trigger::of(&payload) {
        Trigger::Sqs => {
            let event: SqsEvent =
                serde_json::from_value(payload).map_err(|e| InvocationError::MalformedSqsEvent(position(&e)))?;
            let batch = identified(event)?;
            Ok(Output::Batch(batch::handle(app, batch).await))
        }
        Trigger::ApiGateway => {
            let request: ApiGatewayProxyRequest =
                serde_json::from_value(payload).map_err(|e| InvocationError::MalformedApiRequest(position(&e)))?;
            Ok(Output::Http(Box::new(routes::handle(app, &request).await)))
        }
        Trigger::FunctionUrl => {
            let request: ApiGatewayV2httpRequest =
                serde_json::from_value(payload).map_err(|e| InvocationError::MalformedApiRequest(position(&e)))?;
            Ok(Output::HttpV2(Box::new(routes::handle_v2(app, &request).await)))
        }
        Trigger::Unknown => Err(InvocationError::Unsupported(describe(&payload))),
    }
}

/// Every record with its message id, the id `batchItemFailures` names it by.
fn identified(event: SqsEvent) -> Result<Batch, InvocationError> {
    event
        .records
        .into_iter()
        .enumerate()
        .map(
            |(index, record)| match record.message_id.clone().filter(|id| !id.is_empty()) {
                Some(id) => Ok((id, record)),
                None => Err(InvocationError::MissingMessageId { index }),
            },
        )
        .collect::<Result<_, _>>()
        .map(Batch)
}

/// A deserialization error without its message: serde's messages may quote values (PII).
fn position(error: &serde_json::Error) -> String {
    format!("{:?} error", error.classify())
}

/// The payload's JSON type and top-level keys, enough to recognise a misrouted trigger
/// without logging values.
fn describe(payload: &Value) -> String {
    match payload {
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().take(10).map(|k| truncate(k, 40)).collect();
            let more = if map.len() > keys.len() { ", …" } else { "" };
            format!("an object with keys [{}{more}]", keys.join(", "))
        }
        Value::Array(_) => "an array".to_owned(),
        Value::String(_) => "a string".to_owned(),
        Value::Number(_) => "a number".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Null => "null".to_owned(),
    }
}

fn truncate(s: &str, max_chars: usize) -> &str {
    s.char_indices().nth(max_chars).map_or(s, |(at, _)| &s[..at])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recognises_each_trigger_by_its_fields() {
        for (payload, trigger, case) in [
            (json!({"Records": [{"eventSource": "aws:sqs"}]}), Trigger::Sqs, "sqs"),
            (
                json!({"Records": [{"eventSource": "aws:sqs"}, {"eventSource": "aws:s3"}]}),
                Trigger::Unknown,
                "mixed sources",
            ),
            (json!({"Records": []}), Trigger::Unknown, "no records"),
            (
                json!({"Records": [{"eventSource": "aws:sns"}]}),
                Trigger::Unknown,
                "sns",
            ),
            (
                json!({"httpMethod": "POST", "path": "/events", "requestContext": {}}),
                Trigger::ApiGateway,
                "rest proxy",
            ),
            (
                json!({"version": "2.0", "rawPath": "/events", "requestContext": {"http": {"method": "POST"}}}),
                Trigger::FunctionUrl,
                "function url / http api payload 2.0",
            ),
            (json!({"eventId": "e", "user": {}}), Trigger::Unknown, "a bare envelope"),
            (json!([1]), Trigger::Unknown, "array"),
            (json!(null), Trigger::Unknown, "null"),
        ] {
            assert_eq!(Trigger::of(&payload), trigger, "{case}");
        }
    }

    #[test]
    fn describes_without_values() {
        let payload = json!({"eventId": "evt-1", "user": {"email": "ada@example.com"}});
        let text = describe(&payload);
        assert_eq!(text, "an object with keys [eventId, user]");
        assert_eq!(truncate("ééé", 2), "éé");
    }
}
