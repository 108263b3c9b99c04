//! The `ErpProcessedUsers` table, the audit trail of processed events and the processor's
//! idempotency record: `EventId` (S) partition key; `UserId`, `UserName`, `UserEmail`,
//! `ProcessedAt`, `EventType`, `Status` as the original, plus `EventTimestamp`,
//! `ErpRecordId`, `ErpSystem` and `PayloadHash`, and `Version` (the user's version the
//! event carries).
//!
//! `Status` is `Processed` for an event the ERP applied, `Superseded` for one that arrived
//! after a newer version of its user was applied (it changed nothing; `SupersededBy` is the
//! version the ERP held). A repeated delivery writes no record of its own: it counts in
//! `Duplicates` (and `LastDuplicateAt`) of the first one. Only an applied `UserCreated` or
//! `UserUpdated` holds `UserName` and `UserEmail`, and `erase` removes them once the user
//! is deleted.
//!
//! A record is written once, when its event's outcome is known: a conditional put that never
//! overwrites a record. What keeps concurrent and repeated deliveries of an event to one ERP
//! call is the lease on its user (`employees`), under which the processor reads the record
//! (`find`) before the call: the two are one round trip, the record and the view another.

use std::time::Instant;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::ErpEmployee;
use crate::events::{EventEnvelope, EventType};

/// The status of a completed record (the original's value).
pub const STATUS_PROCESSED: &str = "Processed";
/// The status of a claim, which processors before the record was written in one put left
/// while the ERP call ran: one left by a delivery that died is still to be processed.
pub const STATUS_IN_PROGRESS: &str = "InProgress";
/// The status of an event that arrived after a newer version of its user was applied.
pub const STATUS_SUPERSEDED: &str = "Superseded";
/// The name of the index on `UserId` (cdk/lib/tables.json).
pub const BY_USER_ID_INDEX: &str = "ByUserId";

/// How many erasure writes are in flight at once: DynamoDB takes far more per partition,
/// and a user's records spread over many partitions (the table is keyed by event id).
pub const ERASE_CONCURRENCY: usize = 32;
/// Which records of a chunk still hold PII (`None`: time ran out before they were read).
type HoldingPii = Result<Option<Vec<String>>, StoreError>;

/// The most keys one `BatchGetItem` reads.
const MAX_BATCH_GET: usize = 100;

/// How far an erasure got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Erased {
    /// Every record of the user looked at holds no name or email now.
    Complete { records: usize },
    /// Time ran out after `done` of `records`: what is erased stays erased, and the next
    /// attempt looks at the rest.
    Incomplete { records: usize, done: usize },
}

/// What processing did with an event, as its record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The ERP applied it.
    Applied,
    /// The ERP held `erp_version`, newer (or a deletion): the event changed nothing. `None`
    /// when the ERP itself refused the write as stale, without saying its version.
    Superseded { erp_version: Option<u64> },
}

/// An event the processor has handled, as it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessedEvent<'a> {
    pub event: &'a EventEnvelope,
    pub erp: &'a ErpEmployee,
    pub processed_at: OffsetDateTime,
    pub verdict: Verdict,
}

/// What the audit trail holds of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No record, or only the claim an earlier version of the processor left when its
    /// delivery died: the event is still to be processed.
    Nothing,
    /// Processed before, with the same payload: nothing to do. `processed_at` is the
    /// first processing's time.
    Duplicate { processed_at: OffsetDateTime },
    /// The event id is recorded with another payload: this is not the same event.
    Conflict,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the processed-events store failed")]
    Store(#[from] StoreError),
    /// The conditional write found a record, but a consistent read right after did not:
    /// someone deleted it in between. Retrying writes it afresh.
    #[error("the record of the event conflicted on write but was gone on read")]
    Vanished,
    /// A deletion's erasure ran out of the invocation's time: what it erased stays erased,
    /// and the event's next delivery resumes it.
    #[error("erasing the user's name and email ran out of time after {done} of {records} records")]
    ErasureIncomplete { records: usize, done: usize },
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for RecordError
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    fn from(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Self::Store(e.into())
    }
}

/// The record, written once the event's outcome is known. Only an applied state holds a
/// name and an email.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct RecordItem<'a> {
    event_id: &'a str,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_email: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    processed_at: OffsetDateTime,
    event_type: EventType,
    status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    event_timestamp: OffsetDateTime,
    version: u64,
    payload_hash: String,
    erp_record_id: &'a str,
    erp_system: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    superseded_by: Option<u64>,
}

