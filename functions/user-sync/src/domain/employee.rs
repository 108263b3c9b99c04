//! The ERP's view of a user and the rules over it: which event applies, which is
//! superseded, what the view becomes once one applies, and what a client is told of the
//! user's sync. Pure: the `ErpEmployees` store reads and writes the view, the processor
//! acts on these answers.

use serde::Deserialize;
use time::OffsetDateTime;

/// What the ERP holds of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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

/// What a user's next event does, decided from the ERP's view before any call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Newer than the view (or the same version from another event, a re-publication the
    /// ERP may have lost): call the ERP, then write the view.
    Apply,
    /// The view holds a newer version, or the user was deleted: no ERP call.
    Supersede { erp_version: u64 },
    /// This very event wrote the view: it was applied, and its audit record, written at the
    /// same time as the view, is what a delivery that died left unfinished. No ERP call and
    /// no view write: the record is completed.
    Recorded,
}

/// The kind of change an event brings, as far as ordering goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `UserCreated` or `UserUpdated`: the user's whole state at a version.
    State,
    /// `UserDeleted`: final, and never superseded but by a deletion.
    Deletion,
}

impl EmployeeView {
    /// What an event of `change` at `version` does over `view`. A deletion is superseded by
    /// nothing but a deletion: whatever version the view holds (a producer may have posted
    /// a higher one), the user is erased and the employee ended. A state is superseded by a
    /// newer version or any deletion. An event the view names as its own was applied.
    pub fn order(view: Option<&Self>, change: Change, version: u64, event_id: &str) -> Order {
        match view {
            Some(v)
                if v.event_id == event_id
                    && match change {
                        Change::State => v.state == EmployeeState::Active && v.version == version,
                        Change::Deletion => v.state == EmployeeState::Deleted,
                    } =>
            {
                Order::Recorded
            }
            Some(v)
                if v.state == EmployeeState::Deleted
                    || (change == Change::State && (v.state.is_deleted() || v.version > version)) =>
            {
                Order::Supersede { erp_version: v.version }
            }
            _ => Order::Apply,
        }
    }

    /// Whether `view` already holds what an event of `change` at `version` leaves behind: a
    /// deletion, or (for a state) this version or a newer one. A delivery that recorded the
    /// event and died before writing the view is finished when this is false.
    pub fn holds(view: Option<&Self>, change: Change, version: u64) -> bool {
        view.is_some_and(|v| {
            v.state == EmployeeState::Deleted
                || (change == Change::State && (v.state.is_deleted() || v.version >= version))
        })
    }

