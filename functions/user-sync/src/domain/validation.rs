use serde::Serialize;
use utoipa::ToSchema;

/// One failing field of a request. The message names the rule, never the value: values
/// are names and emails (PII) and these messages reach logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The JSON path of the field, e.g. `email` or `user.id`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The characters a queue message cannot carry: SQS accepts only #x9, #xA, #xD,
/// #x20–#xD7FF, #xE000–#xFFFD and #x10000–#x10FFFF, and JSON escapes every other one a Rust
/// string can hold but these two noncharacters. Text holding them is refused where it enters,
/// so every event can leave the outbox.
pub const UNDELIVERABLE: [char; 2] = ['\u{FFFE}', '\u{FFFF}'];

/// The rule `UNDELIVERABLE` sets, as a field error's message.
pub const UNDELIVERABLE_RULE: &str = "must not contain U+FFFE or U+FFFF (a queue message cannot carry them)";

/// `Err` naming `field` when `text` holds a character a queue message cannot carry.
pub fn deliverable(text: &str, field: &str) -> Result<(), FieldError> {
    if text.contains(UNDELIVERABLE) {
        Err(FieldError::new(field, UNDELIVERABLE_RULE))
    } else {
        Ok(())
    }
}

/// Every failing field of one request, so a client fixes them all in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} invalid field(s)", .0.len())]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|e| e.field.as_str())
    }
}

/// Collects the result of each field's parser, then yields either all values or all errors.
#[derive(Debug, Default)]
pub struct Collector(Vec<FieldError>);

impl Collector {
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// `Ok(())` when no field failed.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(self.0))
        }
    }
}
