//! The `Users` table: `Id` (S) partition key; `Name`, `Email` as the original, plus
//! `CreatedAt`, `EventId` (the id of the user's `UserCreated` event), `CorrelationId` (the
//! request that created it), and while that event is not yet on the queue, its outbox
//! attributes (see `store::outbox`).
//!
//! Rows the original system wrote have only `Id`, `Name` and `Email`: they read as users
//! without a creation time. Stored data never fails a request: a row that cannot be read
//! at all is logged by its id and skipped.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::outbox::PendingEvent;
use super::StoreError;
use crate::domain::User;

/// The outcome of a conditional insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// An item with this id exists; nothing was written.
    AlreadyExists,
}

/// One page of users, and the id to continue after when more remain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPage {
    pub users: Vec<StoredUser>,
    pub next: Option<Uuid>,
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
struct UserItem {
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
fn readable(item: HashMap<String, AttributeValue>) -> Option<StoredUser> {
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

#[derive(Debug, Clone)]
pub struct UsersTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl UsersTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub(super) fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }

    /// Stores `user` together with its pending `event`, in one atomic write, unless an item
    /// with its id exists: a user is never overwritten, and never stored without its event.
    pub async fn insert(&self, user: &User, event: &PendingEvent) -> Result<Inserted, StoreError> {
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(UserItem::from(user))?;
        item.extend(event.attributes());
        // Kept after the event is sent: a repeated idempotent request re-sends the event
        // with the correlation id of the request that created the user.
        item.insert(
            "CorrelationId".to_owned(),
            AttributeValue::S(event.correlation_id.clone()),
        );
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(Id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Inserted::Created),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Inserted::AlreadyExists)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads one user; strongly consistent, so a user just written is always found. A row
    /// that is not a user reads as none.
    pub async fn get(&self, id: Uuid) -> Result<Option<StoredUser>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("Id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.and_then(readable))
    }

    /// Up to `limit` users after `after` (in the table's scan order). Scans until it has
    /// one user more than asked for, so `next` is set exactly when more remain, even when
    /// DynamoDB's 1 MB page limit cuts a scan short.
    pub async fn page(&self, limit: usize, after: Option<Uuid>) -> Result<UserPage, StoreError> {
        let mut users = Vec::with_capacity(limit + 1);
        let mut start = after.map(key_of);
        loop {
            let want = i32::try_from(limit + 1 - users.len()).expect("limits are small");
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .limit(want)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            users.extend(out.items.unwrap_or_default().into_iter().filter_map(readable));
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if users.len() > limit || start.is_none() {
                break;
            }
        }
        let next = if users.len() > limit {
            users.truncate(limit);
            users.last().map(|u| u.id)
        } else {
            None
        };
        Ok(UserPage { users, next })
    }
}

fn key_of(id: Uuid) -> HashMap<String, AttributeValue> {
    HashMap::from([("Id".to_owned(), AttributeValue::S(id.to_string()))])
}
