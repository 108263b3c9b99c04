//! The `Users` table: its users (here) and their outbox (`outbox`), both over the one item
//! shape `item` defines. Stored data never fails a request: a row that cannot be read is
//! skipped.

mod item;
pub mod outbox;

pub use item::{PendingEvent, StoredUser};
pub use outbox::{Cleared, Marked};

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use self::item::{key_of, readable, UserItem};
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

    fn client(&self) -> &aws_sdk_dynamodb::Client {
        &self.client
    }

    fn table(&self) -> &str {
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
        Ok(if crate::store::written(result)? {
            Inserted::Created
        } else {
            Inserted::AlreadyExists
        })
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
