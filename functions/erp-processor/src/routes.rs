//! `POST /events` through API Gateway (REST API, proxy integration) or a function URL
//! (payload 2.0, as `cargo lambda watch` sends locally): resolves the route, processes the
//! event in the body, turns every `ApiError` into a problem answer and writes one log line
//! per request.

use std::time::Instant;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use base64::Engine;
use integration::events::EventEnvelope;
use integration::problem::{self, Problem};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use integration::http::route_path;

use crate::error::ApiError;
use crate::process::Processed;
use crate::App;

/// The largest body `POST /events` accepts: SQS's message size limit, so whatever the
/// queue can carry can also be posted. An event is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

const EVENTS_PATH: &str = "/events";
const EVENTS_ALLOW: &str = "POST";

/// The original's success body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessedResponse<'a> {
    #[schema(example = "Event processed successfully")]
    message: &'static str,
    event_id: &'a str,
    user_id: &'a str,
    /// When the ERP first processed the event (a repeat answers the first time).
    #[schema(format = DateTime)]
    processed_at: String,
}

/// What the route needs of a request, whichever payload version carried it.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a Method,
    /// The path without the stage (see `route_path`).
    pub path: &'a str,
    pub body: Option<&'a str>,
    pub is_base64_encoded: bool,
    pub content_type: Option<&'a str>,
}

/// The answer, before it is shaped for the payload version that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
    pub allow: Option<&'static str>,
}

/// Answers one API Gateway REST request.
pub async fn handle(app: &App, req: &ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    let path = route_path(req.path.as_deref().unwrap_or("/"), req.request_context.stage.as_deref());
    let request = HttpRequest {
        method: &req.http_method,
        path,
        body: req.body.as_deref(),
        is_base64_encoded: req.is_base64_encoded,
        content_type: content_type(&req.headers),
    };
    let answer = answer(app, request).await;
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(answer.status.as_u16());
    response.headers = answer.headers();
    response.body = Some(Body::Text(answer.body));
    response
}

/// Answers one function-URL (payload 2.0) request.
pub async fn handle_v2(app: &App, req: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let context = &req.request_context;
    let path = route_path(req.raw_path.as_deref().unwrap_or("/"), context.stage.as_deref());
    let request = HttpRequest {
        method: &context.http.method,
        path,
        body: req.body.as_deref(),
        is_base64_encoded: req.is_base64_encoded,
        content_type: content_type(&req.headers),
    };
    let answer = answer(app, request).await;
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(answer.status.as_u16());
    response.headers = answer.headers();
    response.body = Some(Body::Text(answer.body));
    response
}

/// Never fails: every error becomes a problem answer (a failed invocation would reach the
/// client as a bare 502).
pub async fn answer(app: &App, req: HttpRequest<'_>) -> HttpAnswer {
    let started = Instant::now();
    let on_events = req.path == EVENTS_PATH;
    let result = match (on_events, req.method) {
        (false, _) => Err(ApiError::NotFound),
        (true, &Method::POST) => post_event(app, req).await,
        (true, _) => Err(ApiError::MethodNotAllowed { allow: EVENTS_ALLOW }),
    };
    let (answer, event) = match result {
        Ok((event, processed)) => (processed_answer(&event, &processed), Some((event, processed))),
        Err(error) => {
            if error.status().is_server_error() {
                tracing::error!(error = %integration::errors::chain(&error), "request failed");
            }
            (problem_answer(&error), None)
        }
    };
    tracing::info!(
        method = %req.method,
        route = if on_events { EVENTS_PATH } else { "unmatched" },
        status = answer.status.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        event_id = event.as_ref().map(|(e, _)| e.event_id.as_str()),
        user_id = event.as_ref().map(|(e, _)| e.user.id.as_str()),
        duplicate = event.as_ref().map(|(_, p)| p.duplicate),
        "request"
    );
    answer
}

/// Records one event in the ERP, as a message on the events queue would: idempotently by
/// `eventId`.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    request_body(content = EventEnvelope, content_type = "application/json"),
    responses(
        (status = 200, description = "Processed now, or earlier (a repeat of the same event answers the first processedAt)", body = ProcessedResponse),
        (status = 400, description = "Empty body, invalid JSON, or invalid fields (all listed in errors)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The eventId was processed with another payload, or another delivery of it is in progress (retry)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content type is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The audit trail is unavailable; nothing was recorded, retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn post_event(app: &App, req: HttpRequest<'_>) -> Result<(EventEnvelope, Processed), ApiError> {
    if !req.content_type.is_some_and(integration::http::is_json) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let body = body_text(req)?;
    let event = EventEnvelope::parse(&body)?;
    let processed = app.processor.process(&event).await?;
    Ok((event, processed))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
}

/// The request body as text: decoded when API Gateway base64-encoded it, at most
/// `MAX_BODY_BYTES`. An absent body is empty.
fn body_text(req: HttpRequest<'_>) -> Result<String, ApiError> {
    let raw = req.body.unwrap_or_default();
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

fn processed_answer(event: &EventEnvelope, processed: &Processed) -> HttpAnswer {
    let body = ProcessedResponse {
        message: "Event processed successfully",
        event_id: &event.event_id,
        user_id: &event.user.id,
        processed_at: processed
            .processed_at
            .format(&Rfc3339)
            .expect("a UTC time always formats"),
    };
    HttpAnswer {
        status: StatusCode::OK,
        content_type: "application/json",
        body: serde_json::to_string(&body).expect("the response always serializes"),
        allow: None,
    }
}

fn problem_answer(error: &ApiError) -> HttpAnswer {
    HttpAnswer {
        status: error.status(),
        content_type: problem::CONTENT_TYPE,
        body: error.problem().to_json(),
        allow: error.allow(),
    }
}

impl HttpAnswer {
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if let Some(allow) = self.allow {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        headers
    }
}
