//! The `Users` table: its users (here) and their outbox (`outbox`), both over the one item
//! shape `item` defines. Stored data never fails a request: a row that cannot be read is
//! skipped.

mod item;
pub mod outbox;

pub use item::{PendingEvent, Row, StoredUser};
pub use outbox::{Cleared, Marked};

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use uuid::Uuid;

use self::item::{
    key_of, read_row, read_row_changed, readable, UserItem, OUTBOX, OUTBOX_CORRELATION_ID, OUTBOX_EVENT,
    OUTBOX_EVENT_ID, OUTBOX_LATER, OUTBOX_SINCE,
};
use super::StoreError;
use crate::domain::User;

/// The outcome of a conditional insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// An item with this id exists; nothing was written.
    AlreadyExists,
}

/// A user's row as a change finds it, with the oldest of its pending events, if any (a
/// change's event goes after it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub row: Row,
    pub pending: Option<PendingEvent>,
    /// The id of the oldest pending event, as stored (even were it unreadable): what a
    /// change's write is conditional on.
    pub pending_id: Option<String>,
}

/// The outcome of a change conditional on what was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    Changed,
    /// The user's version, or its pending events, changed since they were read (or it was
    /// deleted): nothing was written; read again.
    Stale,
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
        Ok(self.current(id).await?.and_then(|current| match current.row {
            Row::Live(user) => Some(user),
            Row::Deleted { .. } => None,
        }))
    }

    /// The row of `id` (a user or a tombstone) and its oldest pending event, read
    /// consistently; `None` when no such row exists or it is not a user's.
    pub async fn current(&self, id: Uuid) -> Result<Option<Current>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("Id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await?;
        let Some(item) = out.item else { return Ok(None) };
        let pending = item
            .contains_key(OUTBOX)
            .then(|| PendingEvent::from_item(&item))
            .flatten();
        let pending_id = item.get(OUTBOX_EVENT_ID).and_then(|v| v.as_s().ok()).cloned();
        Ok(read_row(item).map(|row| Current {
            row,
            pending,
            pending_id,
        }))
    }

    /// Stores `user`'s new name and email at `user.version` with its `event`, unless its
    /// version is no longer `user.version - 1` or its pending events changed since `seen`
    /// (the oldest pending event's id as read, if any): the event joins the outbox behind
    /// those still pending, atomically with the change.
    pub async fn update(
        &self,
        user: &StoredUser,
        seen: Option<&str>,
        event: &PendingEvent,
    ) -> Result<Changed, StoreError> {
        let at = crate::store::rfc3339(event.since);
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("Id", AttributeValue::S(user.id.to_string()))
            .expression_attribute_values(":name", AttributeValue::S(user.name.clone()))
            .expression_attribute_values(":email", AttributeValue::S(user.email.clone()))
            .expression_attribute_values(":updated", AttributeValue::S(at));
        let (request, outbox) = enqueue(request, seen, event);
        let (request, version) = versioned(request, user.version);
        let result = request
            .update_expression(format!(
                "SET #name = :name, Email = :email, UpdatedAt = :updated, {}",
                outbox.join(", ")
            ))
            .condition_expression(format!(
                "{version} AND attribute_not_exists(DeletedAt) AND {}",
                outbox_condition(seen)
            ))
            .expression_attribute_names("#name", "Name")
            .send()
            .await;
        changed(result)
    }

    /// Turns user `id` into a tombstone at `version` (its name and email removed), unless
    /// its version is no longer `version - 1`. The deletion's `event` replaces whatever
    /// was pending: every earlier change is superseded by it, and the events holding the
    /// user's name and email leave the table with it.
    pub async fn delete(&self, id: Uuid, version: u64, event: &PendingEvent) -> Result<Changed, StoreError> {
        let at = crate::store::rfc3339(event.since);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("Id", AttributeValue::S(id.to_string()))
            .expression_attribute_values(":deleted", AttributeValue::S(at));
        for (name, value) in event.attributes() {
            request = request.expression_attribute_values(format!(":{name}"), value);
        }
        let (request, version_condition) = versioned(request, version);
        let result = request
            .update_expression(format!(
                "SET Version = :version, DeletedAt = :deleted, {0} = :{0}, {1} = :{1}, {2} = :{2}, {3} = :{3}, {4} = :{4} \
                 REMOVE #name, Email, {5}",
                OUTBOX, OUTBOX_SINCE, OUTBOX_EVENT_ID, OUTBOX_EVENT, OUTBOX_CORRELATION_ID, OUTBOX_LATER
            ))
            .condition_expression(format!("{version_condition} AND attribute_not_exists(DeletedAt)"))
            .expression_attribute_names("#name", "Name")
            .send()
            .await;
        changed(result)
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

    /// One page of segment `segment` of a `segments`-way parallel scan: every row with its
    /// id and when it last changed, tombstones included, how many items were no user's (no UUID id, or neither a user
    /// nor a tombstone), and where the segment's next page starts (`None`: done).
    pub async fn scan_rows(
        &self,
        segment: i32,
        segments: i32,
        start: Option<ScanKey>,
    ) -> Result<ScannedRows, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment)
            .total_segments(segments)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        let items = out.items.unwrap_or_default();
        let read = items.len();
        let rows: Vec<ScannedRow> = items
            .into_iter()
            .filter_map(|item| {
                let id = item.get("Id")?.as_s().ok()?.parse().ok()?;
                let (row, changed_at) = read_row_changed(item)?;
                Some(ScannedRow { id, row, changed_at })
            })
            .collect();
        Ok(ScannedRows {
            unreadable: read - rows.len(),
            rows,
            next: out.last_evaluated_key.filter(|k| !k.is_empty()),
        })
    }
}

