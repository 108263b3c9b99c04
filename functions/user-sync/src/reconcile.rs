//! Reconciliation: compares every `Users` row with the ERP's view of it (`ErpEmployees`)
//! and, when asked, mends what re-sending the CRM's state mends. The operator's
//! `ops reconcile` and the scheduled `reconciler` function both run it. `Users` is read in
//! parallel scan segments, page by page; each page's views are read in one `BatchGetItem`
//! per 100 users, so memory holds one page per segment and, for the operator's `compare`,
//! the drifted users (their ids, and for a live one the state a repair re-sends); the
//! scheduled run's `count` holds their counts only, however much drifted. The verdict per
//! user is `user_sync::domain::Drift`.
//!
//! Repairs go through the outbox, as the backfill's do: a missing or behind user is
//! re-published (`Crm::republish`), a deletion the view never took is sent again from the
//! tombstone (`Crm::resend_deletions`). Each run mints its own event ids (its generation),
//! so a second repair of a user is a new event, not a duplicate the processor would skip.

use std::collections::BTreeMap;

use futures::stream::{self, StreamExt, TryStreamExt};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::crm::{Crm, Republished};
use crate::domain::{Drift, Upstream};
use crate::errors::chain;
use crate::store::{ErpEmployeesTable, Row, ScanKey, StoredUser, UsersTable};

/// The parallel scan's segments: each is read by one task.
pub const SEGMENTS: i32 = 4;

/// Users per repair call (one outbox delivery each).
const REPAIR_BATCH: usize = 100;

/// What a comparison found: how many users it read, how many items were no user's (not
/// compared), and the drifted users by verdict.
#[derive(Debug, Default)]
pub struct Found {
    pub users: usize,
    pub unreadable: usize,
    pub drift: BTreeMap<Drift, Vec<Drifted>>,
}

/// One drifted user: what a repair re-sends, and when the user last changed.
#[derive(Debug, Clone)]
pub struct Drifted {
    pub upstream: Sent,
    /// `None` for a row that records no time (the original's).
    pub changed_at: Option<OffsetDateTime>,
}

/// What the CRM holds of a drifted user, as a repair re-sends it.
#[derive(Debug, Clone)]
pub enum Sent {
    Live(StoredUser),
    Deleted { id: Uuid, version: u64 },
}

impl Drifted {
    pub fn id(&self) -> Uuid {
        match &self.upstream {
            Sent::Live(user) => user.id,
            Sent::Deleted { id, .. } => *id,
        }
    }

    /// Whether the user last changed before `cutoff`: its drift is no event still on its
    /// way. A row with no time counts as settled.
    pub fn settled_before(&self, cutoff: OffsetDateTime) -> bool {
        self.changed_at.is_none_or(|at| at < cutoff)
    }
}

impl Found {
    pub fn count(&self, drift: Drift) -> usize {
        self.drift.get(&drift).map_or(0, Vec::len)
    }

    /// Users a repair would mend.
    pub fn repairable(&self) -> usize {
        Drift::ALL
            .into_iter()
            .filter(|d| d.repairable())
            .map(|d| self.count(d))
            .sum()
    }
}

/// Where a comparison puts each drifted user: kept whole for a repair (`Found`), or only
/// counted (`Counted`), so that a run that repairs nothing holds nothing per user however
/// much drifted.
pub trait Tally: Send {
    /// A page's rows: `users` compared, `unreadable` items that are no user's.
    fn read(&mut self, users: usize, unreadable: usize);
    fn add(&mut self, drift: Drift, drifted: Drifted);
    /// Another segment's tally.
    fn merge(&mut self, other: Self);
}

impl Tally for Found {
    fn read(&mut self, users: usize, unreadable: usize) {
        self.users += users;
        self.unreadable += unreadable;
    }

    fn add(&mut self, drift: Drift, drifted: Drifted) {
        self.drift.entry(drift).or_default().push(drifted);
    }

