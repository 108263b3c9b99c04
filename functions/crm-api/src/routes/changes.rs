//! `PATCH /api/crm/{id}` and `DELETE /api/crm/{id}`: each parses the request, makes one
//! call of the CRM's use cases (`user_sync::crm`) and answers its outcome.

use http_edge::Problem;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use user_sync::domain::UserPatch;
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::{json, with_etag, Field, UserResponse};
use super::SubjectUser;
use crate::error::ApiError;
use crate::request::{correlation_id, if_match, json_body};
use crate::App;

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
    let user = app
        .crm
        .change(id, &patch, if_match(req).as_ref(), &correlation_id(req))
        .await?;
    let mut response = json(StatusCode::OK, &UserResponse::from(&user));
    with_etag(&mut response, user.version);
    response.extensions_mut().insert(SubjectUser(user.id));
    Ok(response)
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
    app.crm.delete(id, if_match(req).as_ref(), &correlation_id(req)).await?;
    let mut response = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::Empty)
        .expect("a bare status is valid");
    response.extensions_mut().insert(SubjectUser(id));
    Ok(response)
}
