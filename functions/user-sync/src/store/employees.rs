//! The `ErpEmployees` table: the ERP's view of each user, what the processor last applied
//! to the user's employee record. `UserId` (S) partition key; `Version` (N), `State`
//! (`Active`, `Deleted`, or `Deleting` while the ERP has not confirmed a deletion), `ErpRecordId`, `ErpSystem`, `EventId` (the event applied last)
//! and `SyncedAt`. No name or email: the view orders events, it does not copy the ERP.
//!
//! A user's events are applied one at a time under a lease on the user's item
//! (`LeaseToken`, `LeaseExpiresAt`), so two deliveries never call the ERP for the same user
//! at once, and an older event that arrives later can never overwrite a newer state.
//! `PiiEventIds` lists the newest audit records that hold the user's name and email (at
//! most `MAX_PII_EVENT_IDS`, oldest first), so a deletion erases them although the
//! eventually consistent `ByUserId` index may not show them yet; it finds older ones.
//! `FailedVersion` (with `FailedEventId`, `FailedAt`) is the newest version of the user
//! whose event failed for good (refused, or on its last receive before the dead-letter
//! queue): the CRM API reads it for the user's sync status.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use time::OffsetDateTime;

use serde::Deserialize;

use super::StoreError;
use crate::domain::employee::{EmployeeState, EmployeeView, SyncState};

pub const USER_ID: &str = "UserId";

/// The attributes of a view, as an item holds them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ViewItem {
    user_id: String,
    version: u64,
    state: EmployeeState,
    erp_record_id: String,
    erp_system: String,
    event_id: String,
    #[serde(with = "time::serde::rfc3339")]
    synced_at: OffsetDateTime,
    /// A list, oldest first; a set in views written before it was bounded.
    #[serde(default)]
    pii_event_ids: Vec<String>,
}

/// The view in an item; `None` for an item that holds a lease only, or that is not a view.
fn view_of(item: &HashMap<String, AttributeValue>) -> Option<EmployeeView> {
    let item: ViewItem = serde_dynamo::from_item(item.clone()).ok()?;
    Some(EmployeeView {
        user_id: item.user_id,
        version: item.version,
        state: item.state,
        erp_record_id: item.erp_record_id,
        erp_system: item.erp_system,
        event_id: item.event_id,
        synced_at: item.synced_at,
        pii_event_ids: item.pii_event_ids,
    })
}

/// The view in an item and the newest version that failed for good.
fn state_of(item: &HashMap<String, AttributeValue>) -> SyncState {
    SyncState {
        view: view_of(item),
        failed_version: item
            .get("FailedVersion")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok()),
    }
}

/// A delivery's exclusive hold on one user, until `apply` or `release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    user_id: String,
    token: String,
    /// Whether the item held anything before the lease (else `release` removes it again).
    had_item: bool,
}

/// What asking for a user's lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // returned once per event and matched at once, never stored
pub enum Leased {
    /// This delivery holds the user, whose view (none before the first event) is this.
    Mine(Lease, Option<EmployeeView>),
    /// Another delivery holds an unexpired lease on the user: retry later.
    Busy,
}

/// What `apply` writes: the view after an applied event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied<'a> {
    pub version: u64,
    pub state: EmployeeState,
    pub erp_record_id: &'a str,
    pub erp_system: &'a str,
    pub event_id: &'a str,
    pub synced_at: OffsetDateTime,
    /// The records that hold the name and email, newest last (see `MAX_PII_EVENT_IDS`);
    /// ignored for a deletion, whose view lists none.
    pub pii_event_ids: &'a [String],
}

