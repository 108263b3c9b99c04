//! `POST /api/crm`, `GET /api/crm`, `GET /api/crm/{id}`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http_edge::Problem;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use user_sync::crm::IdempotencyKey;
use user_sync::domain::SyncState;
use user_sync::domain::{NewUser, PatchField, RawField, User};
use user_sync::store::{StoreError, StoredUser};
use utoipa::ToSchema;
use uuid::Uuid;

use super::SubjectUser;
use crate::error::ApiError;
use crate::request::{caller, correlation_id, etag, idempotency_key, json_body, query};
use crate::App;

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 100;

/// The body of `POST /api/crm`, as it is parsed: each field as the client sent it, so
/// that every invalid one is reported at once, by the domain's own rules. An `id` is
/// accepted and ignored, as in the original: the server always chooses the id.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// 1–200 characters after trimming surrounding whitespace, no control characters, no
    /// U+FFFE or U+FFFF (a queue message cannot carry them).
    #[serde(default)]
    #[schema(value_type = String, required = true, pattern = r"^[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff](?:[^\u0000-\u001f\u007f-\u009f\ufffe\uffff]{0,198}[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff])?[\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$", example = "Ada Lovelace")]
    name: Field,
    /// A valid address of at most 254 characters; its domain is stored lowercased.
    #[serde(default)]
    #[schema(value_type = String, required = true, format = Email, max_length = 254, pattern = r"^[^\ufffe\uffff]*$", example = "ada@example.com")]
    email: Field,
    /// Ignored, whatever it holds.
    #[serde(default)]
    #[schema(value_type = serde_json::Value)]
    #[allow(dead_code)] // read so that any value is accepted, then ignored
    id: serde::de::IgnoredAny,
}

/// A body field before the domain parses it: absent, null, not a string, or text. `POST`
/// reads null as absent; a merge patch (`PATCH`) reads it as "remove", which it refuses.
#[derive(Debug, Default)]
pub(super) enum Field {
    #[default]
    Missing,
    Null,
    NotText,
    Text(String),
}

impl Field {
    fn raw(&self) -> RawField<'_> {
        match self {
            Self::Missing | Self::Null => RawField::Missing,
            Self::NotText => RawField::NotText,
            Self::Text(text) => RawField::Text(text),
        }
    }

    /// The field as a merge patch member.
    pub(super) fn patch(&self) -> PatchField<'_> {
        match self {
            Self::Missing => PatchField::Absent,
            Self::Null => PatchField::Null,
            _ => PatchField::Present(self.raw()),
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Self::Null,
            Value::String(text) => Self::Text(text),
            _ => Self::NotText,
        })
    }
}

/// A user as the API shows it (never the event bookkeeping behind it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    id: Uuid,
    name: String,
    email: String,
    /// Absent for users the original system stored, which recorded no creation time.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<OffsetDateTime>,
    /// Whether the ERP has this version of the user: in `GET /api/crm/{id}` only (absent
    /// when the ERP side's state could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    sync: Option<SyncResponse>,
    /// Whether each downstream consumer has this version: in `GET /api/crm/{id}` only. A
    /// consumer whose state could not be read is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    downstream: Option<DownstreamSync>,
}

/// Each consumer's sync of a user, by consumer.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownstreamSync {
    /// The ERP (the same answer as `sync`).
    #[serde(skip_serializing_if = "Option::is_none")]
    erp: Option<ConsumerSync>,
    /// The CRM mirror (a Salesforce-style CRM), when the stack has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    crm_mirror: Option<ConsumerSync>,
}

/// What one consumer holds of a user, read from its view.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerSync {
    /// `synced`, `pending` or `failed`, as in `sync`.
    #[schema(example = "synced")]
    status: &'static str,
    /// The user's version the consumer holds (absent before its first event is applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<u64>,
    /// The user's record at the consumer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "EMP-3f2b8c1a")]
    record_id: Option<String>,
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    synced_at: Option<OffsetDateTime>,
}

impl ConsumerSync {
    fn of(state: &SyncState, version: u64) -> Self {
        Self {
            status: state.status(version).as_str(),
            version: state.view.as_ref().map(|v| v.version),
            record_id: state.view.as_ref().map(|v| v.erp_record_id.clone()),
            synced_at: state.view.as_ref().map(|v| v.synced_at),
        }
    }
}