/// What a later delivery needs of an existing record. Every attribute but `Status` is
/// optional: the original system's records have no `PayloadHash`, claims no `ProcessedAt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExistingItem {
    status: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    payload_hash: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    processed_at: Option<OffsetDateTime>,
    #[serde(default)]
    user_name: Option<String>,
    #[serde(default)]
    user_email: Option<String>,
}

impl ExistingItem {
    fn found(self, event: &EventEnvelope) -> Result<Found, RecordError> {
        // A record without a hash was written by the original system: its user id, name and
        // email are what it knew of the payload. Once a deletion erased the name and email,
        // the user id alone still matches the record's redeliveries.
        let same = match &self.payload_hash {
            Some(hash) => *hash == payload_hash(event),
            None => {
                let kept = |stored: &Option<String>, sent: &Option<String>| stored.is_none() || stored == sent;
                self.user_id.as_deref() == Some(event.user.id.as_str())
                    && kept(&self.user_name, &event.user.name)
                    && kept(&self.user_email, &event.user.email)
            }
        };
        Ok(match (same, self.status.as_str()) {
            (false, _) => Found::Conflict,
            (true, STATUS_IN_PROGRESS) => Found::Nothing,
            (true, _) => Found::Duplicate {
                processed_at: self.processed_at.ok_or(RecordError::Vanished)?,
            },
        })
    }
}

/// The SHA-256 of the event as the envelope serializes it: equal for the same event
/// however it was formatted on the wire, and no PII in the record. A creation's explicit
/// `version: 1` is the absent version of the events published before versions existed,
/// so a re-sent creation of such a user is still the same event, not a conflict.
fn payload_hash(event: &EventEnvelope) -> String {
    let mut canonical = event.clone();
    if canonical.event_type == EventType::UserCreated && canonical.version == Some(1) {
        canonical.version = None;
    }
    Sha256::digest(canonical.to_json().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Clone)]