#[derive(Debug, Clone)]
pub struct ErpEmployeesTable {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl ErpEmployeesTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Takes the lease on `user_id` until `expires_at`, unless another unexpired one holds.
    /// An attempt whose write landed but whose answer was lost (a timeout, a dropped
    /// connection) is sent again by the SDK with the same token, and finds its own lease:
    /// the caller's, not another delivery's.
    pub async fn lease(
        &self,
        user_id: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Leased, StoreError> {
        let token = uuid::Uuid::new_v4().to_string();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(user_id.to_owned()))
            .update_expression("SET LeaseToken = :token, LeaseExpiresAt = :expires")
            .condition_expression("attribute_not_exists(LeaseToken) OR LeaseExpiresAt < :now OR LeaseToken = :token")
            .expression_attribute_values(":token", AttributeValue::S(token.clone()))
            .expression_attribute_values(":expires", super::epoch_millis(expires_at))
            .expression_attribute_values(":now", super::epoch_millis(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                return Ok(Leased::Busy)
            }
            Err(e) => return Err(e.into()),
        };
        let view = out.attributes.as_ref().and_then(view_of);
        // An item that held more than this lease (a view, a failure) outlives it.
        let had_item = out.attributes.as_ref().is_some_and(|item| {
            item.keys()
                .any(|k| ![USER_ID, "LeaseToken", "LeaseExpiresAt"].contains(&k.as_str()))
        });
        let lease = Lease {
            user_id: user_id.to_owned(),
            token,
            had_item,
        };
        Ok(Leased::Mine(lease, view))
    }

