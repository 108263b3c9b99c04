//! RFC 9457 problem details, the body of every error answer, and the one way an error
//! type becomes that answer: each implements `ProblemError` next to its own definition.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use user_sync::domain::FieldError;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: every failing field with the rule it broke.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: u16, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: title.to_owned(),
            status,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A problem type specific to this API, under `urn:problem-type:`.
    pub fn typed(mut self, slug: &str) -> Self {
        self.kind = format!("urn:problem-type:{slug}");
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a problem always serializes")
    }
}

/// An error a route answers with a problem document. The type says its status and what the
/// client is told; building the document and the response is done once, here.
pub trait ProblemError: std::error::Error {
    fn status(&self) -> StatusCode;

    /// What the client is told. A server-side failure says what to do, never why: the
    /// cause (SDK errors, table names) stays in the log.
    fn detail(&self) -> String;

    /// A problem type of this API (`urn:problem-type:<slug>`); `about:blank` when `None`.
    fn problem_type(&self) -> Option<&'static str> {
        None
    }

    /// For validation problems: every failing field with the rule it broke.
    fn field_errors(&self) -> Vec<FieldError> {
        Vec::new()
    }

    /// The `Allow` header a 405 carries.
    fn allow(&self) -> Option<&'static str> {
        None
    }

    fn problem(&self) -> Problem {
        let status = self.status();
        let problem = Problem::new(
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            self.detail(),
        )
        .with_errors(self.field_errors());
        match self.problem_type() {
            Some(slug) => problem.typed(slug),
            None => problem,
        }
    }

    /// The answer to the failed request. A server-side failure is logged first, with its
    /// causes; the client is told only what to do.
    fn to_response(&self) -> Response<Body>
    where
        Self: Sized,
    {
        if self.status().is_server_error() {
            tracing::error!(error = %user_sync::errors::chain(self), "request failed");
        }
        let mut builder = Response::builder()
            .status(self.status())
            .header(header::CONTENT_TYPE, CONTENT_TYPE);
        if let Some(allow) = self.allow() {
            builder = builder.header(header::ALLOW, allow);
        }
        builder
            .body(Body::from(self.problem().to_json()))
            .expect("static headers are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("gone")]
    struct Gone;

    impl ProblemError for Gone {
        fn status(&self) -> StatusCode {
            StatusCode::METHOD_NOT_ALLOWED
        }
        fn detail(&self) -> String {
            "Use GET.".to_owned()
        }
        fn problem_type(&self) -> Option<&'static str> {
            Some("gone")
        }
        fn allow(&self) -> Option<&'static str> {
            Some("GET")
        }
    }

    #[test]
    fn an_error_answers_its_problem() {
        let response = Gone.to_response();
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert_eq!(response.headers()[header::ALLOW], "GET");
        let Body::Text(body) = response.body() else {
            panic!("a problem is text")
        };
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            problem,
            serde_json::json!({"type": "urn:problem-type:gone", "title": "Method Not Allowed", "status": 405, "detail": "Use GET."})
        );
    }
}
