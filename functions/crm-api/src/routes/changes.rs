//! `PATCH /api/crm/{id}` and `DELETE /api/crm/{id}`: each change bumps the user's version
//! and writes its event (`UserUpdated`, `UserDeleted`) to the outbox in the same write,
//! behind any of the user's events still pending, so they reach the queue in version order.

use http_edge::Problem;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use user_sync::domain::UserPatch;
use user_sync::events::{now_utc_millis, EventEnvelope, UserSnapshot};
use user_sync::store::{Changed, Current, PendingEvent, Row, StoredUser};
use utoipa::ToSchema;
use uuid::Uuid;

use super::delivery::deliver;
use super::users::{json, with_etag, Field, UserResponse};
use super::SubjectUser;
use crate::error::ApiError;
use crate::request::{correlation_id, if_match, json_body, IfMatch};
use crate::App;

/// How often a change reads the user again when another change (or the relay) moved it
/// between its read and its write.
const ATTEMPTS: usize = 5;

/// The body of `PATCH /api/crm/{id}`: a JSON merge patch (RFC 7396) of the user. A member
/// absent is kept; `name` and `email` cannot be removed (`null`); other members are ignored,
/// as `POST` ignores them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PatchUserRequest {
    /// 1–200 characters after trimming surrounding whitespace, no control characters, no
    /// U+FFFE or U+FFFF (a queue message cannot carry them).
    #[serde(default)]
    #[schema(value_type = String, pattern = r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff](?:[^\u0000-\u001f\u007f-\u009f\ufffe\uffff]{0,198}[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff])?[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", example = "Ada King")]
    name: Field,
    /// A valid address of at most 254 characters; its domain is stored lowercased.
    #[serde(default)]
    #[schema(value_type = String, format = Email, max_length = 254, pattern = r"^[^\ufffe\uffff]*$", example = "ada.king@example.com")]
    email: Field,
}

/// Changes a user's name and/or email and publishes its `UserUpdated` event.
///
/// A patch that changes nothing answers `200` with the user as it is, and sends nothing.
/// With `If-Match`, the change applies only to that version of the user.
#[utoipa::path(
    patch,
    path = "/api/crm/{id}",
    tag = "users",
    params(
        ("id" = String, Path, description = "The user's id (a UUID)"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to change (`\"3\"`), or `*`; another version answers 412"),
    ),
    request_body(content = PatchUserRequest, content_type = "application/merge-patch+json",
                 description = "A JSON merge patch; application/json is accepted too"),
    responses(
        (status = 200, description = "Changed (its UserUpdated event is sent now or by the outbox relay), or unchanged", body = UserResponse,
         headers(("ETag" = String, description = "The user's version after the change"))),
        (status = 400, description = "Malformed JSON or invalid fields (all listed in errors)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user, or it was deleted", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user kept changing while this change was written; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another version of the user; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content type is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The user store is unavailable; nothing changed, retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let body: PatchUserRequest = json_body(req)?;
    let patch = UserPatch::parse(body.name.patch(), body.email.patch())?;
    let id = Uuid::try_parse(id).map_err(|_| ApiError::NotFound)?;
    let precondition = if_match(req);
    let correlation_id = correlation_id(req);
    for _ in 0..ATTEMPTS {
        let (stored, pending, pending_id) = live(app, id, precondition.as_ref()).await?;
        let Some((name, email)) = patch.apply(&stored.name, &stored.email) else {
            return Ok(answer(&stored));
        };
        let user = StoredUser {
            name,
            email,
            version: stored.version + 1,
            ..stored
        };
        let snapshot = UserSnapshot {
            id: id.to_string(),
            name: Some(user.name.clone()),
            email: Some(user.email.clone()),
        };
        let event = EventEnvelope::user_updated(snapshot, user.version, Uuid::new_v4(), now_utc_millis());
        let event = PendingEvent::new(event, &correlation_id);
        let seen = pending_id.as_deref();
        if app.users.update(&user, seen, &event).await? == Changed::Changed {
            deliver(app, pending.unwrap_or(event)).await;
            return Ok(answer(&user));
        }
    }
    Err(ApiError::ConcurrentChange)
}

/// Deletes a user and publishes its `UserDeleted` event (ids only).
///
/// The user's name and email leave the table at once; what remains is a tombstone (id,
/// version, deletion time) that keeps the id from being reused. Deleting a deleted user
/// answers `204` again and sends nothing: the state asked for holds.
#[utoipa::path(
    delete,
    path = "/api/crm/{id}",
    tag = "users",
    params(
        ("id" = String, Path, description = "The user's id (a UUID)"),
        ("If-Match" = Option<String>, Header, description = "The ETag of the version to delete (`\"3\"`), or `*`; another version answers 412"),
    ),
    responses(
        (status = 204, description = "Deleted (its UserDeleted event is sent now or by the outbox relay), or deleted before"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user kept changing while this deletion was written; retry", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another version of the user; nothing changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The user store is unavailable; nothing changed, retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(app: &App, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
    let id = Uuid::try_parse(id).map_err(|_| ApiError::NotFound)?;
    let precondition = if_match(req);
    let correlation_id = correlation_id(req);
    for _ in 0..ATTEMPTS {
        let stored = match app.users.current(id).await?.ok_or(ApiError::NotFound)?.row {
            Row::Deleted { .. } => return Ok(no_content(id)),
            Row::Live(stored) => stored,
        };
        if precondition.as_ref().is_some_and(|p| !p.allows(stored.version)) {
            return Err(ApiError::PreconditionFailed);
        }
        let version = stored.version + 1;
        let event = EventEnvelope::user_deleted(id, version, Uuid::new_v4(), now_utc_millis());
        let event = PendingEvent::new(event, &correlation_id);
        if app.users.delete(id, version, &event).await? == Changed::Changed {
            deliver(app, event).await;
            return Ok(no_content(id));
        }
    }
    Err(ApiError::ConcurrentChange)
}

/// The live user `id`, its oldest pending event and that event's id, if the precondition
/// holds.
async fn live(
    app: &App,
    id: Uuid,
    precondition: Option<&IfMatch>,
) -> Result<(StoredUser, Option<PendingEvent>, Option<String>), ApiError> {
    let Some(Current {
        row: Row::Live(stored),
        pending,
        pending_id,
    }) = app.users.current(id).await?
    else {
        return Err(ApiError::NotFound);
    };
    if precondition.is_some_and(|p| !p.allows(stored.version)) {
        return Err(ApiError::PreconditionFailed);
    }
    Ok((stored, pending, pending_id))
}

fn answer(user: &StoredUser) -> Response<Body> {
    let mut response = json(StatusCode::OK, &UserResponse::from(user));
    with_etag(&mut response, user.version);
    response.extensions_mut().insert(SubjectUser(user.id));
    response
}

fn no_content(id: Uuid) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("a bare status is valid");
    response.extensions_mut().insert(SubjectUser(id));
    response
}