    /// The view's version, state and audit records holding PII once an event of `change` at
    /// `version`, recorded as `event_id`, applies over `view`. A deletion keeps the higher
    /// of the two versions (the view's version never goes back) and lists no records: they
    /// are erased by then.
    pub fn after(
        view: Option<&Self>,
        change: Change,
        version: u64,
        event_id: &str,
    ) -> (u64, EmployeeState, Vec<String>) {
        match change {
            Change::Deletion => (
                view.map_or(version, |v| v.version.max(version)),
                EmployeeState::Deleted,
                Vec::new(),
            ),
            Change::State => (version, EmployeeState::Active, Self::pii_event_ids_with(view, event_id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Change::{Deletion, State};

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

    fn in_state(version: u64, state: EmployeeState) -> EmployeeView {
        EmployeeView { state, ..view(version) }
    }

    #[test]
    fn the_order_of_an_event_against_the_view() {
        use EmployeeState::{Active, Deleted, Deleting};
        let supersede = |erp_version| Order::Supersede { erp_version };
        for (view, change, version, order, case) in [
            (None, State, 1, Order::Apply, "the first event"),
            (None, Deletion, 2, Order::Apply, "a deletion before any state"),
            (Some(in_state(1, Active)), State, 2, Order::Apply, "newer"),
            (
                Some(in_state(2, Active)),
                State,
                2,
                Order::Apply,
                "the same version re-published",
            ),
            (Some(in_state(3, Active)), State, 2, supersede(3), "older"),
            (
                Some(in_state(100, Active)),
                Deletion,
                3,
                Order::Apply,
                "a deletion under a producer's higher version",
            ),
            (
                Some(in_state(4, Deleted)),
                State,
                5,
                supersede(4),
                "a state after the deletion",
            ),
            (
                Some(in_state(4, Deleted)),
                Deletion,
                4,
                supersede(4),
                "a deletion again",
            ),
            (
                Some(in_state(4, Deleting)),
                State,
                9,
                supersede(4),
                "a state while the ERP has not confirmed the deletion",
            ),
            (
                Some(in_state(4, Deleting)),
                Deletion,
                4,
                Order::Apply,
                "the deletion's redelivery still calls the ERP",
            ),
        ] {
            assert_eq!(
                EmployeeView::order(view.as_ref(), change, version, "mine"),
                order,
                "{case}"
            );
        }
    }

    #[test]
    fn the_order_of_an_event_that_wrote_the_view() {
        use EmployeeState::{Active, Deleted, Deleting};
        let written_by = |view: EmployeeView, event_id: &str| EmployeeView {
            event_id: event_id.to_owned(),
            ..view
        };
        for (view, change, version, order, case) in [
            (
                Some(written_by(in_state(2, Active), "mine")),
                State,
                2,
                Order::Recorded,
                "this event wrote the view, its record unfinished",
            ),
            (
                Some(written_by(in_state(7, Deleted), "mine")),
                Deletion,
                3,
                Order::Recorded,
                "this deletion wrote the view, under a producer's higher version",
            ),
            (
                Some(written_by(in_state(4, Deleting), "mine")),
                Deletion,
                4,
                Order::Apply,
                "this deletion, which the ERP has not confirmed, still calls it",
            ),
            (
                Some(written_by(in_state(3, Active), "mine")),
                State,
                2,
                Order::Supersede { erp_version: 3 },
                "a view that names the event at another version is someone else's",
            ),
        ] {
            assert_eq!(
                EmployeeView::order(view.as_ref(), change, version, "mine"),
                order,
                "{case}"
            );
        }
    }

    #[test]
    fn what_the_view_already_holds() {
        use EmployeeState::{Active, Deleted, Deleting};
        for (view, change, version, holds, case) in [
            (None, State, 1, false, "nothing yet"),
            (Some(in_state(2, Active)), State, 2, true, "this version"),
            (Some(in_state(3, Active)), State, 2, true, "a newer one"),
            (Some(in_state(1, Active)), State, 2, false, "an older one"),
            (Some(in_state(1, Active)), Deletion, 2, false, "not deleted yet"),
            (
                Some(in_state(2, Deleting)),
                Deletion,
                2,
                false,
                "the ERP has not confirmed the deletion",
            ),
            (Some(in_state(2, Deleting)), State, 3, true, "a state after a deletion"),
            (Some(in_state(2, Deleted)), Deletion, 2, true, "deleted"),
        ] {
            assert_eq!(EmployeeView::holds(view.as_ref(), change, version), holds, "{case}");
        }
    }

    #[test]
    fn the_view_after_an_event() {
        let mut listed = view(5);
        listed.pii_event_ids = vec!["e1".to_owned()];
        assert_eq!(
            EmployeeView::after(Some(&listed), State, 6, "e6"),
            (6, EmployeeState::Active, vec!["e1".to_owned(), "e6".to_owned()])
        );
        assert_eq!(
            EmployeeView::after(Some(&listed), Deletion, 3, "e3"),
            (5, EmployeeState::Deleted, Vec::new()),
            "a deletion never takes the version back"
        );
        assert_eq!(
            EmployeeView::after(None, Deletion, 3, "e3"),
            (3, EmployeeState::Deleted, Vec::new())
        );
    }
}
