//! The shape of a `Users` item, in one place: `Id` (S) partition key; `Name`, `Email` as
//! the original, plus `CreatedAt`, `EventId` (the id of the user's `UserCreated` event),
//! `CorrelationId` (the request that created it), `Version` (N: 1 on creation, one more
//! per change; absent on the original's rows, which read as 1), and while events of the
//! user are not yet published, the outbox attributes: the oldest pending event in the
//! five `Outbox…` attributes, any later ones in `OutboxLater` (a list, oldest first).
//!
//! A deleted user is a tombstone: `Id`, `Version`, `DeletedAt` and its pending deletion
//! event, without `Name` or `Email`. It keeps the id from being created again and orders
//! the deletion after every change; reads treat it as no user.
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
pub const OUTBOX_LATER: &str = "OutboxLater";
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
        serde_dynamo::to_item(OutboxAttributes {
            outbox: PENDING.to_owned(),
            since: Some(crate::store::millis(self.since)),
            event_id: Some(self.event.event_id.clone()),
            event: self.event.to_json(),
            correlation_id: self.correlation_id.clone(),
        })
        .expect("strings and a number always make an item")
    }

    /// The event as an entry of `OutboxLater`.
    pub(super) fn to_later(&self) -> AttributeValue {
        AttributeValue::M(
            serde_dynamo::to_item(LaterEntry {
                event_id: Some(self.event.event_id.clone()),
                event: self.event.to_json(),
                correlation_id: self.correlation_id.clone(),
                since: Some(crate::store::millis(self.since)),
            })
            .expect("strings and a number always make an item"),
        )
    }

    /// An entry of `OutboxLater`, as `to_later` wrote it.
    pub(super) fn from_later(entry: &AttributeValue) -> Option<Self> {
        let entry: LaterEntry = serde_dynamo::from_item(entry.as_m().ok()?.clone()).ok()?;
        Self::read(&entry.event, entry.correlation_id, entry.since)
    }

    /// The pending event of a user item, as `attributes` wrote it.
    pub(super) fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let fields: OutboxAttributes = serde_dynamo::from_item(item.clone()).ok()?;
        Self::read(&fields.event, fields.correlation_id, fields.since)
    }

    /// The event a write of a user item put at the head of its outbox, read from the item
    /// before and after the write (a stream record's images): a write that changed the user's
    /// `Version` (a create, a change, a deletion) and whose event now heads the outbox (it
    /// found none pending, or a deletion replaced what was). Any other write leaves nothing
    /// to deliver: a change behind an older pending event (delivering that one moves it up),
    /// a re-publication's mark (the re-publisher delivers it), the clearing of a mark.
    pub fn left_by_write(
        before: Option<&HashMap<String, AttributeValue>>,
        after: &HashMap<String, AttributeValue>,
    ) -> Option<Self> {
        fn version(item: &HashMap<String, AttributeValue>) -> Option<&AttributeValue> {
            item.get("Version")
        }
        fn head(item: &HashMap<String, AttributeValue>) -> Option<&AttributeValue> {
            item.get(OUTBOX).and(item.get(OUTBOX_EVENT_ID))
        }
        let put_at_head = before.is_none_or(|before| version(before) != version(after) && head(before) != head(after));
        if !put_at_head || head(after).is_none() {
            return None;
        }
        let pending = Self::from_item(after);
        if pending.is_none() {
            // Only this crate writes these attributes: a bug, logged by the user's id alone.
            tracing::error!(
                user_id = after.get("Id").and_then(|v| v.as_s().ok()).map(String::as_str),
                "malformed pending event in a stream record skipped"
            );
        }
        pending
    }

    /// An entry without its time entered the outbox with its event.
    fn read(event: &str, correlation_id: String, since: Option<i64>) -> Option<Self> {
        let event = EventEnvelope::parse(event).ok()?;
        let since = match since {
            Some(millis) => crate::store::from_millis(millis)?,
            None => event.timestamp,
        };
        Some(Self {
            event,
            correlation_id,
            since,
        })
    }
}

