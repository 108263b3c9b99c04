//! The `ErpProcessedUsers` table, the audit trail of processed events and the processor's
//! idempotency record: `EventId` (S) partition key; `UserId`, `UserName`, `UserEmail`,
//! `ProcessedAt`, `EventType`, `Status` as the original, plus `EventTimestamp`,
//! `ErpRecordId` and `ErpSystem`.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::ErpEmployee;
use crate::events::{EventEnvelope, EventType};

/// The only status the processor writes (the original's value).
pub const STATUS_PROCESSED: &str = "Processed";

/// An event the processor has integrated, as it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessedEvent<'a> {
    pub event: &'a EventEnvelope,
    pub erp: &'a ErpEmployee,
    pub processed_at: OffsetDateTime,
}

/// The outcome of recording an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time: the record was written.
    New,
    /// The event had been recorded already; nothing was written. `processed_at` is the
    /// first recording's time.
    Duplicate { processed_at: OffsetDateTime },
}

impl Recorded {
    /// When the event was first processed: the stored time for a duplicate, else `now`.
    pub fn processed_at(self, now: OffsetDateTime) -> OffsetDateTime {
        match self {
            Self::New => now,
            Self::Duplicate { processed_at } => processed_at,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the processed-events store failed")]
    Store(#[from] StoreError),
    /// The conditional write found a record, but a consistent read right after did not:
    /// someone deleted it in between. Retrying writes it afresh.
    #[error("the record of the event conflicted on write but was gone on read")]
    Vanished,
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for RecordError
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    fn from(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Self::Store(e.into())
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessedItem {
    event_id: String,
    user_id: String,
    user_name: String,
    user_email: String,
    #[serde(with = "time::serde::rfc3339")]
    processed_at: OffsetDateTime,
    event_type: EventType,
    status: String,
    #[serde(with = "time::serde::rfc3339")]
    event_timestamp: OffsetDateTime,
    erp_record_id: String,
    erp_system: String,
}

impl From<&ProcessedEvent<'_>> for ProcessedItem {
    fn from(p: &ProcessedEvent<'_>) -> Self {
        Self {
            event_id: p.event.event_id.clone(),
            user_id: p.event.user.id.clone(),
            user_name: p.event.user.name.clone(),
            user_email: p.event.user.email.clone(),
            processed_at: p.processed_at,
            event_type: p.event.event_type,
            status: STATUS_PROCESSED.to_owned(),
            event_timestamp: p.event.timestamp,
            erp_record_id: p.erp.record_id.clone(),
            erp_system: p.erp.system.clone(),
        }
    }
}

/// What a duplicate needs of the first record. Read alone, so records written by the
/// original system (without our added attributes) still answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessedAtItem {
    #[serde(with = "time::serde::rfc3339")]
    processed_at: OffsetDateTime,
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

    /// Records `processed` unless its event id is recorded already: a record is never
    /// overwritten, so a redelivered event keeps its first `ProcessedAt`.
    pub async fn record(&self, processed: &ProcessedEvent<'_>) -> Result<Recorded, RecordError> {
        let item = serde_dynamo::to_item(ProcessedItem::from(processed)).map_err(StoreError::from)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(EventId)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Recorded::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let processed_at = self
                    .processed_at(&processed.event.event_id)
                    .await?
                    .ok_or(RecordError::Vanished)?;
                Ok(Recorded::Duplicate { processed_at })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// When `event_id` was first processed, if it was; strongly consistent, so a record
    /// just written is always found.
    pub async fn processed_at(&self, event_id: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("EventId", AttributeValue::S(event_id.to_owned()))
            .projection_expression("ProcessedAt")
            .consistent_read(true)
            .send()
            .await?;
        out.item
            .map(|item| serde_dynamo::from_item::<_, ProcessedAtItem>(item).map(|i| i.processed_at))
            .transpose()
            .map_err(StoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::UserSnapshot;
    use std::collections::HashMap;
    use time::macros::datetime;

    #[test]
    fn item_has_the_originals_attribute_names_and_ours() {
        let event = EventEnvelope {
            event_id: "evt-001".to_owned(),
            event_type: EventType::UserCreated,
            timestamp: datetime!(2025-10-16 12:34:56.123 UTC),
            user: UserSnapshot {
                id: "user-123".to_owned(),
                name: "Ada".to_owned(),
                email: "ada@example.com".to_owned(),
            },
        };
        let erp = ErpEmployee::for_user("user-123", "OracleFusion");
        let processed = ProcessedEvent {
            event: &event,
            erp: &erp,
            processed_at: datetime!(2025-10-16 12:35:00.5 UTC),
        };
        let item: HashMap<String, AttributeValue> = serde_dynamo::to_item(ProcessedItem::from(&processed)).unwrap();
        let strings: HashMap<&str, &str> = item
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_s().expect("every attribute is a string").as_str()))
            .collect();
        assert_eq!(
            strings,
            HashMap::from([
                ("EventId", "evt-001"),
                ("UserId", "user-123"),
                ("UserName", "Ada"),
                ("UserEmail", "ada@example.com"),
                ("ProcessedAt", "2025-10-16T12:35:00.5Z"),
                ("EventType", "UserCreated"),
                ("Status", "Processed"),
                ("EventTimestamp", "2025-10-16T12:34:56.123Z"),
                ("ErpRecordId", "EMP-user-123"),
                ("ErpSystem", "OracleFusion"),
            ])
        );
    }

    #[test]
    fn a_duplicate_answers_with_the_first_time() {
        let first = datetime!(2025-10-16 12:35:00 UTC);
        let now = datetime!(2025-10-17 08:00:00 UTC);
        assert_eq!(Recorded::Duplicate { processed_at: first }.processed_at(now), first);
        assert_eq!(Recorded::New.processed_at(now), now);
    }

    #[test]
    fn reads_the_time_of_a_record_the_original_wrote() {
        // .NET's round-trip format ("o") has seven fractional digits.
        let item = HashMap::from([
            ("EventId".to_owned(), AttributeValue::S("evt-001".to_owned())),
            (
                "ProcessedAt".to_owned(),
                AttributeValue::S("2025-10-16T12:35:00.1234567Z".to_owned()),
            ),
        ]);
        let read: ProcessedAtItem = serde_dynamo::from_item(item).unwrap();
        assert_eq!(read.processed_at, datetime!(2025-10-16 12:35:00.1234567 UTC));
    }
}
