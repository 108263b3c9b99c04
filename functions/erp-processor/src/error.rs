//! Every way a `POST /events` request can fail, and the one place that maps each to a
//! status code and the problem document the client is told.

use http_edge::ProblemError;
use lambda_http::http::StatusCode;
use user_sync::domain::FieldError;
use user_sync::events::EnvelopeError;
use user_sync::store::RecordError;

use crate::erp::ErpError;
use crate::process::ProcessError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not text we can read as JSON (bad base64, not UTF-8).
    #[error("{0}")]
    UnreadableBody(&'static str),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("the body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the content type must be application/json")]
    UnsupportedMediaType,
    #[error("no such resource")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("recording the event failed")]
    Store(#[from] RecordError),
    #[error("the event id is recorded with a different payload")]
    Conflict,
    #[error("another delivery of the event is being processed")]
    InProgress,
    #[error(transparent)]
    ErpRefused(ErpError),
    #[error(transparent)]
    ErpUnavailable(ErpError),
}

impl From<ProcessError> for ApiError {
    fn from(error: ProcessError) -> Self {
        match error {
            ProcessError::Record(e) => Self::Store(e),
            ProcessError::Store(e) => Self::Store(RecordError::Store(e)),
            ProcessError::InProgress => Self::InProgress,
            ProcessError::Conflict => Self::Conflict,
            ProcessError::Erp(e) if e.is_permanent() => Self::ErpRefused(e),
            ProcessError::Erp(e) => Self::ErpUnavailable(e),
        }
    }
}

impl ApiError {
    /// Fails again however often the request is retried: what the client sent, or what the
    /// processor refuses for good (`ProcessError::is_permanent`). Not so a store or ERP
    /// outage, or another delivery in progress.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Store(_) | Self::InProgress | Self::ErpUnavailable(_))
    }
}

impl ProblemError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::UnreadableBody(_) | Self::Envelope(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::InProgress => StatusCode::CONFLICT,
            // The event is valid but the ERP will not take it as it is: the client's to fix.
            Self::ErpRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Store(_) | Self::ErpUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn allow(&self) -> Option<&'static str> {
        match self {
            Self::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    fn problem_type(&self) -> Option<&'static str> {
        match self {
            Self::Envelope(EnvelopeError::Invalid(_)) => Some("validation-error"),
            Self::Conflict => Some("event-id-conflict"),
            Self::InProgress => Some("event-in-progress"),
            Self::ErpRefused(_) => Some("erp-refused"),
            Self::ErpUnavailable(_) => Some("erp-unavailable"),
            _ => None,
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            Self::Envelope(EnvelopeError::Invalid(errors)) => errors.0.clone(),
            _ => Vec::new(),
        }
    }

    /// Envelope errors never quote the body, and JSON syntax errors give only a position.
    fn detail(&self) -> String {
        match self {
            Self::Envelope(EnvelopeError::Invalid(_)) => "One or more fields are invalid; see errors.".to_owned(),
            Self::Store(_) => "The event could not be recorded; retry later.".to_owned(),
            Self::Conflict => "An event with this eventId was processed with a different payload; \
                               a new event needs a new eventId."
                .to_owned(),
            Self::InProgress => "Another delivery of this event is being processed; retry shortly.".to_owned(),
            // The ERP's reason is for the operator's log: it may echo the record's fields.
            Self::ErpRefused(ErpError::Refused { status, .. }) => {
                format!("The ERP refused the event (HTTP {status}); nothing was recorded.")
            }
            Self::ErpRefused(error @ ErpError::Unsendable(_)) => {
                format!("{}.", user_sync::errors::sentence(&error.to_string()))
            }
            Self::ErpRefused(_) | Self::ErpUnavailable(_) => {
                "The ERP is unavailable; nothing was recorded, retry later.".to_owned()
            }
            Self::UnreadableBody(_)
            | Self::Envelope(EnvelopeError::Empty | EnvelopeError::Json(_) | EnvelopeError::NotAnObject)
            | Self::PayloadTooLarge { .. }
            | Self::UnsupportedMediaType
            | Self::NotFound
            | Self::MethodNotAllowed { .. } => user_sync::errors::sentence(&self.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_hide_their_cause() {
        let problem = ApiError::Store(RecordError::Vanished).problem();
        assert_eq!(problem.status, 503);
        assert_eq!(problem.detail, "The event could not be recorded; retry later.");
    }

    #[test]
    fn body_errors_say_what_is_wrong() {
        let detail = |e: EnvelopeError| ApiError::from(e).problem().detail;
        assert_eq!(detail(EnvelopeError::Empty), "The body is empty.");
        assert_eq!(detail(EnvelopeError::NotAnObject), "The body is not a JSON object.");
        let json = serde_json::from_str::<serde_json::Value>("{\"a\":").unwrap_err();
        assert_eq!(
            detail(EnvelopeError::Json(json)),
            "The body is not valid JSON: EOF while parsing a value at line 1 column 5."
        );
    }
}
