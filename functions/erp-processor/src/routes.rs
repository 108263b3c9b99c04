//! `POST /events` through API Gateway (REST API, proxy integration): resolves the route,
//! processes the event in the body, turns every `ApiError` into a problem answer and
//! writes one log line per request.

use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use base64::Engine;
use integration::events::EventEnvelope;
use integration::problem;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::error::ApiError;
use crate::process::Processed;
use crate::App;

/// The largest body `POST /events` accepts: SQS's message size limit, so whatever the
/// queue can carry can also be posted. An event is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

const EVENTS_PATH: &str = "/events";
const EVENTS_ALLOW: &str = "POST";

/// The original's success body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ProcessedResponse<'a> {
    message: &'static str,
    event_id: &'a str,
    user_id: &'a str,
    processed_at: String,
}

/// Answers one API Gateway request. Never fails: every error becomes a problem answer
/// (a failed invocation would reach the client as a bare 502).
pub async fn handle(app: &App, req: &ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    let started = Instant::now();
    let path = route_path(req);
    let on_events = path == EVENTS_PATH;
    let result = match (on_events, &req.http_method) {
        (false, _) => Err(ApiError::NotFound),
        (true, &Method::POST) => post_event(app, req).await,
        (true, _) => Err(ApiError::MethodNotAllowed { allow: EVENTS_ALLOW }),
    };
    let (response, event) = match result {
        Ok((event, processed)) => (processed_response(&event, &processed), Some((event, processed))),
        Err(error) => {
            if error.status().is_server_error() {
                tracing::error!(error = %integration::errors::chain(&error), "request failed");
            }
            (problem_response(&error), None)
        }
    };
    tracing::info!(
        method = %req.http_method,
        route = if on_events { EVENTS_PATH } else { "unmatched" },
        status = response.status_code,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        event_id = event.as_ref().map(|(e, _)| e.event_id.as_str()),
        user_id = event.as_ref().map(|(e, _)| e.user.id.as_str()),
        duplicate = event.as_ref().map(|(_, p)| p.duplicate),
        "request"
    );
    response
}

async fn post_event(app: &App, req: &ApiGatewayProxyRequest) -> Result<(EventEnvelope, Processed), ApiError> {
    let body = body_text(req)?;
    let event = EventEnvelope::parse(&body)?;
    let processed = app.processor.process(&event).await?;
    Ok((event, processed))
}

/// The request body as text: decoded when API Gateway base64-encoded it, at most
/// `MAX_BODY_BYTES`. An absent body is empty.
fn body_text(req: &ApiGatewayProxyRequest) -> Result<String, ApiError> {
    let raw = req.body.as_deref().unwrap_or_default();
    let bytes = if req.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| ApiError::UnreadableBody("the body is not valid base64"))?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    String::from_utf8(bytes).map_err(|_| ApiError::UnreadableBody("the body is not UTF-8 text"))
}

/// The request path without the API Gateway stage: the proxy event's `path` is `/events`
/// through the stage's own URL but may carry the stage (`/prod/events`) through a custom
/// domain or a test client, so the stage is stripped whenever it leads. A trailing `/`
/// is ignored.
pub fn route_path(req: &ApiGatewayProxyRequest) -> &str {
    let path = req.path.as_deref().unwrap_or("/");
    let stage = req.request_context.stage.as_deref();
    let path = stage
        .filter(|s| !s.is_empty() && *s != "$default")
        .and_then(|s| path.strip_prefix('/')?.strip_prefix(s))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .unwrap_or(path);
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

fn processed_response(event: &EventEnvelope, processed: &Processed) -> ApiGatewayProxyResponse {
    let body = ProcessedResponse {
        message: "Event processed successfully",
        event_id: &event.event_id,
        user_id: &event.user.id,
        processed_at: processed
            .processed_at
            .format(&Rfc3339)
            .expect("a UTC time always formats"),
    };
    let json = serde_json::to_string(&body).expect("the response always serializes");
    response(StatusCode::OK, "application/json", json, None)
}

fn problem_response(error: &ApiError) -> ApiGatewayProxyResponse {
    response(
        error.status(),
        problem::CONTENT_TYPE,
        error.problem().to_json(),
        error.allow(),
    )
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: String,
    allow: Option<&'static str>,
) -> ApiGatewayProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(allow) = allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status.as_u16());
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str, stage: Option<&str>) -> ApiGatewayProxyRequest {
        let mut req = ApiGatewayProxyRequest::default();
        req.path = Some(path.to_owned());
        req.request_context.stage = stage.map(str::to_owned);
        req
    }

    #[test]
    fn strips_a_leading_stage() {
        for (path, stage, expected) in [
            ("/events", Some("prod"), "/events"),
            ("/prod/events", Some("prod"), "/events"),
            ("/prod/events/", Some("prod"), "/events"),
            ("/production/events", Some("prod"), "/production/events"),
            ("/prod", Some("prod"), "/"),
            ("/events", None, "/events"),
            ("/", Some("prod"), "/"),
        ] {
            assert_eq!(route_path(&request(path, stage)), expected, "{path} at {stage:?}");
        }
    }
}
