//! One scheduled comparison: what drifted, counted by verdict, apart from what may still be
//! on its way.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use user_sync::domain::Drift;
use user_sync::reconcile;
use user_sync::store::{ErpEmployeesTable, UsersTable};

/// Compares the users with the ERP's view.
pub struct Check {
    users: UsersTable,
    views: ErpEmployeesTable,
    settle: Duration,
}

/// What a run found. Counts only: ids are `scripts/reconcile`'s to print.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    pub users: usize,
    /// `Users` items that are no user's: not compared.
    pub unreadable: usize,
    /// Drifted users that last changed before the settling time, by verdict.
    pub settled: BTreeMap<&'static str, usize>,
    /// Of those, what `scripts/reconcile --repair` mends.
    pub repairable: usize,
    /// Drifted users changed within the settling time: their events may be on their way.
    pub in_flight: usize,
}

impl DriftReport {
    /// Every settled drifted user, whatever the verdict: what the alarm watches.
    pub fn drifted(&self) -> usize {
        self.settled.values().sum()
    }

    pub fn count(&self, drift: Drift) -> usize {
        self.settled.get(drift.as_str()).copied().unwrap_or(0)
    }
}

impl Check {
    pub fn new(users: UsersTable, views: ErpEmployeesTable, settle: Duration) -> Self {
        Self { users, views, settle }
    }

    /// Compares every user, counting as settled the drift of users changed before
    /// `started` less the settling time. Holds nothing per user.
    pub async fn run(&self, started: OffsetDateTime) -> Result<DriftReport, String> {
        let counted = reconcile::count(&self.users, &self.views, started - self.settle).await?;
        let settled = |drift: Drift| counted.settled(drift);
        Ok(DriftReport {
            users: counted.users,
            unreadable: counted.unreadable,
            settled: Drift::ALL.into_iter().map(|d| (d.as_str(), settled(d))).collect(),
            repairable: Drift::ALL.into_iter().filter(|d| d.repairable()).map(settled).sum(),
            in_flight: counted.in_flight,
        })
    }
}