/// The oldest pending event's attributes on a user item; `Outbox` and `OutboxSince` key the
/// `PendingEvents` index.
#[derive(Serialize, Deserialize)]
struct OutboxAttributes {
    #[serde(rename = "Outbox", default)]
    outbox: String,
    #[serde(rename = "OutboxSince", default)]
    since: Option<i64>,
    #[serde(rename = "OutboxEventId", default)]
    event_id: Option<String>,
    #[serde(rename = "OutboxEvent")]
    event: String,
    #[serde(rename = "OutboxCorrelationId")]
    correlation_id: String,
}

/// An entry of `OutboxLater`: the same event, without the index's key.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LaterEntry {
    #[serde(default)]
    event_id: Option<String>,
    event: String,
    correlation_id: String,
    #[serde(default)]
    since: Option<i64>,
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
    pub version: u64,
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
            version: self.version,
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
            version: u.version,
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
    version: u64,
}

/// What a read needs of a row, the original's and tombstones included.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredItem {
    id: Uuid,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    deleted_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    updated_at: Option<OffsetDateTime>,
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
            version: u.version,
        }
    }
}

/// A `Users` row as it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Live(StoredUser),
    /// A deleted user's tombstone, at its deletion's version.
    Deleted {
        version: u64,
    },
}

impl StoredItem {
    /// `None` for a row with neither a name and email nor a deletion: not a user.
    fn into_row(self) -> Option<Row> {
        let version = self.version.unwrap_or(1);
        if self.deleted_at.is_some() {
            return Some(Row::Deleted { version });
        }
        Some(Row::Live(StoredUser {
            id: self.id,
            name: self.name?,
            email: self.email?,
            created_at: self.created_at,
            event_id: self.event_id,
            correlation_id: self.correlation_id,
            version,
        }))
    }
}

/// The row as a user, or `None` for a tombstone, or for a row that is not a user (logged
/// with the row's id).
pub(super) fn readable(item: HashMap<String, AttributeValue>) -> Option<StoredUser> {
    match read_row(item)? {
        Row::Live(user) => Some(user),
        Row::Deleted { .. } => None,
    }
}

/// The row, or `None` (logged with the row's id) when it is not a user's.
pub(super) fn read_row(item: HashMap<String, AttributeValue>) -> Option<Row> {
    read_row_changed(item).map(|(row, _)| row)
}