    /// Records `applied` as the user's view and ends the lease, in one write. `false` when
    /// the lease had expired and another delivery took it (which then writes the view).
    /// A deletion's view drops `PiiEventIds`: the records it listed are erased by then.
    pub async fn apply(&self, lease: &Lease, applied: &Applied<'_>) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let pii = match applied.state {
            EmployeeState::Deleted | EmployeeState::Deleting => " REMOVE LeaseToken, LeaseExpiresAt, PiiEventIds",
            EmployeeState::Active => ", PiiEventIds = :pii REMOVE LeaseToken, LeaseExpiresAt",
        };
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(USER_ID, s(&lease.user_id))
            .update_expression(format!(
                "SET Version = :version, #state = :state, ErpRecordId = :record, ErpSystem = :system, \
                 EventId = :event, SyncedAt = :at{pii}"
            ))
            .condition_expression("LeaseToken = :token")
            .expression_attribute_names("#state", "State")
            .expression_attribute_values(":version", AttributeValue::N(applied.version.to_string()))
            .expression_attribute_values(":state", s(applied.state.as_str()))
            .expression_attribute_values(":record", s(applied.erp_record_id))
            .expression_attribute_values(":system", s(applied.erp_system))
            .expression_attribute_values(":event", s(applied.event_id))
            .expression_attribute_values(":at", s(&super::rfc3339(applied.synced_at)))
            .expression_attribute_values(":token", s(&lease.token));
        if applied.state == EmployeeState::Active {
            let ids = applied
                .pii_event_ids
                .iter()
                .map(|id| AttributeValue::S(id.clone()))
                .collect();
            request = request.expression_attribute_values(":pii", AttributeValue::L(ids));
        }
        super::written(request.send().await)
    }

    /// Ends the lease without changing the view; an item the lease created is removed.
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let key = AttributeValue::S(lease.user_id.clone());
        let token = AttributeValue::S(lease.token.clone());
        // A lease that expired and was taken over is the new holder's to end: a failed
        // condition is fine.
        if !lease.had_item {
            // Removed only if nothing else was written to it meanwhile (`mark_failed` writes
            // without a lease); else just the lease goes.
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(USER_ID, key.clone())
                .condition_expression("LeaseToken = :token AND attribute_not_exists(FailedVersion)")
                .expression_attribute_values(":token", token.clone())
                .send()
                .await;
            if super::written(result)? {
                return Ok(());
            }
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(USER_ID, key)
            .update_expression("REMOVE LeaseToken, LeaseExpiresAt")
            .condition_expression("LeaseToken = :token")
            .expression_attribute_values(":token", token)
            .send()
            .await;
        super::written(result)?;
        Ok(())
    }

    /// The ERP's view of `user_id`, if any event of the user was applied.
    pub async fn get(&self, user_id: &str) -> Result<Option<EmployeeView>, StoreError> {
        Ok(self.sync_state(user_id).await?.view)
    }

    /// The ERP's view of `user_id` and its failures, in one read.
    pub async fn sync_state(&self, user_id: &str) -> Result<SyncState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.as_ref().map(state_of).unwrap_or_default())
    }

    /// The sync states of up to 100 users (one `BatchGetItem`, and more for the keys
    /// DynamoDB leaves for later), read consistently; a user with no item is absent.
    pub async fn sync_states(&self, user_ids: &[String]) -> Result<HashMap<String, SyncState>, StoreError> {
        let mut states = HashMap::with_capacity(user_ids.len());
        if user_ids.is_empty() {
            return Ok(states);
        }
        let keys = user_ids
            .iter()
            .map(|id| HashMap::from([(USER_ID.to_owned(), AttributeValue::S(id.clone()))]))
            .collect();
        let keys = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .expect("keys are set");
        let items = super::batch_get(&self.client, &self.table, keys, None)
            .await?
            .unwrap_or_default();
        for item in items {
            if let Some(AttributeValue::S(id)) = item.get(USER_ID) {
                states.insert(id.clone(), state_of(&item));
            }
        }
        Ok(states)
    }

    /// Records that the event `event_id`, at `version` of `user_id`, failed for good,
    /// unless a newer version's failure is recorded already.
    pub async fn mark_failed(
        &self,
        user_id: &str,
        version: u64,
        event_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(user_id.to_owned()))
            .update_expression("SET FailedVersion = :version, FailedEventId = :event, FailedAt = :at")
            .condition_expression("attribute_not_exists(FailedVersion) OR FailedVersion <= :version")
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            .expression_attribute_values(":event", AttributeValue::S(event_id.to_owned()))
            .expression_attribute_values(":at", AttributeValue::S(super::rfc3339(at)))
            .send()
            .await;
        super::written(result).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn view_item(pii: Option<AttributeValue>) -> HashMap<String, AttributeValue> {
        let mut item = HashMap::from([
            (USER_ID.to_owned(), s("u-1")),
            ("Version".to_owned(), AttributeValue::N("3".to_owned())),
            ("State".to_owned(), s("Deleting")),
            ("ErpRecordId".to_owned(), s("EMP-u-1")),
            ("ErpSystem".to_owned(), s("OracleFusion")),
            ("EventId".to_owned(), s("e-3")),
            ("SyncedAt".to_owned(), s("2026-12-06T10:00:00.123Z")),
            ("LeaseToken".to_owned(), s("t")),
        ]);
        if let Some(pii) = pii {
            item.insert("PiiEventIds".to_owned(), pii);
        }
        item
    }

    #[test]
    fn a_view_reads_from_its_item_with_a_list_a_legacy_set_or_no_records() {
        let list = AttributeValue::L(vec![s("e-1"), s("e-3")]);
        let view = view_of(&view_item(Some(list))).expect("a view");
        assert_eq!((view.version, view.state), (3, EmployeeState::Deleting));
        assert_eq!(view.pii_event_ids, ["e-1", "e-3"]);
        assert_eq!(view.synced_at.unix_timestamp_nanos() % 1_000_000_000, 123_000_000);
        let legacy = AttributeValue::Ss(vec!["e-1".to_owned()]);
        assert_eq!(view_of(&view_item(Some(legacy))).unwrap().pii_event_ids, ["e-1"]);
        assert!(view_of(&view_item(None)).unwrap().pii_event_ids.is_empty());
    }

    #[test]
    fn an_item_holding_only_a_lease_or_an_unknown_state_is_no_view() {
        let lease = HashMap::from([
            (USER_ID.to_owned(), s("u-1")),
            ("LeaseToken".to_owned(), s("t")),
            ("LeaseExpiresAt".to_owned(), AttributeValue::N("1".to_owned())),
        ]);
        assert_eq!(view_of(&lease), None);
        let mut unknown = view_item(None);
        unknown.insert("State".to_owned(), s("Archived"));
        assert_eq!(view_of(&unknown), None);
    }
}
