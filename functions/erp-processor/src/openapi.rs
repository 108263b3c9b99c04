//! The OpenAPI description of `POST /events`, generated from its handler's annotation and
//! the types it parses and answers. The CRM API serves it inside the one document of the
//! REST API both functions sit behind.

use integration::domain::FieldError;
use integration::events::{EventEnvelope, EventType, UserSnapshot};
use integration::problem::Problem;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    paths(routes::post_event),
    components(schemas(EventEnvelope, EventType, UserSnapshot, routes::ProcessedResponse, Problem, FieldError)),
    tags((name = "events", description = "Events delivered to the ERP over HTTP instead of the queue"))
)]
struct EventsDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    EventsDoc::openapi()
}