/// A row and when it last changed: the latest of its deletion, change and creation times
/// (`None` for a row that records none, as the original's do).
pub(super) fn read_row_changed(item: HashMap<String, AttributeValue>) -> Option<(Row, Option<OffsetDateTime>)> {
    // The id only, cut to a key's plausible length: never the row's other values.
    let id: String = item
        .get("Id")
        .and_then(|v| v.as_s().ok())
        .map_or("<no Id>", String::as_str)
        .chars()
        .take(64)
        .collect();
    let row = serde_dynamo::from_item::<_, StoredItem>(item)
        .map_err(|e| e.to_string())
        .and_then(|row| {
            let changed = [row.deleted_at, row.updated_at, row.created_at]
                .into_iter()
                .flatten()
                .max();
            row.into_row()
                .map(|r| (r, changed))
                .ok_or_else(|| "no Name or Email".to_owned())
        });
    match row {
        Ok(row) => Some(row),
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
    use time::macros::datetime;

    fn pending() -> PendingEvent {
        let user = User {
            id: Uuid::from_u128(7),
            name: "Ada".to_owned(),
            email: "ada@example.com".to_owned(),
            created_at: datetime!(2026-12-06 10:00:00 UTC),
            event_id: Uuid::from_u128(8),
            version: 1,
        };
        PendingEvent::new(EventEnvelope::user_created(&user), "req-1")
            .entering_at(datetime!(2026-12-06 10:00:05.123 UTC))
    }

    #[test]
    fn a_pending_event_reads_back_from_its_attributes_and_from_outbox_later() {
        let event = pending();
        let attributes = event.attributes();
        assert_eq!(attributes[OUTBOX], AttributeValue::S(PENDING.to_owned()));
        assert_eq!(attributes[OUTBOX_SINCE], AttributeValue::N("1796551205123".to_owned()));
        assert_eq!(
            attributes[OUTBOX_EVENT_ID],
            AttributeValue::S(event.event.event_id.clone())
        );
        assert_eq!(attributes[OUTBOX_CORRELATION_ID], AttributeValue::S("req-1".to_owned()));
        assert_eq!(PendingEvent::from_item(&attributes), Some(event.clone()));
        let later = event.to_later();
        let entry = later.as_m().expect("a map");
        assert_eq!(entry["Since"], AttributeValue::N("1796551205123".to_owned()));
        assert_eq!(PendingEvent::from_later(&later), Some(event));
    }

    #[test]
    fn an_entry_without_its_time_entered_with_its_event_and_a_broken_one_reads_as_none() {
        let event = pending();
        let mut attributes = event.attributes();
        attributes.remove(OUTBOX_SINCE);
        let read = PendingEvent::from_item(&attributes).expect("readable");
        assert_eq!(read.since, event.event.timestamp);
        attributes.insert(OUTBOX_EVENT.to_owned(), AttributeValue::S("{not json".to_owned()));
        assert_eq!(PendingEvent::from_item(&attributes), None);
        assert_eq!(PendingEvent::from_item(&HashMap::new()), None);
        assert_eq!(PendingEvent::from_later(&AttributeValue::S("x".to_owned())), None);
    }

    #[test]
    fn a_write_leaves_the_event_it_put_at_the_head_of_the_outbox() {
        let created = pending();
        let mut changed = pending();
        changed.event.event_id = Uuid::from_u128(9).to_string();
        let item = |version: Option<&str>, head: Option<&PendingEvent>| {
            let mut item = HashMap::from([("Id".to_owned(), AttributeValue::S(Uuid::from_u128(7).to_string()))]);
            if let Some(version) = version {
                item.insert("Version".to_owned(), AttributeValue::N(version.to_owned()));
            }
            item.extend(head.map(PendingEvent::attributes).unwrap_or_default());
            item
        };
        let left =
            |before: Option<&HashMap<String, AttributeValue>>, after| PendingEvent::left_by_write(before, &after);
        let v1 = item(Some("1"), Some(&created));
        // A create; a change once nothing is pending; a change of an original row (no
        // Version); a deletion replacing a pending event.
        assert_eq!(left(None, v1.clone()), Some(created.clone()));
        assert_eq!(
            left(Some(&item(Some("1"), None)), item(Some("2"), Some(&changed))),
            Some(changed.clone())
        );
        assert_eq!(
            left(Some(&item(None, None)), item(Some("2"), Some(&changed))),
            Some(changed.clone())
        );
        assert_eq!(left(Some(&v1), item(Some("2"), Some(&changed))), Some(changed.clone()));
        // A change behind the pending create: the head is still the create's, whose own
        // record delivers it and then the change.
        assert_eq!(left(Some(&v1), item(Some("2"), Some(&created))), None);
        // A re-publication's mark and a clearing keep the version: nothing to deliver.
        assert_eq!(
            left(Some(&item(Some("2"), None)), item(Some("2"), Some(&changed))),
            None
        );
        assert_eq!(
            left(Some(&item(Some("2"), Some(&created))), item(Some("2"), Some(&changed))),
            None
        );
        assert_eq!(left(Some(&v1), item(Some("1"), None)), None);
        // A changed version with nothing pending (not written by this CRM), or a broken mark.
        assert_eq!(left(Some(&v1), item(Some("2"), None)), None);
        let mut broken = item(Some("2"), Some(&changed));
        broken.insert(OUTBOX_EVENT.to_owned(), AttributeValue::S("{not json".to_owned()));
        assert_eq!(left(Some(&v1), broken), None);
    }

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
