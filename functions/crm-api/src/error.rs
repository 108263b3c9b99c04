//! Every way a request can fail, and the one place that maps each to a status code and
//! an RFC 9457 problem document.

use integration::domain::{FieldError, ValidationErrors};
use integration::problem::{self, Problem};
use integration::store::StoreError;
use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};

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
    #[error("the user store failed")]
    Store(#[from] StoreError),
}

impl ApiError {
    /// A single invalid field, for query parameters and headers.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Invalid(ValidationErrors(vec![FieldError::new(field, message)]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let title = status.canonical_reason().unwrap_or("Error");
        let problem = Problem::new(status.as_u16(), title, self.detail());
        match self {
            Self::Invalid(errors) => problem.typed("validation-error").with_errors(errors.0.clone()),
            Self::IdempotencyKeyReused => problem.typed("idempotency-key-reused"),
            _ => problem,
        }
    }

    /// What the client is told. Server-side failures say what to do, never why: the
    /// cause (SDK errors, table names) stays in the log.
    fn detail(&self) -> String {
        match self {
            Self::Store(_) => "The user store is unavailable; retry later.".to_owned(),
            Self::Invalid(_) => "One or more fields are invalid; see errors.".to_owned(),
            Self::UnsupportedMediaType => "Send the body as application/json.".to_owned(),
            other => integration::errors::sentence(&other.to_string()),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder()
            .status(self.status())
            .header(header::CONTENT_TYPE, problem::CONTENT_TYPE);
        if let Self::MethodNotAllowed { allow } = &self {
            builder = builder.header(header::ALLOW, *allow);
        }
        builder
            .body(Body::from(self.problem().to_json()))
            .expect("static headers are valid")
    }
}
