//! The `ErpEmployees` table: the ERP's view of each user, what the processor last applied
//! to the user's employee record. `UserId` (S) partition key; `Version` (N), `State`
//! (`Active` or `Deleted`), `ErpRecordId`, `ErpSystem`, `EventId` (the event applied last)
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

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::StoreError;

pub const USER_ID: &str = "UserId";

/// What the ERP holds of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmployeeState {
    Active,
    /// The employee record was removed. Final: no later event brings it back.
    Deleted,
    /// The user was deleted and erased here, but the ERP has not confirmed the removal (it
    /// refused or was down): final like `Deleted` for every later state, while the
    /// deletion's redelivery still calls the ERP.
    Deleting,
}

impl EmployeeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Deleted => "Deleted",
            Self::Deleting => "Deleting",
        }
    }

    /// Deleted, whether or not the ERP confirmed it: no later state applies.
    pub fn is_deleted(self) -> bool {
        self != Self::Active
    }
}

/// The ERP's view of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmployeeView {
    pub user_id: String,
    /// The user's version the ERP holds.
    pub version: u64,
    pub state: EmployeeState,
    pub erp_record_id: String,
    pub erp_system: String,
    /// The event that brought the ERP to this version.
    pub event_id: String,
    pub synced_at: OffsetDateTime,
    /// The newest audit records (by event id, oldest first) that hold the user's name and
    /// email, at most `MAX_PII_EVENT_IDS`.
    pub pii_event_ids: Vec<String>,
}

/// How many of the newest audit records holding a user's name and email the view lists.
/// They are what the `ByUserId` index may not show yet when a deletion erases the user (it
/// lags a write by a moment); older ones the index holds. Bounded, so the view stays far
/// below DynamoDB's 400 KB item limit however often a user changes.
pub const MAX_PII_EVENT_IDS: usize = 16;

impl EmployeeView {
    /// The records `pii_event_ids` lists once `event_id`'s record holds the name and email
    /// too: the newest `MAX_PII_EVENT_IDS`.
    pub fn pii_event_ids_with(view: Option<&Self>, event_id: &str) -> Vec<String> {
        let mut ids: Vec<String> = view
            .map(|v| v.pii_event_ids.iter().filter(|id| *id != event_id).cloned().collect())
            .unwrap_or_default();
        ids.push(event_id.to_owned());
        let excess = ids.len().saturating_sub(MAX_PII_EVENT_IDS);
        ids.drain(..excess);
        ids
    }
}

impl EmployeeView {
    /// The view in an item; `None` for an item that holds a lease only, or that is not a view.
    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let state = match text("State")?.as_str() {
            "Active" => EmployeeState::Active,
            "Deleted" => EmployeeState::Deleted,
            "Deleting" => EmployeeState::Deleting,
            _ => return None,
        };
        Some(Self {
            user_id: text(USER_ID)?,
            version: item.get("Version")?.as_n().ok()?.parse().ok()?,
            state,
            erp_record_id: text("ErpRecordId")?,
            erp_system: text("ErpSystem")?,
            event_id: text("EventId")?,
            synced_at: OffsetDateTime::parse(&text("SyncedAt")?, &Rfc3339).ok()?,
            // A list, oldest first; a set in views written before it was bounded.
            pii_event_ids: match item.get("PiiEventIds") {
                Some(AttributeValue::L(ids)) => ids.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
                Some(AttributeValue::Ss(ids)) => ids.clone(),
                _ => Vec::new(),
            },
        })
    }
}

/// What the CRM API tells a client of a user's sync: the ERP's view, if any event was
/// applied, and the newest version whose event failed for good, if any.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncState {
    pub view: Option<EmployeeView>,
    pub failed_version: Option<u64>,
}

/// Whether the ERP has a user's latest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// The ERP holds an older version (or none), and the latest one's event is on its way.
    Pending,
    /// The ERP holds this version, or a newer one.
    Synced,
    /// The event of this version failed for good (refused, or in the dead-letter queue).
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Failed => "failed",
        }
    }
}

impl SyncState {
    /// The status of a user at `version` against this state. A failure of an older
    /// version does not count: the latest version carries the whole state, and applies.
    pub fn status(&self, version: u64) -> SyncStatus {
        if self.view.as_ref().is_some_and(|v| v.version >= version) {
            SyncStatus::Synced
        } else if self.failed_version.is_some_and(|failed| failed >= version) {
            SyncStatus::Failed
        } else {
            SyncStatus::Pending
        }
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

fn epoch_millis(t: OffsetDateTime) -> String {
    (t.unix_timestamp_nanos() / 1_000_000).to_string()
}

impl ErpEmployeesTable {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Takes the lease on `user_id` until `expires_at`, unless another unexpired one holds.
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
            .condition_expression("attribute_not_exists(LeaseToken) OR LeaseExpiresAt < :now")
            .expression_attribute_values(":token", AttributeValue::S(token.clone()))
            .expression_attribute_values(":expires", AttributeValue::N(epoch_millis(expires_at)))
            .expression_attribute_values(":now", AttributeValue::N(epoch_millis(now)))
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
        let view = out.attributes.as_ref().and_then(EmployeeView::from_item);
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
        let Some(item) = out.item else {
            return Ok(SyncState::default());
        };
        Ok(SyncState {
            view: EmployeeView::from_item(&item),
            failed_version: item
                .get("FailedVersion")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok()),
        })
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

    fn view(version: u64) -> EmployeeView {
        EmployeeView {
            user_id: "u".to_owned(),
            version,
            state: EmployeeState::Active,
            erp_record_id: "EMP-u".to_owned(),
            erp_system: "OracleFusion".to_owned(),
            event_id: "e".to_owned(),
            synced_at: OffsetDateTime::UNIX_EPOCH,
            pii_event_ids: Vec::new(),
        }
    }

    #[test]
    fn the_view_lists_the_newest_records_holding_pii() {
        let mut view = view(1);
        for n in 0..40 {
            view.pii_event_ids = EmployeeView::pii_event_ids_with(Some(&view), &format!("e{n}"));
        }
        let expected: Vec<String> = (24..40).map(|n| format!("e{n}")).collect();
        assert_eq!(view.pii_event_ids, expected);
        assert_eq!(
            EmployeeView::pii_event_ids_with(Some(&view), "e39").len(),
            MAX_PII_EVENT_IDS,
            "a repeat is listed once"
        );
        assert_eq!(EmployeeView::pii_event_ids_with(None, "e0"), ["e0"]);
    }

    #[test]
    fn the_status_compares_the_erps_version_and_failures_with_the_users() {
        for (view, failed, version, status, case) in [
            (None, None, 1, SyncStatus::Pending, "nothing applied yet"),
            (Some(view(2)), None, 2, SyncStatus::Synced, "the latest applied"),
            (
                Some(view(3)),
                Some(2),
                2,
                SyncStatus::Synced,
                "a newer one applied over a failure",
            ),
            (Some(view(1)), None, 2, SyncStatus::Pending, "an update on its way"),
            (Some(view(1)), Some(2), 2, SyncStatus::Failed, "the latest failed"),
            (
                Some(view(1)),
                Some(2),
                3,
                SyncStatus::Pending,
                "an older failure, the latest on its way",
            ),
            (None, Some(1), 1, SyncStatus::Failed, "the creation failed"),
        ] {
            let state = SyncState {
                view,
                failed_version: failed,
            };
            assert_eq!(state.status(version), status, "{case}");
        }
    }
}
