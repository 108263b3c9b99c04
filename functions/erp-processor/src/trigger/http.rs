//! `POST /events`, served as a `lambda_http` request: resolves the route, processes the
//! event in the body, answers every `ApiError` with its problem and writes one log line per
//! request.

use std::convert::Infallible;
use std::time::Instant;

use http_edge::request::{body_bytes, has_json_body, route_path};
use http_edge::{Problem, ProblemError};
use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use user_sync::events::EventEnvelope;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::process::Processed;
use crate::App;

/// The largest body `POST /events` accepts: SQS's message size limit, so whatever the
/// queue can carry can also be posted. An event is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

const EVENTS_PATH: &str = "/events";
const EVENTS_ALLOW: &str = "POST";

/// Marks a request whose body was flagged base64 and did not decode (see `trigger`).
#[derive(Debug, Clone, Copy)]
pub struct UndecodableBody;

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
    /// `applied`; `superseded` when the ERP already held a newer version of the user, or had
    /// deleted it (nothing changed); `duplicate` for a repeat of a processed event.
    #[schema(example = "applied")]
    outcome: &'static str,
}

/// Always `Ok`: every error becomes a problem answer (a failed invocation would reach the
/// client as a bare 502).
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let on_events = route_path(&req) == EVENTS_PATH;
    let result = match (on_events, req.method()) {
        (false, _) => Err(ApiError::NotFound),
        (true, &Method::POST) => post_event(app, &req).await,
        (true, _) => Err(ApiError::MethodNotAllowed { allow: EVENTS_ALLOW }),
    };
    let mut tally = crate::metrics::Tally::default();
    let (response, event) = match result {
        Ok((event, processed)) => {
            tally.count(processed.outcome);
            (processed_response(&event, &processed), Some((event, processed)))
        }
        Err(error) => {
            if !matches!(error, ApiError::NotFound | ApiError::MethodNotAllowed { .. }) {
                tally.count_failure(error.is_permanent());
            }
            if let ApiError::ErpRefused(reason) | ApiError::ErpUnavailable(reason) = &error {
                tracing::warn!(reason = %reason, "the ERP did not take the posted event");
            }
            (error.to_response(), None)
        }
    };
    crate::metrics::emit(&app.metrics_namespace, app.service, &tally, &app.erp_calls.drain());
    tracing::info!(
        method = %req.method(),
        route = if on_events { EVENTS_PATH } else { "unmatched" },
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        event_id = event.as_ref().map(|(e, _)| e.event_id.as_str()),
        user_id = event.as_ref().map(|(e, _)| e.user.id.as_str()),
        outcome = event.as_ref().map(|(_, p)| p.outcome.as_str()),
        "request"
    );
    Ok(response)
}

/// Records one event in the ERP, as a message on the events queue would: idempotently by
/// `eventId`.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    request_body(content = EventEnvelope, content_type = "application/json"),
    responses(
        (status = 200, description = "Processed now, or earlier (a repeat of the same event answers the first processedAt); an event older than the ERP's version of its user, or after its deletion, is recorded as superseded and changes nothing", body = ProcessedResponse),
        (status = 400, description = "Empty body, invalid JSON, or invalid fields (all listed in errors)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The eventId was processed with another payload, or another delivery of it or of its user's events is in progress (retry)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 256 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content type is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The ERP refused the event (a 4xx of its own, type erp-refused); nothing was recorded", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The audit trail or the ERP is unavailable (type erp-unavailable); nothing was recorded, retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn post_event(app: &App, req: &Request) -> Result<(EventEnvelope, Processed), ApiError> {
    if !has_json_body(req) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if req.extensions().get::<UndecodableBody>().is_some() {
        return Err(ApiError::UnreadableBody("the body is not valid base64"));
    }
    let bytes = body_bytes(req);
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    let body = std::str::from_utf8(bytes).map_err(|_| ApiError::UnreadableBody("the body is not UTF-8 text"))?;
    let event = EventEnvelope::parse(body)?;
    // What a producer posts could not travel on the queue either: refused as it enters.
    event
        .check_deliverable()
        .map_err(user_sync::events::EnvelopeError::Invalid)?;
    let deadline = req.lambda_context_ref().map_or(0, |context| context.deadline);
    let processed =
        crate::deferral::process_waiting(&app.processor, &event, app.erp_budget_for_request(deadline)).await?;
    Ok((event, processed))
}

fn processed_response(event: &EventEnvelope, processed: &Processed) -> Response<Body> {
    let body = ProcessedResponse {
        message: "Event processed successfully",
        event_id: &event.event_id,
        user_id: &event.user.id,
        processed_at: processed
            .processed_at
            .format(&Rfc3339)
            .expect("a UTC time always formats"),
        outcome: processed.outcome.as_str(),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::to_string(&body).expect("the response always serializes"),
        ))
        .expect("static headers are valid")
}