/// What the ERP holds of a user, read from the ERP side's state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncResponse {
    /// `synced`: the ERP holds this version (or a newer one); `pending`: its event is on
    /// its way; `failed`: its event failed for good (refused, or in the dead-letter queue).
    #[schema(example = "synced")]
    status: &'static str,
    /// The user's version the ERP holds (absent before its first event is applied).
    #[serde(skip_serializing_if = "Option::is_none")]
    erp_version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "EMP-3f2b8c1a")]
    erp_record_id: Option<String>,
    /// When the ERP applied the version it holds.
    #[serde(with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    synced_at: Option<OffsetDateTime>,
}

/// The ERP's `downstream` answer under the names clients read before there was a second
/// consumer.
impl From<&ConsumerSync> for SyncResponse {
    fn from(erp: &ConsumerSync) -> Self {
        Self {
            status: erp.status,
            erp_version: erp.version,
            erp_record_id: erp.record_id.clone(),
            synced_at: erp.synced_at,
        }
    }
}

impl From<&StoredUser> for UserResponse {
    fn from(u: &StoredUser) -> Self {
        Self {
            id: u.id,
            name: u.name.clone(),
            email: u.email.clone(),
            created_at: u.created_at,
            sync: None,
            downstream: None,
        }
    }
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            name: u.name.clone(),
            email: u.email.clone(),
            created_at: Some(u.created_at),
            sync: None,
            downstream: None,
        }
    }
}

