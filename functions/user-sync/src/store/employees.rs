//! The `ErpEmployees` table: the ERP's view of each user, what the processor last applied
//! to the user's employee record. `UserId` (S) partition key; `Version` (N), `State`
//! (`Active` or `Deleted`), `ErpRecordId`, `ErpSystem`, `EventId` (the event applied last)
//! and `SyncedAt`. No name or email: the view orders events, it does not copy the ERP.
//!
//! A user's events are applied one at a time under a lease on the user's item
//! (`LeaseToken`, `LeaseExpiresAt`), so two deliveries never call the ERP for the same user
//! at once, and an older event that arrives later can never overwrite a newer state.
//! `PiiEventIds` lists the audit records that hold the user's name and email, so a
//! deletion erases them without relying on the eventually consistent `ByUserId` index.

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
}

impl EmployeeState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Deleted => "Deleted",
        }
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
    /// Audit records (by event id) that hold the user's name and email.
    pub pii_event_ids: Vec<String>,
}

impl EmployeeView {
    /// The view in an item; `None` for an item that holds a lease only, or that is not a view.
    fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let state = match text("State")?.as_str() {
            "Active" => EmployeeState::Active,
            "Deleted" => EmployeeState::Deleted,
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
            pii_event_ids: item
                .get("PiiEventIds")
                .and_then(|v| v.as_ss().ok())
                .cloned()
                .unwrap_or_default(),
        })
    }
}

/// A delivery's exclusive hold on one user, until `apply` or `release`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    user_id: String,
    token: String,
    /// Whether the item existed before the lease (else `release` removes it again).
    had_view: bool,
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
    /// The applied event's audit record holds the name and email (a creation or an update).
    pub holds_pii: bool,
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
        let lease = Lease {
            user_id: user_id.to_owned(),
            token,
            had_view: view.is_some(),
        };
        Ok(Leased::Mine(lease, view))
    }

    /// Records `applied` as the user's view and ends the lease, in one write. `false` when
    /// the lease had expired and another delivery took it (which then writes the view).
    /// A deletion's view drops `PiiEventIds`: the records it listed are erased by then.
    pub async fn apply(&self, lease: &Lease, applied: &Applied<'_>) -> Result<bool, StoreError> {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let pii = match (applied.state, applied.holds_pii) {
            (EmployeeState::Deleted, _) => " REMOVE LeaseToken, LeaseExpiresAt, PiiEventIds",
            (EmployeeState::Active, true) => " ADD PiiEventIds :pii REMOVE LeaseToken, LeaseExpiresAt",
            (EmployeeState::Active, false) => " REMOVE LeaseToken, LeaseExpiresAt",
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
            .expression_attribute_values(
                ":at",
                s(&applied
                    .synced_at
                    .format(&Rfc3339)
                    .expect("a UTC time of our era formats as RFC 3339")),
            )
            .expression_attribute_values(":token", s(&lease.token));
        if applied.state == EmployeeState::Active && applied.holds_pii {
            request =
                request.expression_attribute_values(":pii", AttributeValue::Ss(vec![applied.event_id.to_owned()]));
        }
        super::written(request.send().await)
    }

    /// Ends the lease without changing the view; an item the lease created is removed.
    pub async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let key = AttributeValue::S(lease.user_id.clone());
        let token = AttributeValue::S(lease.token.clone());
        // A lease that expired and was taken over is the new holder's to end: a failed
        // condition is fine.
        if lease.had_view {
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
        } else {
            let result = self
                .client
                .delete_item()
                .table_name(&self.table)
                .key(USER_ID, key)
                .condition_expression("LeaseToken = :token")
                .expression_attribute_values(":token", token)
                .send()
                .await;
            super::written(result)?;
        }
        Ok(())
    }

    /// The ERP's view of `user_id`, if any event of the user was applied.
    pub async fn get(&self, user_id: &str) -> Result<Option<EmployeeView>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(USER_ID, AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.as_ref().and_then(EmployeeView::from_item))
    }
}
