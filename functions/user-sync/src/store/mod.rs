pub mod employees;
pub mod processed;
pub mod users;

pub use employees::{Applied, ErpEmployeesTable, Lease, Leased};
pub use processed::{Erased, Found, ProcessedEvent, ProcessedUsersTable, RecordError, Verdict};
pub use users::{
    Changed, Cleared, Current, Inserted, Marked, PendingEvent, Row, ScanKey, ScannedRow, ScannedRows, StoredUser,
    UserPage, UsersTable,
};

/// A failed DynamoDB call, or an item that does not have the shape this code writes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // Boxed: the SDK's error is large, and it would make every `Result` carrying it large.
    #[error("the DynamoDB request failed")]
    Dynamo(#[source] Box<aws_sdk_dynamodb::Error>),
    #[error("a stored item does not have the expected shape")]
    Item(#[from] serde_dynamo::Error),
}

impl<E, R> From<aws_sdk_dynamodb::error::SdkError<E, R>> for StoreError
where
    aws_sdk_dynamodb::Error: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    fn from(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self {
        Self::Dynamo(Box::new(e.into()))
    }
}

/// `t` as the RFC 3339 text every time attribute of these tables holds.
pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time of our era formats as RFC 3339")
}

/// `t` as the epoch milliseconds every number-typed time attribute (`OutboxSince`, the
/// leases' expiries) holds, in a number attribute. Milliseconds, not RFC 3339:
/// conditions and the `PendingEvents` index compare them as numbers.
pub(crate) fn epoch_millis(t: time::OffsetDateTime) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::N(millis(t).to_string())
}

/// `t` in epoch milliseconds, for an item's number field written through `serde_dynamo`.
pub(crate) fn millis(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).expect("a time of our era")
}

/// Epoch milliseconds (`millis`, `epoch_millis`), as a time.
pub(crate) fn from_millis(millis: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis).checked_mul(1_000_000)?).ok()
}

/// Every item `keys` name in `table`, through as many `BatchGetItem` calls as DynamoDB needs
/// (it may leave keys for another call: throughput, 16 MB; each such call waits twice as long
/// as the one before, from 50 ms, as AWS advises); `None` when `until` passed before they
/// were all read.
pub(crate) async fn batch_get(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: aws_sdk_dynamodb::types::KeysAndAttributes,
    until: Option<std::time::Instant>,
) -> Result<Option<Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>>>, StoreError> {
    let mut items = Vec::new();
    let mut request = Some(keys);
    let mut backoff = std::time::Duration::ZERO;
    while let Some(keys) = request.take() {
        tokio::time::sleep(backoff).await;
        if until.is_some_and(|until| std::time::Instant::now() >= until) {
            return Ok(None);
        }
        let out = client.batch_get_item().request_items(table, keys).send().await?;
        items.extend(out.responses.unwrap_or_default().remove(table).unwrap_or_default());
        request = out
            .unprocessed_keys
            .and_then(|mut left| left.remove(table))
            .filter(|left| !left.keys().is_empty());
        backoff = (backoff * 2).clamp(std::time::Duration::from_millis(50), std::time::Duration::from_secs(2));
    }
    Ok(Some(items))
}

/// A conditional write's outcome: `true` when it was written, `false` when its condition
/// did not hold (nothing was written); any other failure is an error.
pub(crate) fn written<O, E, R>(result: Result<O, aws_sdk_dynamodb::error::SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    StoreError: From<aws_sdk_dynamodb::error::SdkError<E, R>>,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use time::macros::datetime;

    #[test]
    fn times_in_number_attributes_are_epoch_milliseconds_and_read_back() {
        let t = datetime!(2026-12-06 10:00:00.123 UTC);
        assert_eq!(super::epoch_millis(t), AttributeValue::N("1796551200123".to_owned()));
        assert_eq!(super::from_millis(super::millis(t)), Some(t));
    }
}
