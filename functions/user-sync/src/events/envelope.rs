//! The event envelope on the queue and at `POST /events`: the original's shape,
//! `{"eventId","eventType","timestamp","user":{"id","name","email"}}`, plus `version`, the
//! user's version the event leaves behind (a field the original's consumers ignore).
//!
//! `UserCreated` and `UserUpdated` carry the user's whole new state; `UserDeleted` carries
//! ids only, never a name or an email. An event without `version` is a `UserCreated` of
//! version 1, as the original published it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::domain::validation::{deliverable, Collector, FieldError, ValidationErrors};
use crate::domain::User;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeleted,
}

impl EventType {
    pub const KNOWN: [EventType; 3] = [EventType::UserCreated, EventType::UserUpdated, EventType::UserDeleted];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "UserCreated",
            Self::UserUpdated => "UserUpdated",
            Self::UserDeleted => "UserDeleted",
        }
    }

    /// Whether the event carries the user's state (name and email): all but a deletion.
    pub fn carries_state(self) -> bool {
        self != Self::UserDeleted
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::KNOWN.into_iter().find(|t| t.as_str() == raw)
    }
}

/// The user as the event carries it: `name` and `email` in `UserCreated` and
/// `UserUpdated` (required there), neither in `UserDeleted` (refused there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserSnapshot {
    /// The CRM's id of the user: 1–128 printable ASCII characters without spaces.
    #[schema(pattern = r"^[!-~]{1,128}$", example = "user-123")]
    pub id: String,
    /// Any text that is not blank, without U+FFFE or U+FFFF (a queue message cannot carry them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        value_type = String,
        pattern = r"^[^\ufffe\uffff]*[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff][^\ufffe\uffff]*$",
        example = "Test User"
    )]
    pub name: Option<String>,
    /// Any text that is not blank, without U+FFFE or U+FFFF (the CRM validated it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        value_type = String,
        pattern = r"^[^\ufffe\uffff]*[^\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufffe\uffff][^\ufffe\uffff]*$",
        example = "test@example.com"
    )]
    pub email: Option<String>,
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
    /// The user's version after this change: 1 for its creation, one more per change. Absent
    /// in the original's events, which were all creations: read as 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64, minimum = 1, maximum = 9_007_199_254_740_991_u64, example = 1)]
    pub version: Option<u64>,
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
            version: Some(1),
            user: UserSnapshot {
                id: user.id.to_string(),
                name: Some(user.name.clone()),
                email: Some(user.email.clone()),
            },
        }
    }

    /// The `UserUpdated` event of a user's new state at `version`: a new event of its own.
    pub fn user_updated(user: UserSnapshot, version: u64, event_id: uuid::Uuid, at: OffsetDateTime) -> Self {
        Self {
            event_id: event_id.to_string(),
            event_type: EventType::UserUpdated,
            timestamp: at,
            version: Some(version),
            user,
        }
    }

    /// The `UserDeleted` event of the user `id`, whose deletion is its `version`: ids only.
    pub fn user_deleted(id: uuid::Uuid, version: u64, event_id: uuid::Uuid, at: OffsetDateTime) -> Self {
        Self {
            event_id: event_id.to_string(),
            event_type: EventType::UserDeleted,
            timestamp: at,
            version: Some(version),
            user: UserSnapshot {
                id: id.to_string(),
                name: None,
                email: None,
            },
        }
    }

    /// The user's version after this event (1 when the event does not say: the original's).
    pub fn version(&self) -> u64 {
        self.version.unwrap_or(1)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope always serializes")
    }

    /// The fields of a posted event that a queue message could not carry (`UNDELIVERABLE`),
    /// all at once. Not part of `parse`: a user the CRM stored before the rule existed still
    /// travels (the publisher escapes such characters), and its events must still parse.
    pub fn check_deliverable(&self) -> Result<(), ValidationErrors> {
        let mut errors = Collector::default();
        for (text, field) in [(&self.user.name, "user.name"), (&self.user.email, "user.email")] {
            if let Some(text) = text {
                errors.take(deliverable(text, field));
            }
        }
        errors.finish()
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
            EventType::parse(&raw).ok_or_else(|| {
                FieldError::new(
                    "eventType",
                    "is not a known event type (known: UserCreated, UserUpdated, UserDeleted)",
                )
            })
        }));
        let timestamp = errors.take(text(root, "timestamp", "timestamp").and_then(|raw| {
            OffsetDateTime::parse(&raw, &Rfc3339)
                .map_err(|_| FieldError::new("timestamp", "must be an ISO-8601 date-time with offset"))
        }));
        let version = errors.take(version(root, event_type));
        let user = match root.get("user") {
            Some(Value::Object(user)) => {
                let id = errors.take(text(user, "id", "user.id").and_then(|id| bounded_id(id, "user.id")));
                let state = match event_type {
                    // Ids only: a deletion that names the user would spread what it erases.
                    Some(EventType::UserDeleted) => {
                        for key in ["name", "email"] {
                            if user.contains_key(key) {
                                errors.push(FieldError::new(
                                    format!("user.{key}"),
                                    "must be absent from UserDeleted",
                                ));
                            }
                        }
                        Some((None, None))
                    }
                    _ => {
                        let name = errors.take(text(user, "name", "user.name"));
                        let email = errors.take(text(user, "email", "user.email"));
                        name.zip(email).map(|(name, email)| (Some(name), Some(email)))
                    }
                };
                id.zip(state)
                    .map(|(id, (name, email))| UserSnapshot { id, name, email })
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
            version: version.expect("no error, so parsed"),
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

/// The largest version an event may carry: the largest integer every JSON parser reads
/// exactly (2^53 − 1), and more changes than a user will ever see.
pub const MAX_VERSION: u64 = 9_007_199_254_740_991;

/// The event's `version`: a whole number from 1, required but for `UserCreated` (the
/// original's events have none). `None` when absent. An unknown type requires nothing here.
fn version(root: &Map<String, Value>, event_type: Option<EventType>) -> Result<Option<u64>, FieldError> {
    match (root.get("version"), event_type) {
        (None, Some(EventType::UserUpdated | EventType::UserDeleted)) => Err(FieldError::new(
            "version",
            "is required for UserUpdated and UserDeleted",
        )),
        (None, _) => Ok(None),
        // JSON Schema's integers include `444.0`; `null` is not one (absent is the way to
        // say "the original's creation").
        (Some(value), _) => value
            .as_u64()
            .or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 1.0 && *f <= MAX_VERSION as f64)
                    .map(|f| f as u64)
            })
            .filter(|v| (1..=MAX_VERSION).contains(v))
            .map(Some)
            .ok_or_else(|| FieldError::new("version", format!("must be a whole number from 1 to {MAX_VERSION}"))),
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
            (json!({"eventType": "UserRenamed"}), vec!["eventType"], "unknown type"),
            (
                json!({"eventType": "UserUpdated"}),
                vec!["version"],
                "an update without a version",
            ),
            (json!({"version": 0}), vec!["version"], "version 0"),
            (
                json!({"version": 9_007_199_254_740_992_u64}),
                vec!["version"],
                "version above 2^53 - 1",
            ),
            (json!({"version": "2"}), vec!["version"], "version as text"),
            (json!({"version": 1.5}), vec!["version"], "fractional version"),
            (json!({"version": null}), vec!["version"], "null version"),
            (json!({"version": -3}), vec!["version"], "negative version"),
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
    fn an_event_without_version_is_version_one_and_keeps_its_bytes() {
        let envelope = EventEnvelope::parse(&valid().to_string()).unwrap();
        assert_eq!((envelope.version, envelope.version()), (None, 1));
        // The payload hash of the original's events is over these bytes: no `version` added.
        assert!(!envelope.to_json().contains("version"));
        let mut body = valid();
        body["eventType"] = json!("UserUpdated");
        body["version"] = json!(3);
        let update = EventEnvelope::parse(&body.to_string()).unwrap();
        assert_eq!((update.event_type, update.version()), (EventType::UserUpdated, 3));
        body["version"] = json!(444.0);
        assert_eq!(
            EventEnvelope::parse(&body.to_string()).unwrap().version(),
            444,
            "an integer, in JSON Schema's sense"
        );
        assert_eq!(EventEnvelope::parse(&update.to_json()).unwrap(), update);
    }

    #[test]
    fn a_deletion_carries_ids_only() {
        let deleted = json!({"eventId": "evt-009", "eventType": "UserDeleted", "version": 4,
                             "timestamp": "2025-10-16T12:34:56Z", "user": {"id": "user-123"}});
        let envelope = EventEnvelope::parse(&deleted.to_string()).unwrap();
        assert_eq!((&envelope.user.name, &envelope.user.email), (&None, &None));
        assert_eq!(EventEnvelope::parse(&envelope.to_json()).unwrap(), envelope);
        assert!(!envelope.to_json().contains("name"));

        let mut named = deleted.clone();
        named["user"]["name"] = json!("Ada");
        named["user"]["email"] = json!("ada@example.com");
        match EventEnvelope::parse(&named.to_string()) {
            Err(EnvelopeError::Invalid(e)) => assert_eq!(e.fields().collect::<Vec<_>>(), ["user.name", "user.email"]),
            other => panic!("a deletion with PII: {other:?}"),
        }
        let mut unversioned = deleted;
        unversioned.as_object_mut().unwrap().remove("version");
        assert!(
            EventEnvelope::parse(&unversioned.to_string()).is_err(),
            "a deletion without a version"
        );
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
    fn a_posted_event_names_the_text_a_queue_cannot_carry() {
        let mut body = valid();
        body["user"]["name"] = json!("Ada\u{FFFF}");
        body["user"]["email"] = json!("ada\u{FFFE}@example.com");
        let event = EventEnvelope::parse(&body.to_string()).expect("still an event: stored users travel");
        let errors = event.check_deliverable().unwrap_err();
        assert_eq!(errors.fields().collect::<Vec<_>>(), ["user.name", "user.email"]);
        assert!(EventEnvelope::parse(&valid().to_string())
            .unwrap()
            .check_deliverable()
            .is_ok());
    }

    #[test]
    fn rejects_what_is_not_an_object() {
        assert!(matches!(EventEnvelope::parse("  "), Err(EnvelopeError::Empty)));
        assert!(matches!(EventEnvelope::parse("{"), Err(EnvelopeError::Json(_))));
        assert!(matches!(EventEnvelope::parse("[1]"), Err(EnvelopeError::NotAnObject)));
    }
}