    fn merge(&mut self, other: Found) {
        self.users += other.users;
        self.unreadable += other.unreadable;
        for (drift, mut ids) in other.drift {
            self.drift.entry(drift).or_default().append(&mut ids);
        }
    }
}

/// A comparison's counts: drifted users by verdict that last changed before `cutoff`
/// (settled), and those changed since (in flight: their events may be on their way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub cutoff: OffsetDateTime,
    pub users: usize,
    pub unreadable: usize,
    pub settled: BTreeMap<Drift, usize>,
    pub in_flight: usize,
}

impl Counted {
    pub fn new(cutoff: OffsetDateTime) -> Self {
        Self {
            cutoff,
            users: 0,
            unreadable: 0,
            settled: BTreeMap::new(),
            in_flight: 0,
        }
    }

    pub fn settled(&self, drift: Drift) -> usize {
        self.settled.get(&drift).copied().unwrap_or(0)
    }
}

impl Tally for Counted {
    fn read(&mut self, users: usize, unreadable: usize) {
        self.users += users;
        self.unreadable += unreadable;
    }

    fn add(&mut self, drift: Drift, drifted: Drifted) {
        if drifted.settled_before(self.cutoff) {
            *self.settled.entry(drift).or_default() += 1;
        } else {
            self.in_flight += 1;
        }
    }

    fn merge(&mut self, other: Counted) {
        self.users += other.users;
        self.unreadable += other.unreadable;
        self.in_flight += other.in_flight;
        for (drift, n) in other.settled {
            *self.settled.entry(drift).or_default() += n;
        }
    }
}

/// Compares every user with its view, keeping each drifted user for a repair; `progress`
/// hears the users read so far after each page of any segment.
pub async fn compare(
    users: &UsersTable,
    views: &ErpEmployeesTable,
    progress: impl Fn(usize) + Sync,
) -> Result<Found, String> {
    let mut found = tally(users, views, &progress, Found::default).await?;
    for ids in found.drift.values_mut() {
        ids.sort_by_key(Drifted::id);
    }
    Ok(found)
}

/// Compares every user with its view and counts what drifted, settled before `cutoff` or
/// not.
pub async fn count(users: &UsersTable, views: &ErpEmployeesTable, cutoff: OffsetDateTime) -> Result<Counted, String> {
    tally(users, views, &|_| {}, || Counted::new(cutoff)).await
}

/// One tally per parallel scan segment, merged.
async fn tally<T: Tally>(
    users: &UsersTable,
    views: &ErpEmployeesTable,
    progress: &(impl Fn(usize) + Sync),
    new: impl Fn() -> T,
) -> Result<T, String> {
    let read = std::sync::atomic::AtomicUsize::new(0);
    let segments: Vec<T> = stream::iter(0..SEGMENTS)
        .map(|segment| compare_segment(users, views, segment, &read, progress, new()))
        .buffer_unordered(SEGMENTS as usize)
        .try_collect()
        .await?;
    let mut all = new();
    for segment in segments {
        all.merge(segment);
    }
    Ok(all)
}

async fn compare_segment<T: Tally>(
    users: &UsersTable,
    views: &ErpEmployeesTable,
    segment: i32,
    read: &std::sync::atomic::AtomicUsize,
    progress: &(impl Fn(usize) + Sync),
    mut tally: T,
) -> Result<T, String> {
    let mut start: Option<ScanKey> = None;
    loop {
        let page = users
            .scan_rows(segment, SEGMENTS, start)
            .await
            .map_err(|e| format!("scan Users (segment {segment}): {}", chain(&e)))?;
        let rows = page.rows;
        tally.read(rows.len(), page.unreadable);
        for page in rows.chunks(100) {
            let ids: Vec<String> = page.iter().map(|r| r.id.to_string()).collect();
            let states = views
                .sync_states(&ids)
                .await
                .map_err(|e| format!("read ErpEmployees: {}", chain(&e)))?;
            for scanned in page {
                let (upstream, sent) = match &scanned.row {
                    Row::Live(user) => (Upstream::Live { version: user.version }, Sent::Live(user.clone())),
                    Row::Deleted { version } => (
                        Upstream::Deleted { version: *version },
                        Sent::Deleted {
                            id: scanned.id,
                            version: *version,
                        },
                    ),
                };
                let state = states.get(&scanned.id.to_string()).cloned().unwrap_or_default();
                if let Some(drift) = Drift::of(upstream, &state) {
                    tally.add(
                        drift,
                        Drifted {
                            upstream: sent,
                            changed_at: scanned.changed_at,
                        },
                    );
                }
            }
        }
        progress(read.fetch_add(rows.len(), std::sync::atomic::Ordering::Relaxed) + rows.len());
        start = page.next;
        if start.is_none() {
            return Ok(tally);
        }
    }
}

