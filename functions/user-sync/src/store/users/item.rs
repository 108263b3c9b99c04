//! The shape of a `Users` item, in one place: `Id` (S) partition key; `Name`, `Email` as
//! the original, plus `CreatedAt`, `EventId` (the id of the user's `UserCreated` event),
//! `CorrelationId` (the request that created it), and while that event is not yet on the
//! queue, its five outbox attributes.
//!
//! `Outbox` (always `"pending"`) and `OutboxSince` (epoch milliseconds) key the sparse
//! global secondary index `PendingEvents`: only items with a pending event appear in it,
//! oldest first, so the relay's query costs nothing when all is delivered.
//!
//! Rows the original system wrote have only `Id`, `Name` and `Email`: they read as users
//! without a creation time. A row that cannot be read at all is logged by its id and
//! skipped.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::User;
use crate::events::EventEnvelope;

pub const PENDING_EVENTS_INDEX: &str = "PendingEvents";
pub const OUTBOX: &str = "Outbox";
pub const OUTBOX_SINCE: &str = "OutboxSince";
pub const OUTBOX_EVENT_ID: &str = "OutboxEventId";
pub const OUTBOX_EVENT: &str = "OutboxEvent";
pub const OUTBOX_CORRELATION_ID: &str = "OutboxCorrelationId";
pub(super) const PENDING: &str = "pending";

/// An event waiting to be sent, as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub event: EventEnvelope,
    pub correlation_id: String,
    /// When it entered the outbox: the relay's grace period and the staleness alarm count
    /// from here. A new user's event enters with its creation; a re-published one (the
    /// backfill) when it is marked, though it carries an older timestamp.
    pub since: OffsetDateTime,
}

impl PendingEvent {
    pub fn new(event: EventEnvelope, correlation_id: impl Into<String>) -> Self {
        Self {
            since: event.timestamp,
            event,
            correlation_id: correlation_id.into(),
        }
    }

    /// The same event, entering the outbox at `since`.
    pub fn entering_at(self, since: OffsetDateTime) -> Self {
        Self { since, ..self }
    }

    /// The attributes that mark an item as holding this pending event.
    pub(super) fn attributes(&self) -> HashMap<String, AttributeValue> {
        let since = self.since.unix_timestamp_nanos() / 1_000_000;
        HashMap::from([
            (OUTBOX.to_owned(), AttributeValue::S(PENDING.to_owned())),
            (OUTBOX_SINCE.to_owned(), AttributeValue::N(since.to_string())),
            (
                OUTBOX_EVENT_ID.to_owned(),
                AttributeValue::S(self.event.event_id.clone()),
            ),
            (OUTBOX_EVENT.to_owned(), AttributeValue::S(self.event.to_json())),
            (
                OUTBOX_CORRELATION_ID.to_owned(),
                AttributeValue::S(self.correlation_id.clone()),
            ),
        ])
    }

    pub(super) fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
        let event = EventEnvelope::parse(text(OUTBOX_EVENT)?).ok()?;
        let since = item
            .get(OUTBOX_SINCE)
            .and_then(|v| v.as_n().ok())
            .and_then(|ms| ms.parse::<i128>().ok())
            .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok())
            .unwrap_or(event.timestamp);
        Some(Self {
            event,
            correlation_id: text(OUTBOX_CORRELATION_ID)?.clone(),
            since,
        })
    }
}

/// A user as the table holds it: ours carry their creation time and event id, the
/// original system's rows do not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub created_at: Option<OffsetDateTime>,
    pub event_id: Option<Uuid>,
    /// The id of the request that created the user, which its event carries.
    pub correlation_id: Option<String>,
}

impl StoredUser {
    /// The user as this system created it; `None` for a row the original wrote.
    pub fn into_user(self) -> Option<User> {
        Some(User {
            id: self.id,
            name: self.name,
            email: self.email,
            created_at: self.created_at?,
            event_id: self.event_id?,
        })
    }
}

impl From<User> for StoredUser {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            name: u.name,
            email: u.email,
            created_at: Some(u.created_at),
            event_id: Some(u.event_id),
            correlation_id: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UserItem {
    id: Uuid,
    name: String,
    email: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    event_id: Uuid,
}

/// What a read needs of a row, the original's included.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredItem {
    id: Uuid,
    name: String,
    email: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_at: Option<OffsetDateTime>,
    #[serde(default)]
    event_id: Option<Uuid>,
    #[serde(default)]
    correlation_id: Option<String>,
}

impl From<&User> for UserItem {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            name: u.name.clone(),
            email: u.email.clone(),
            created_at: u.created_at,
            event_id: u.event_id,
        }
    }
}

impl From<StoredItem> for StoredUser {
    fn from(i: StoredItem) -> Self {
        Self {
            id: i.id,
            name: i.name,
            email: i.email,
            created_at: i.created_at,
            event_id: i.event_id,
            correlation_id: i.correlation_id,
        }
    }
}

/// The row as a user, or `None` (logged with the row's id) when it is not one.
pub(super) fn readable(item: HashMap<String, AttributeValue>) -> Option<StoredUser> {
    // The id only, cut to a key's plausible length: never the row's other values.
    let id: String = item
        .get("Id")
        .and_then(|v| v.as_s().ok())
        .map_or("<no Id>", String::as_str)
        .chars()
        .take(64)
        .collect();
    match serde_dynamo::from_item::<_, StoredItem>(item) {
        Ok(row) => Some(row.into()),
        Err(error) => {
            tracing::warn!(user_id = %id, error = %error, "a Users row is not a user; skipped");
            None
        }
    }
}

pub(super) fn key_of(id: Uuid) -> HashMap<String, AttributeValue> {
    HashMap::from([("Id".to_owned(), AttributeValue::S(id.to_string()))])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index the outbox queries is the one the CDK app deploys (cdk/lib/tables.json).
    #[test]
    fn the_outbox_attributes_are_the_deployed_index() {
        let tables: serde_json::Value =
            serde_json::from_str(include_str!("../../../../../cdk/lib/tables.json")).expect("valid JSON");
        let users = &tables["Users"];
        assert_eq!(users["partitionKey"], serde_json::json!({"name": "Id", "type": "S"}));
        let index = &users["indexes"][0];
        assert_eq!(index["name"], PENDING_EVENTS_INDEX);
        assert_eq!(index["partitionKey"], serde_json::json!({"name": OUTBOX, "type": "S"}));
        assert_eq!(index["sortKey"], serde_json::json!({"name": OUTBOX_SINCE, "type": "N"}));
        assert_eq!(
            index["nonKeyAttributes"],
            serde_json::json!([OUTBOX_EVENT_ID, OUTBOX_EVENT, OUTBOX_CORRELATION_ID])
        );
    }
}