/// Creates a user and publishes its `UserCreated` event.
///
/// The user and its pending event are stored in one atomic write (the outbox); the event
/// is then sent and its pending mark cleared. If the send fails, the answer is still `201`:
/// the event is durably pending and the outbox relay delivers it.
///
/// With an `Idempotency-Key`, the user id is derived from the key: a repeat with the first
/// request's body finds the stored user, answers the same `201`, and sends the same event
/// again, byte for byte. Once the user has changed, or with any other body, a repeat is
/// `422`; once it is deleted, `409`.
#[utoipa::path(
    post,
    path = "/api/crm",
    tag = "users",
    request_body = CreateUserRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,255}$",
         description = "1–255 printable ASCII characters without spaces. Repeating a request with the same key and body creates one user and answers the same 201 while the user is unchanged; the same key with another body, or after the user changed, answers 422; after it was deleted, 409."),
    ),
    responses(
        (status = 201, description = "Created; its UserCreated event is sent now or by the outbox relay", body = UserResponse,
         headers(("Location" = String, description = "The new user's URL, relative to the request's URL (RFC 3986): `crm/{id}`"),
                 ("ETag" = String, description = "The user's version, `\"1\"`"))),
        (status = 409, description = "The user this Idempotency-Key created was deleted", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Malformed JSON or invalid fields (all listed in errors)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Content type is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Idempotency-Key reused with a different body, or after the user it created was changed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The user store is unavailable; nothing was stored, retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let body: CreateUserRequest = json_body(req)?;
    let key = idempotency_key(req)?.map(|key| IdempotencyKey {
        caller: caller(req),
        key,
    });
    let new = NewUser::parse(body.name.raw(), body.email.raw())?;
    let user = app.crm.create(new, key, &correlation_id(req)).await?;
    let mut response = json(StatusCode::CREATED, &UserResponse::from(&user));
    let location = user_location(req, user.id);
    response.headers_mut().insert(
        header::LOCATION,
        location.parse().expect("a UUID path is a valid header"),
    );
    with_etag(&mut response, user.version);
    response.extensions_mut().insert(SubjectUser(user.id));
    Ok(response)
}

/// Sets the `ETag` of a user at `version`.
pub fn with_etag(response: &mut Response<Body>, version: u64) {
    response.headers_mut().insert(
        header::ETAG,
        etag(version).parse().expect("a quoted number is a valid header"),
    );
}

/// Reads one user.
#[utoipa::path(
    get,
    path = "/api/crm/{id}",
    tag = "users",
    params(("id" = String, Path, description = "The user's id (a UUID)")),
    responses(
        (status = 200, description = "The user, with its sync status", body = UserResponse,
         headers(("ETag" = String, description = "The user's version, `\"<version>\"`: send it as If-Match to change exactly this version"))),
        (status = 404, description = "No such user, or it was deleted", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get(app: &App, id: &str) -> Result<Response<Body>, ApiError> {
    // Not a UUID cannot name a user: the same 404 as an unknown one.
    let id = Uuid::try_parse(id).map_err(|_| ApiError::NotFound)?;
    let user = app.users.get(id).await?.ok_or(ApiError::NotFound)?;
    let mut body = UserResponse::from(&user);
    // One read of each consumer's view, side by side; the user is answered without a
    // consumer whose read fails.
    let user_id = id.to_string();
    let mirror = async {
        match &app.mirror {
            Some(mirror) => Some(mirror.sync_state(&user_id).await),
            None => None,
        }
    };
    let (erp, mirror) = tokio::join!(app.employees.sync_state(&user_id), mirror);
    let read = |consumer: &str, state: Result<SyncState, StoreError>| match state {
        Ok(state) => Some(state),
        Err(error) => {
            tracing::warn!(user_id = %id, consumer, error = %user_sync::errors::chain(&error),
                "a consumer's state of the user could not be read; answered without it");
            None
        }
    };
    let erp = read("erp", erp).map(|state| ConsumerSync::of(&state, user.version));
    let mirror = mirror.and_then(|state| read("crm-mirror", state));
    body.sync = erp.as_ref().map(SyncResponse::from);
    body.downstream = Some(DownstreamSync {
        erp,
        crm_mirror: mirror.map(|state| ConsumerSync::of(&state, user.version)),
    });
    let mut response = json(StatusCode::OK, &body);
    with_etag(&mut response, user.version);
    response.extensions_mut().insert(SubjectUser(user.id));
    Ok(response)
}

/// Lists users a page at a time. When more remain, a `Link: <...>; rel="next"` header
/// holds the URL of the next page; walking every page yields every user exactly once.
#[utoipa::path(
    get,
    path = "/api/crm",
    tag = "users",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "Page size, 1–100 (default 50)"),
        ("cursor" = Option<String>, Query, pattern = r"^[A-Za-z0-9_-]{21}[AQgw]$",
         description = "Opaque: copy it from the previous page's Link header (22 base64url characters)"),
    ),
    responses(
        (status = 200, description = "A page of users", body = Vec<UserResponse>,
         headers(("Link" = String, description = "`<?limit=…&cursor=…>; rel=\"next\"` when more users remain: a reference relative to the request's URL (RFC 3986)"))),
        (status = 400, description = "Invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Storage unavailable; retry", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let limit = match query(req, "limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "must be a whole number from 1 to 100"))?,
    };
    let after = query(req, "cursor").map(decode_cursor).transpose()?;
    let page = app.users.page(limit, after).await?;
    let users: Vec<UserResponse> = page.users.iter().map(UserResponse::from).collect();
    let mut response = json(StatusCode::OK, &users);
    if let Some(next) = page.next {
        // A query-only reference keeps the requested path, whatever prefix it had.
        let link = format!("<?limit={limit}&cursor={}>; rel=\"next\"", encode_cursor(next));
        response.headers_mut().insert(
            header::LINK,
            link.parse().expect("base64url and digits are valid header text"),
        );
    }
    Ok(response)
}

/// The new user's URL as a reference relative to the request's own URL (RFC 3986 §4.2).
/// The function cannot see the prefix its client used (the API Gateway stage, a custom
/// domain's base path, a proxy), and a root-relative `/api/crm/{id}` would drop it; a
/// relative reference resolves behind whichever it was.
fn user_location(req: &Request, id: Uuid) -> String {
    if req.uri().path().ends_with('/') {
        id.to_string()
    } else {
        format!("crm/{id}")
    }
}

fn encode_cursor(after: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(after.as_bytes())
}

fn decode_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API issued"))
}

pub(super) fn json(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::to_string(body).expect("responses always serialize"),
        ))
        .expect("static headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let id = Uuid::new_v4();
        assert_eq!(decode_cursor(&encode_cursor(id)).unwrap(), id);
        for bad in ["", "!!", "AAAA"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