pub struct ProcessedUsersTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl ProcessedUsersTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// What the trail holds of `event`: read consistently, before its user's lease is
    /// certain, so the caller decides on it only under that lease, and writes with `record`,
    /// which checks again.
    pub async fn find(&self, event: &EventEnvelope) -> Result<Found, RecordError> {
        match self.existing(&event.event_id).await? {
            Some(existing) => existing.found(event),
            None => Ok(Found::Nothing),
        }
    }

    /// Writes the record of a processed event, in one conditional put: `Found::Nothing` when
    /// this write recorded it, else what was there first (a delivery that outlived its
    /// user's lease, or an id another user's event took in the same moment), left as it was.
    pub async fn record(&self, processed: &ProcessedEvent<'_>) -> Result<Found, RecordError> {
        let event = processed.event;
        let (status, pii, superseded_by) = match processed.verdict {
            Verdict::Applied => (
                STATUS_PROCESSED,
                event.user.name.as_deref().zip(event.user.email.as_deref()),
                None,
            ),
            Verdict::Superseded { erp_version } => (STATUS_SUPERSEDED, None, erp_version),
        };
        let item = RecordItem {
            event_id: &event.event_id,
            user_id: &event.user.id,
            user_name: pii.map(|(name, _)| name),
            user_email: pii.map(|(_, email)| email),
            processed_at: processed.processed_at,
            event_type: event.event_type,
            status,
            event_timestamp: event.timestamp,
            version: event.version(),
            payload_hash: payload_hash(event),
            erp_record_id: &processed.erp.record_id,
            erp_system: &processed.erp.system,
            superseded_by,
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(item).map_err(StoreError::from)?))
            .condition_expression("attribute_not_exists(EventId) OR #status = :in_progress")
            .expression_attribute_names("#status", "Status")
            .expression_attribute_values(":in_progress", AttributeValue::S(STATUS_IN_PROGRESS.to_owned()))
            .send()
            .await;
        if super::written(result)? {
            return Ok(Found::Nothing);
        }
        match self
            .existing(&event.event_id)
            .await?
            .ok_or(RecordError::Vanished)?
            .found(event)?
        {
            // A claim of an earlier version, written in between: written over next time.
            Found::Nothing => Err(RecordError::Vanished),
            found => Ok(found),
        }
    }

    /// Counts a repeated delivery of a recorded event on its record.
    pub async fn note_duplicate(&self, event_id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let at = super::rfc3339(at);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("EventId", AttributeValue::S(event_id.to_owned()))
            .update_expression("ADD Duplicates :one SET LastDuplicateAt = :at")
            .condition_expression("attribute_exists(EventId)")
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":at", AttributeValue::S(at))
            .send()
            .await;
        super::written(result).map(|_| ())
    }

    /// Removes the name and email from every record of `user_id`: those `known` (read
    /// consistently by the caller) and those the `ByUserId` index lists, which catches the
    /// original system's records but may lag a write by a moment. Nothing is started after
    /// `until`: the records are read 100 at a time (`BatchGetItem`) and only those still
    /// holding a name or an email are written, `ERASE_CONCURRENCY` at a time. Thousands of
    /// records fit an invocation; a user with more is `Incomplete`, and the next attempt
    /// spends reads, not writes, on what this one erased, so every attempt gets further.
    pub async fn erase(&self, user_id: &str, known: &[String], until: Instant) -> Result<Erased, StoreError> {
        let mut event_ids: Vec<String> = known.to_vec();
        let mut start = None;
        loop {
            if Instant::now() >= until {
                return Ok(Erased::Incomplete {
                    records: event_ids.len(),
                    done: 0,
                });
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_USER_ID_INDEX)
                .key_condition_expression("UserId = :user")
                .expression_attribute_values(":user", AttributeValue::S(user_id.to_owned()))
                .set_exclusive_start_key(start)
                .send()
                .await?;
            event_ids.extend(
                out.items()
                    .iter()
                    .filter_map(|item| item.get("EventId").and_then(|v| v.as_s().ok()).cloned()),
            );
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                break;
            }
        }
        event_ids.sort_unstable();
        event_ids.dedup();
        let records = event_ids.len();
        let holding: Vec<(usize, HoldingPii)> = stream::iter(event_ids.chunks(MAX_BATCH_GET).map(<[String]>::to_vec))
            .map(|chunk| async move { (chunk.len(), self.holding_pii(&chunk, until).await) })
            .buffer_unordered(ERASE_CONCURRENCY / 8)
            .collect()
            .await;
        let mut to_erase = Vec::new();
        let mut unread = 0;
        for (len, ids) in holding {
            match ids? {
                Some(ids) => to_erase.extend(ids),
                None => unread += len,
            }
        }
        let results: Vec<Result<bool, StoreError>> = stream::iter(to_erase)
            .map(|event_id| async move {
                if Instant::now() >= until {
                    return Ok(false);
                }
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("EventId", AttributeValue::S(event_id))
                    .update_expression("REMOVE UserName, UserEmail")
                    .condition_expression("attribute_exists(UserName) OR attribute_exists(UserEmail)")
                    .send()
                    .await;
                super::written(result).map(|_| true)
            })
            .buffer_unordered(ERASE_CONCURRENCY)
            .collect()
            .await;
        let mut left = unread;
        for result in results {
            left += usize::from(!result?);
        }
        Ok(if left == 0 {
            Erased::Complete { records }
        } else {
            Erased::Incomplete {
                records,
                done: records - left,
            }
        })
    }

    /// Which of `event_ids` (at most `MAX_BATCH_GET`) still hold a name or an email; `None`
    /// when `until` passed before they were all read.
    async fn holding_pii(&self, event_ids: &[String], until: Instant) -> Result<Option<Vec<String>>, StoreError> {
        let keys = event_ids
            .iter()
            .map(|id| HashMap::from([("EventId".to_owned(), AttributeValue::S(id.clone()))]))
            .collect();
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .projection_expression("EventId, UserName, UserEmail")
            .build()
            .expect("keys are set");
        let Some(items) = super::batch_get(&self.client, &self.table, keys, Some(until)).await? else {
            return Ok(None);
        };
        Ok(Some(
            items
                .into_iter()
                .filter(|item| item.contains_key("UserName") || item.contains_key("UserEmail"))
                .filter_map(|item| match item.get("EventId") {
                    Some(AttributeValue::S(id)) => Some(id.clone()),
                    _ => None,
                })
                .collect(),
        ))
    }

    /// The record of `event_id`, if any; strongly consistent, so a record just written is
    /// always found.
    async fn existing(&self, event_id: &str) -> Result<Option<ExistingItem>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("EventId", AttributeValue::S(event_id.to_owned()))
            .projection_expression("#status, UserId, PayloadHash, ProcessedAt, UserName, UserEmail")
            .expression_attribute_names("#status", "Status")
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .map(serde_dynamo::from_item::<_, ExistingItem>)
            .transpose()
            .map_err(StoreError::from)
    }

    /// One cheap read of a key that never exists, to open the connection during init.
    pub async fn prime(&self) -> Result<(), StoreError> {
        self.existing("connection-priming").await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::UserSnapshot;
    use std::collections::HashMap;
    use time::macros::datetime;

    fn event(user_id: &str) -> EventEnvelope {
        EventEnvelope {
            event_id: "evt-001".to_owned(),
            event_type: EventType::UserCreated,
            timestamp: datetime!(2025-10-16 12:34:56.123 UTC),
            version: None,
            user: UserSnapshot {
                id: user_id.to_owned(),
                name: Some("Ada".to_owned()),
                email: Some("ada@example.com".to_owned()),
            },
        }
    }

    fn existing(status: &str, hash: Option<String>, user_id: Option<&str>) -> ExistingItem {
        ExistingItem {
            status: status.to_owned(),
            user_id: user_id.map(str::to_owned),
            payload_hash: hash,
            processed_at: Some(datetime!(2025-10-16 12:35:00 UTC)),
            user_name: None,
            user_email: None,
        }
    }

    /// A record the original wrote, holding a name and an email (until an erasure).
    fn original(name: Option<&str>, email: Option<&str>) -> ExistingItem {
        ExistingItem {
            user_name: name.map(str::to_owned),
            user_email: email.map(str::to_owned),
            ..existing(STATUS_PROCESSED, None, Some("user-123"))
        }
    }

    #[test]
    fn the_hash_is_of_the_payload_and_holds_no_pii() {
        let hash = payload_hash(&event("user-123"));
        assert_eq!(hash.len(), 64);
        assert_eq!(hash, payload_hash(&event("user-123")));
        assert_ne!(hash, payload_hash(&event("user-456")));
        let mut renamed = event("user-123");
        renamed.user.name = Some("Grace".to_owned());
        assert_ne!(hash, payload_hash(&renamed), "another name is another payload");
        let mut versioned = event("user-123");
        versioned.version = Some(1);
        assert_eq!(hash, payload_hash(&versioned), "a creation is version 1, said or not");
        versioned.version = Some(2);
        assert_ne!(hash, payload_hash(&versioned));
    }

    #[test]
    fn a_later_delivery_finds_nothing_a_duplicate_or_a_conflict() {
        let ours = event("user-123");
        let same = Some(payload_hash(&ours));
        let other = Some(payload_hash(&event("user-456")));
        let first = datetime!(2025-10-16 12:35:00 UTC);
        for (record, verdict, case) in [
            (
                existing(STATUS_PROCESSED, same.clone(), None),
                Found::Duplicate { processed_at: first },
                "processed, same payload",
            ),
            (
                existing(STATUS_IN_PROGRESS, same, None),
                Found::Nothing,
                "claimed by an earlier version, whose delivery died",
            ),
            (
                existing(STATUS_PROCESSED, other.clone(), None),
                Found::Conflict,
                "processed, another payload",
            ),
            (
                existing(STATUS_IN_PROGRESS, other, None),
                Found::Conflict,
                "claimed by an earlier version with another payload",
            ),
            (
                existing(STATUS_PROCESSED, None, Some("user-123")),
                Found::Duplicate { processed_at: first },
                "the original's record",
            ),
            (
                existing(STATUS_PROCESSED, None, Some("user-456")),
                Found::Conflict,
                "the original's record of another user",
            ),
            (
                original(Some("Ada"), Some("ada@example.com")),
                Found::Duplicate { processed_at: first },
                "the original's record, same name and email",
            ),
            (
                original(Some("Grace"), Some("ada@example.com")),
                Found::Conflict,
                "the original's record with another name",
            ),
            (
                original(Some("Ada"), Some("grace@example.com")),
                Found::Conflict,
                "the original's record with another email",
            ),
            (
                original(None, None),
                Found::Duplicate { processed_at: first },
                "the original's record, erased: the user id alone",
            ),
        ] {
            assert_eq!(record.found(&ours).unwrap(), verdict, "{case}");
        }
    }

    #[test]
    fn reads_a_record_the_original_wrote() {
        // .NET's round-trip format ("o") has seven fractional digits.
        let item = HashMap::from([
            ("EventId".to_owned(), AttributeValue::S("evt-001".to_owned())),
            ("UserId".to_owned(), AttributeValue::S("user-123".to_owned())),
            ("UserName".to_owned(), AttributeValue::S("Ada".to_owned())),
            ("UserEmail".to_owned(), AttributeValue::S("ada@example.com".to_owned())),
            ("EventType".to_owned(), AttributeValue::S("UserCreated".to_owned())),
            ("Status".to_owned(), AttributeValue::S("Processed".to_owned())),
            (
                "ProcessedAt".to_owned(),
                AttributeValue::S("2025-10-16T12:35:00.1234567Z".to_owned()),
            ),
        ]);
        let read: ExistingItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(
            read.found(&event("user-123")).unwrap(),
            Found::Duplicate {
                processed_at: datetime!(2025-10-16 12:35:00.1234567 UTC)
            }
        );
    }
}
