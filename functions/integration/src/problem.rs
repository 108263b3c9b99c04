//! RFC 9457 problem details, the body of every error answer of both HTTP routes.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldError;

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
