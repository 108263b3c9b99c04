//! Every way a request can fail, and the one place that maps each to a status code and
//! the problem document the client is told.

use http_edge::ProblemError;
use lambda_http::http::StatusCode;
use user_sync::crm::CrmError;
use user_sync::domain::{FieldError, ValidationErrors};
use user_sync::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the body is not a JSON object: {0}")]
    MalformedJson(String),
    #[error("invalid input")]
    Invalid(#[from] ValidationErrors),
    #[error("the body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the content type is not JSON")]
    UnsupportedMediaType,
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("the idempotency key was used with a different body")]
    IdempotencyKeyReused,
    #[error("the user this idempotency key created was deleted")]
    UserDeleted,
    #[error("the user's version is not the one If-Match names")]
    PreconditionFailed,
    #[error("the user kept changing while this change was written")]
    ConcurrentChange,
    #[error("the user store failed")]
    Store(#[from] StoreError),
}

impl From<CrmError> for ApiError {
    fn from(error: CrmError) -> Self {
        match error {
            CrmError::NotFound => Self::NotFound,
            CrmError::KeyReused => Self::IdempotencyKeyReused,
            CrmError::KeyUserDeleted => Self::UserDeleted,
            CrmError::PreconditionFailed => Self::PreconditionFailed,
            CrmError::ConcurrentChange => Self::ConcurrentChange,
            CrmError::Store(error) => Self::Store(error),
        }
    }
}

impl ApiError {
    /// A single invalid field, for query parameters and headers.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(ValidationErrors(vec![FieldError::new(field, message)]))
    }
}

impl ProblemError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UserDeleted | Self::ConcurrentChange => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn problem_type(&self) -> Option<&'static str> {
        match self {
            Self::Invalid(_) => Some("validation-error"),
            Self::IdempotencyKeyReused => Some("idempotency-key-reused"),
            Self::UserDeleted => Some("user-deleted"),
            Self::PreconditionFailed => Some("version-mismatch"),
            Self::ConcurrentChange => Some("concurrent-change"),
            _ => None,
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::Invalid(errors) => errors.0.clone(),
            _ => Vec::new(),
        }
    }

    fn allow(&self) -> Option<&'static str> {
        match self {
            Self::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Store(_) => "The user store is unavailable; retry later.".to_owned(),
            Self::Invalid(_) => "One or more fields are invalid; see errors.".to_owned(),
            Self::UnsupportedMediaType => "Send the body as application/json.".to_owned(),
            Self::UserDeleted => {
                "The user this Idempotency-Key created was deleted; a new user needs a new key.".to_owned()
            }
            Self::PreconditionFailed => {
                "The user changed since the version If-Match names: read it again (its ETag), then retry.".to_owned()
            }
            Self::ConcurrentChange => "The user kept changing while this change was written; retry.".to_owned(),
            other => user_sync::errors::sentence(&other.to_string()),
        }
    }
}
