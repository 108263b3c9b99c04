//! Whether a consumer's view of a user agrees with the CRM: the reconciliation's verdict,
//! pure, from the user's `Users` row and the consumer's sync state. Only users the CRM holds
//! a row of are compared: a view of a user that another producer sent (`POST /events`) has
//! nothing upstream to agree with.

use super::employee::SyncState;

/// What the CRM holds of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Live {
        version: u64,
    },
    /// A tombstone, at its deletion's version.
    Deleted {
        version: u64,
    },
}

/// How a consumer's view differs from the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Drift {
    /// A live user the consumer holds nothing of.
    Missing,
    /// The consumer holds an older version of a live user.
    Behind,
    /// Deleted in the CRM, still active downstream.
    DeletedUpstream,
    /// The consumer holds what the CRM never sent: a newer version (a producer's event), or
    /// a deletion of a user the CRM still has.
    Ahead,
    /// The latest version's event failed for good (refused, or dead-lettered).
    Failed,
}

impl Drift {
    pub const ALL: [Self; 5] = [
        Self::Missing,
        Self::Behind,
        Self::DeletedUpstream,
        Self::Ahead,
        Self::Failed,
    ];

    /// The verdict for one user; `None` when the consumer agrees with the CRM.
    pub fn of(upstream: Upstream, downstream: &SyncState) -> Option<Self> {
        let view = downstream.view.as_ref();
        match upstream {
            Upstream::Deleted { .. } => view.filter(|v| !v.state.is_deleted()).map(|_| Self::DeletedUpstream),
            Upstream::Live { version } => match view {
                Some(v) if v.state.is_deleted() || v.version > version => Some(Self::Ahead),
                Some(v) if v.version == version => None,
                _ if downstream.failed_version.is_some_and(|failed| failed >= version) => Some(Self::Failed),
                Some(_) => Some(Self::Behind),
                None => Some(Self::Missing),
            },
        }
    }

    /// Whether re-sending the CRM's state mends it: a re-publication for a missing or
    /// behind user, the deletion again for one deleted upstream. What is ahead or failed
    /// needs an operator (see docs/operations.md).
    pub fn repairable(self) -> bool {
        matches!(self, Self::Missing | Self::Behind | Self::DeletedUpstream)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Behind => "behind",
            Self::DeletedUpstream => "deleted upstream",
            Self::Ahead => "ahead",
            Self::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::domain::employee::{EmployeeState, EmployeeView};

    fn state(view: Option<(u64, EmployeeState)>, failed_version: Option<u64>) -> SyncState {
        SyncState {
            view: view.map(|(version, state)| EmployeeView {
                user_id: "u".to_owned(),
                version,
                state,
                erp_record_id: "EMP-u".to_owned(),
                erp_system: "erp".to_owned(),
                event_id: "e".to_owned(),
                synced_at: OffsetDateTime::UNIX_EPOCH,
                pii_event_ids: vec![],
            }),
            failed_version,
        }
    }

    #[test]
    fn each_pair_of_a_row_and_a_view_has_its_verdict() {
        use EmployeeState::{Active, Deleted, Deleting};
        let live = |version| Upstream::Live { version };
        let gone = |version| Upstream::Deleted { version };
        for (upstream, view, failed, verdict) in [
            (live(2), Some((2, Active)), None, None),
            (live(2), Some((1, Active)), None, Some(Drift::Behind)),
            (live(2), None, None, Some(Drift::Missing)),
            (live(2), Some((3, Active)), None, Some(Drift::Ahead)),
            (live(2), Some((1, Deleted)), None, Some(Drift::Ahead)),
            (live(2), Some((1, Active)), Some(2), Some(Drift::Failed)),
            (live(2), None, Some(2), Some(Drift::Failed)),
            // An older version's failure does not count: the latest carries the whole state.
            (live(2), Some((1, Active)), Some(1), Some(Drift::Behind)),
            (live(2), Some((2, Active)), Some(2), None),
            (gone(3), Some((2, Active)), None, Some(Drift::DeletedUpstream)),
            (gone(3), Some((100, Active)), None, Some(Drift::DeletedUpstream)),
            (gone(3), Some((3, Deleted)), None, None),
            (gone(3), Some((3, Deleting)), None, None),
            (gone(3), None, None, None),
        ] {
            assert_eq!(
                Drift::of(upstream, &state(view, failed)),
                verdict,
                "{upstream:?} {view:?} failed {failed:?}"
            );
        }
    }

    #[test]
    fn only_what_resending_mends_is_repairable() {
        let repairable: Vec<Drift> = Drift::ALL.into_iter().filter(|d| d.repairable()).collect();
        assert_eq!(repairable, [Drift::Missing, Drift::Behind, Drift::DeletedUpstream]);
    }
}
