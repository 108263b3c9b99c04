//! The function's entry and its two triggers over one processing path
//! (`deferral::process_waiting`, then `Processor::process`). An SQS batch arrives as an
//! `SqsEvent` (`sqs`); an HTTP call as any payload `lambda_http` accepts (REST API, HTTP
//! API, function URL), served by `http::handle` through `lambda_http`'s own adapter, the
//! path crm-api's requests take.

pub mod http;
pub mod sqs;

use std::convert::Infallible;

use aws_lambda_events::sqs::SqsEvent;
use base64::Engine;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Adapter, Request, Service};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::Value;

use self::http::UndecodableBody;
use self::sqs::Batch;
use crate::App;

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
}

impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Self {
        let error_type = match error {
            InvocationError::Unsupported(_) => "UnsupportedPayload",
            InvocationError::MalformedSqsEvent(_) | InvocationError::MissingMessageId { .. } => "MalformedSqsEvent",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The answer, in the shape the trigger expects: a batch response for SQS, the payload
/// version's proxy response for HTTP.
pub async fn handle(app: &App, event: LambdaEvent<Value>) -> Result<Value, InvocationError> {
    let LambdaEvent { payload, context } = event;
    // Of the triggers this function has, only SQS sends `Records`.
    let result = if payload.get("Records").is_some() {
        sqs_batch(app, &payload, context.deadline).await
    } else {
        match LambdaRequest::deserialize(&payload) {
            Ok(mut request) => {
                let undecodable = drop_undecodable_body(&mut request);
                let service = service_fn(move |mut req: Request| async move {
                    if undecodable {
                        req.extensions_mut().insert(UndecodableBody);
                    }
                    http::handle(app, req).await
                });
                let response = Adapter::from(service)
                    .call(LambdaEvent::new(request, context))
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                Ok(serde_json::to_value(response).expect("a proxy response serializes"))
            }
            Err(_) => Err(InvocationError::Unsupported(describe(&payload))),
        }
    };
    // The runtime's span around this call already carries the request id.
    if let Err(error) = &result {
        tracing::error!(error = %error, "invocation rejected");
    }
    result
}

async fn sqs_batch(app: &App, payload: &Value, deadline_ms: u64) -> Result<Value, InvocationError> {
    let event = SqsEvent::deserialize(payload).map_err(|e| InvocationError::MalformedSqsEvent(position(&e)))?;
    let batch = identified(event, payload)?;
    let answer_by = crate::erp::answer_by(deadline_ms, std::time::SystemTime::now());
    let response = sqs::handle(app, batch, app.erp_budget(deadline_ms), answer_by).await;
    Ok(serde_json::to_value(response).expect("a batch response serializes"))
}

/// `lambda_http` panics on a body flagged base64 that does not decode (and a release build
/// aborts on a panic). API Gateway never sends one; a direct invocation can. Such a body is
/// dropped before the conversion, and the request marked so that it is answered with a 400.
fn drop_undecodable_body(request: &mut LambdaRequest) -> bool {
    let (flagged, body) = match request {
        LambdaRequest::ApiGatewayV1(r) => (&mut r.is_base64_encoded, &mut r.body),
        LambdaRequest::ApiGatewayV2(r) => (&mut r.is_base64_encoded, &mut r.body),
        _ => return false,
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let undecodable = *flagged && body.as_deref().is_some_and(|b| engine.decode(b).is_err());
    if undecodable {
        *flagged = false;
        *body = None;
    }
    undecodable
}

/// Every record with its message id, the id `batchItemFailures` names it by. Another
/// service's `Records` (S3, SNS) is not a batch to acknowledge.
fn identified(event: SqsEvent, payload: &Value) -> Result<Batch, InvocationError> {
    let from_sqs = |r: &aws_lambda_events::sqs::SqsMessage| r.event_source.as_deref() == Some("aws:sqs");
    if event.records.is_empty() || !event.records.iter().all(from_sqs) {
        return Err(InvocationError::Unsupported(describe(payload)));
    }
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
    fn describes_without_values() {
        let payload = json!({"eventId": "evt-1", "user": {"email": "ada@example.com"}});
        let text = describe(&payload);
        assert_eq!(text, "an object with keys [eventId, user]");
        assert_eq!(truncate("ééé", 2), "éé");
    }
}
