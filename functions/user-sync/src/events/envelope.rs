//! The event envelope on the queue and at `POST /events`, exactly the original's shape:
//! `{"eventId","eventType","timestamp","user":{"id","name","email"}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::validation::{Collector, FieldError, ValidationErrors};
use crate::domain::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    UserCreated,
}

impl EventType {
    pub const KNOWN: [EventType; 1] = [EventType::UserCreated];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "UserCreated",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::KNOWN.into_iter().find(|t| t.as_str() == raw)
    }
}

/// The user as the event carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserSnapshot {
    /// The CRM's id of the user: 1–128 printable ASCII characters without spaces.
    #[schema(pattern = r"^[!-~]{1,128}$", example = "user-123")]
    pub id: String,
    /// Any text that is not blank.
    #[schema(
        pattern = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        example = "Test User"
    )]
    pub name: String,
    /// Any text that is not blank (the CRM validated it).
    #[schema(
        pattern = r"[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
        example = "test@example.com"
    )]
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    /// 1–128 printable ASCII characters without spaces; the key of idempotency.
    #[schema(pattern = r"^[!-~]{1,128}$", example = "evt-001")]
    pub event_id: String,
    pub event_type: EventType,
    /// ISO-8601 (RFC 3339) UTC time the event happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub timestamp: OffsetDateTime,
    pub user: UserSnapshot,
}

/// Why a message is not a valid envelope. Messages never quote the body: it holds PII.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is empty")]
    Empty,
    #[error("the body is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("invalid event fields: {}", describe(.0))]
    Invalid(ValidationErrors),
}

fn describe(errors: &ValidationErrors) -> String {
    let parts: Vec<String> = errors.0.iter().map(|e| format!("{} {}", e.field, e.message)).collect();
    parts.join("; ")
}