/// What a repair did: re-published users and deletions sent again.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Repaired {
    /// Sent now, their outbox marks cleared.
    pub sent: usize,
    /// In the outbox but not sent now: the relay sends them.
    pub left_pending: usize,
    /// Skipped: another event of the user is pending (it is on its way and carries a state
    /// at least as new), or the user is gone, or a tombstone's version changed since the
    /// comparison. A live user changed since is re-published at the state read; the newer
    /// version's own event supersedes it.
    pub skipped: usize,
}

/// Re-sends the CRM's state of every repairable drifted user in `found`, in `generation`.
pub async fn repair(crm: &Crm, found: &Found, generation: &str) -> Result<Repaired, String> {
    let mut done = Repaired::default();
    let mut add = |r: Republished| {
        done.sent += r.delivered.sent;
        done.left_pending += r.delivered.failed;
        done.skipped += r.skipped;
    };
    let live: Vec<StoredUser> = [Drift::Missing, Drift::Behind]
        .iter()
        .flat_map(|d| found.drift.get(d).into_iter().flatten())
        .filter_map(|u| match &u.upstream {
            Sent::Live(user) => Some(user.clone()),
            Sent::Deleted { .. } => None,
        })
        .collect();
    for batch in live.chunks(REPAIR_BATCH) {
        add(crm
            .republish(batch, generation)
            .await
            .map_err(|e| format!("re-publish: {}", chain(&e)))?);
    }
    let tombstones: Vec<(Uuid, u64)> = found
        .drift
        .get(&Drift::DeletedUpstream)
        .into_iter()
        .flatten()
        .filter_map(|u| match &u.upstream {
            Sent::Deleted { id, version } => Some((*id, *version)),
            Sent::Live(_) => None,
        })
        .collect();
    for batch in tombstones.chunks(REPAIR_BATCH) {
        add(crm
            .resend_deletions(batch, generation)
            .await
            .map_err(|e| format!("send deletions again: {}", chain(&e)))?);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn drifted(changed_at: Option<OffsetDateTime>) -> Drifted {
        Drifted {
            upstream: Sent::Deleted {
                id: Uuid::new_v4(),
                version: 2,
            },
            changed_at,
        }
    }

    #[test]
    fn a_drift_counts_as_settled_once_its_user_changed_before_the_cutoff() {
        let cutoff = datetime!(2026-12-01 12:00 UTC);
        let mut counted = Counted::new(cutoff);
        for changed_at in [
            Some(datetime!(2026-12-01 11:59 UTC)),
            Some(cutoff),
            Some(datetime!(2026-12-01 12:01 UTC)),
            None,
        ] {
            counted.add(Drift::Missing, drifted(changed_at));
        }
        assert_eq!(counted.settled(Drift::Missing), 2, "before the cutoff, or with no time");
        assert_eq!(counted.in_flight, 2);
        assert_eq!(counted.settled(Drift::Behind), 0);

        let mut other = Counted::new(cutoff);
        other.add(Drift::Missing, drifted(None));
        other.read(3, 1);
        counted.merge(other);
        assert_eq!(
            (counted.settled(Drift::Missing), counted.users, counted.unreadable),
            (3, 3, 1)
        );
    }
}