/// A page of a parallel scan of `Users`.
#[derive(Debug)]
pub struct ScannedRows {
    pub rows: Vec<ScannedRow>,
    /// Items that are no user's: not compared, only counted.
    pub unreadable: usize,
    pub next: Option<ScanKey>,
}

/// Where a scan resumes: the last key it read.
pub type ScanKey = HashMap<String, AttributeValue>;

type Update = aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;

/// Sets `Version` to `version`, on condition that it was `version - 1` (absent for 1: the
/// original's rows and ours from before versions read as 1).
fn versioned(request: Update, version: u64) -> (Update, &'static str) {
    let request = request
        .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
        .expression_attribute_values(":previous", AttributeValue::N((version - 1).to_string()));
    let condition = if version == 2 {
        "attribute_exists(Id) AND (attribute_not_exists(Version) OR Version = :previous)"
    } else {
        "attribute_exists(Id) AND Version = :previous"
    };
    (request, condition)
}

/// The `SET` clauses that add `event` to the outbox: as its head when nothing is pending
/// (`seen` is `None`), else as the one event of `OutboxLater`. Also sets `Version`.
///
/// Pending changes collapse into the newest: only updates wait behind the head (a deletion
/// replaces the whole outbox), and an update carries the user's whole state, so the
/// newest makes every older one that has not left redundant. The head stays: it may be on
/// its way already, and a pending creation must still arrive before any update. However
/// many changes an outage sees, the item holds at most two events.
fn enqueue(mut request: Update, seen: Option<&str>, event: &PendingEvent) -> (Update, Vec<String>) {
    let mut clauses = vec!["Version = :version".to_owned()];
    match seen {
        None => {
            for (name, value) in event.attributes() {
                clauses.push(format!("{name} = :{name}"));
                request = request.expression_attribute_values(format!(":{name}"), value);
            }
        }
        Some(head) => {
            clauses.push(format!("{OUTBOX_LATER} = :later"));
            request = request
                .expression_attribute_values(":later", AttributeValue::L(vec![event.to_later()]))
                .expression_attribute_values(":seen", AttributeValue::S(head.to_owned()));
        }
    }
    (request, clauses)
}

/// The outbox as it was read: empty, or headed by the event `seen`.
fn outbox_condition(seen: Option<&str>) -> String {
    match seen {
        None => format!("attribute_not_exists({OUTBOX})"),
        Some(_) => format!("{OUTBOX_EVENT_ID} = :seen"),
    }
}

fn changed<O, E, R>(result: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>) -> Result<Changed, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    StoreError: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    Ok(if crate::store::written(result)? {
        Changed::Changed
    } else {
        Changed::Stale
    })
}

/// A row as a scan reads it.
#[derive(Debug, Clone)]
pub struct ScannedRow {
    pub id: Uuid,
    pub row: Row,
    /// When the user was last created, changed or deleted; `None` when the row records
    /// none of these (the original's rows).
    pub changed_at: Option<OffsetDateTime>,
}