impl EventEnvelope {
    /// The `UserCreated` event of a stored user: its id and time are the user's, so
    /// publishing it again yields the very same event.
    pub fn user_created(user: &User) -> Self {
        Self {
            event_id: user.event_id.to_string(),
            event_type: EventType::UserCreated,
            timestamp: user.created_at,
            user: UserSnapshot {
                id: user.id.to_string(),
                name: user.name.clone(),
                email: user.email.clone(),
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    /// Parses strictly, listing every missing or invalid field at once.
    pub fn parse(body: &str) -> Result<Self, EnvelopeError> {
        if body.trim().is_empty() {
            return Err(EnvelopeError::Empty);
        }
        let value: Value = serde_json::from_str(body).map_err(EnvelopeError::Json)?;
        let root = value.as_object().ok_or(EnvelopeError::NotAnObject)?;

        let mut errors = Collector::default();
        let event_id = errors.take(text(root, "eventId", "eventId").and_then(|id| bounded_id(id, "eventId")));
        let event_type = errors.take(text(root, "eventType", "eventType").and_then(|raw| {
            EventType::parse(&raw)
                .ok_or_else(|| FieldError::new("eventType", "is not a known event type (known: UserCreated)"))
        }));
        let timestamp = errors.take(text(root, "timestamp", "timestamp").and_then(|raw| {
            OffsetDateTime::parse(&raw, &Rfc3339)
                .map_err(|_| FieldError::new("timestamp", "must be an ISO-8601 date-time with offset"))
        }));
        let user = match root.get("user") {
            Some(Value::Object(user)) => {
                let id = errors.take(text(user, "id", "user.id").and_then(|id| bounded_id(id, "user.id")));
                let name = errors.take(text(user, "name", "user.name"));
                let email = errors.take(text(user, "email", "user.email"));
                id.zip(name)
                    .zip(email)
                    .map(|((id, name), email)| UserSnapshot { id, name, email })
            }
            Some(_) => {
                errors.push(FieldError::new("user", "must be an object"));
                None
            }
            None => {
                errors.push(FieldError::new("user", "is required"));
                None
            }
        };
        errors.finish().map_err(EnvelopeError::Invalid)?;
        Ok(Self {
            event_id: event_id.expect("no error, so parsed"),
            event_type: event_type.expect("no error, so parsed"),
            timestamp: timestamp.expect("no error, so parsed"),
            user: user.expect("no error, so parsed"),
        })
    }
}

/// The longest id a client may choose for an event or a user. Ids are DynamoDB keys (the
/// audit trail's `EventId`, its `ByUserId` index): far below the 2 KB a key may hold, long
/// enough for any UUID, ULID or prefixed id, and short enough to log whole.
pub const MAX_ID_CHARS: usize = 128;

/// 1–128 printable ASCII characters, no spaces: an id, not text (an email posted as an id
/// is still an id, and no longer than this bound).
fn bounded_id(id: String, path: &str) -> Result<String, FieldError> {
    if id.len() <= MAX_ID_CHARS && id.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(id)
    } else {
        Err(FieldError::new(
            path,
            format!("must be 1–{MAX_ID_CHARS} printable ASCII characters without spaces"),
        ))
    }
}

/// A required, non-blank string member of `object`, reported under `path`.
fn text(object: &Map<String, Value>, key: &str, path: &str) -> Result<String, FieldError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(FieldError::new(path, "is required")),
        Some(Value::String(s)) if s.trim().is_empty() => Err(FieldError::new(path, "must not be blank")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(FieldError::new(path, "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"eventId": "evt-001", "eventType": "UserCreated",
               "timestamp": "2025-10-16T12:34:56.1234567Z",
               "user": {"id": "user-123", "name": "Ada", "email": "ada@example.com"}})
    }

    #[test]
    fn parses_the_originals_example_and_round_trips() {
        let envelope = EventEnvelope::parse(&valid().to_string()).unwrap();
        assert_eq!(envelope.event_id, "evt-001");
        assert_eq!(envelope.user.id, "user-123");
        let again = EventEnvelope::parse(&envelope.to_json()).unwrap();
        assert_eq!(again, envelope);
    }

    #[test]
    fn lists_every_invalid_field() {
        for (patch, fields, case) in [
            (json!({"eventId": ""}), vec!["eventId"], "blank id"),
            (json!({"eventType": "UserDeleted"}), vec!["eventType"], "unknown type"),
            (json!({"timestamp": "yesterday"}), vec!["timestamp"], "bad timestamp"),
            (
                json!({"user": {"id": 7}}),
                vec!["user.id", "user.name", "user.email"],
                "bad user",
            ),
            (json!({"user": null, "eventId": null}), vec!["eventId", "user"], "nulls"),
            (json!({"eventId": "e".repeat(129)}), vec!["eventId"], "129-character id"),
            (json!({"eventId": "evt 1"}), vec!["eventId"], "space in id"),
            (json!({"eventId": "évt"}), vec!["eventId"], "non-ASCII id"),
            (
                json!({"user": {"id": "u".repeat(3000), "name": "Ada", "email": "ada@example.com"}}),
                vec!["user.id"],
                "3 KB user id",
            ),
        ] {
            let mut body = valid();
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            match EventEnvelope::parse(&body.to_string()) {
                Err(EnvelopeError::Invalid(e)) => assert_eq!(e.fields().collect::<Vec<_>>(), fields, "{case}"),
                other => panic!("{case}: {other:?}"),
            }
        }
    }

    #[test]
    fn accepts_ids_up_to_the_bound() {
        let mut body = valid();
        body["eventId"] = json!("e".repeat(MAX_ID_CHARS));
        body["user"]["id"] = json!("ada@example.com");
        let envelope = EventEnvelope::parse(&body.to_string()).unwrap();
        assert_eq!(envelope.event_id.len(), MAX_ID_CHARS);
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        assert!(matches!(EventEnvelope::parse("  "), Err(EnvelopeError::Empty)));
        assert!(matches!(EventEnvelope::parse("{"), Err(EnvelopeError::Json(_))));
        assert!(matches!(EventEnvelope::parse("[1]"), Err(EnvelopeError::NotAnObject)));
    }
}
