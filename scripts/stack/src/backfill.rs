//! Re-publishing the current state of users through the outbox, for an ERP connected after
//! they were created or restored after an outage.
//!
//! Each user gets one backfill event per generation: its id is derived from the user's id
//! and the generation's name (and its payload from what is stored), so an interrupted run
//! that is run again sends the very same events, which the processor records once. A new
//! generation name mints new ids, for when the ERP must hear of every user again. Each event
//! is first put in the user's outbox (so the relay delivers it if this run dies), then sent
//! and its mark cleared, as the CRM API does with a new user's event.

use time::OffsetDateTime;
use user_sync::events::{EntryOutcome, EventEnvelope, EventPublisher, EventType, UserSnapshot, MAX_BATCH};
use user_sync::store::{Marked, PendingEvent, StoredUser, UsersTable};
use uuid::Uuid;

/// Backfill event ids live here, so they collide with no other id.
const BACKFILL_EVENT_IDS: Uuid = Uuid::from_u128(0x2b7e_9c41_5d3a_4f80_b6e2_71c9_0a8d_4e15);

/// Users read per page of the table.
pub const PAGE_SIZE: usize = 100;

/// Which users to re-publish.
#[derive(Debug, Clone)]
pub enum Users {
    All,
    Ids(Vec<Uuid>),
}

/// What a run did so far (reported after every page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub pages: usize,
    pub users: usize,
    /// Sent now, their outbox marks cleared.
    pub sent: usize,
    /// In the outbox but not sent now (the queue refused or was unreachable): the relay
    /// sends them.
    pub left_pending: usize,
    /// Skipped: another event of the user is still pending (it goes first), or the user is gone.
    pub skipped: usize,
    /// Ids asked for that name no user.
    pub not_found: usize,
}

/// What a backfill event's id derives from: the user, the generation and (past the first)
/// the version, so a user changed since an earlier run gets an event of its own, never the
/// same id with another payload; version 1 keeps the ids runs before versions gave.
fn backfill_key(user: &StoredUser, generation: &str) -> String {
    match user.version {
        1 => format!("{}\n{generation}", user.id),
        version => format!("{}\n{generation}\n{version}", user.id),
    }
}

/// The backfill event of `user` in `generation`: the same id and payload however often it
/// is built. A row the original system wrote has no creation time; its event carries the
/// Unix epoch instead.
pub fn event_of(user: &StoredUser, generation: &str) -> EventEnvelope {
    EventEnvelope {
        event_id: Uuid::new_v5(&BACKFILL_EVENT_IDS, backfill_key(user, generation).as_bytes()).to_string(),
        event_type: EventType::UserCreated,
        timestamp: user.created_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
        // The stored version: the ERP applies it again if it holds it (a re-sync), and
        // never lets it overwrite a newer one.
        version: Some(user.version),
        user: UserSnapshot {
            id: user.id.to_string(),
            name: Some(user.name.clone()),
            email: Some(user.email.clone()),
        },
    }
}

pub async fn run(
    users: &UsersTable,
    events: &EventPublisher,
    which: &Users,
    generation: &str,
    mut progress: impl FnMut(&Progress),
) -> Result<Progress, String> {
    let mut done = Progress::default();
    match which {
        Users::All => {
            let mut after = None;
            loop {
                let page = users
                    .page(PAGE_SIZE, after)
                    .await
                    .map_err(|e| format!("read Users: {}", user_sync::errors::chain(&e)))?;
                republish(users, events, &page.users, generation, &mut done).await?;
                progress(&done);
                after = page.next;
                if after.is_none() {
                    return Ok(done);
                }
            }
        }
        Users::Ids(ids) => {
            for chunk in ids.chunks(PAGE_SIZE) {
                let mut found = Vec::new();
                for id in chunk {
                    match users
                        .get(*id)
                        .await
                        .map_err(|e| format!("read user {id}: {}", user_sync::errors::chain(&e)))?
                    {
                        Some(user) => found.push(user),
                        None => done.not_found += 1,
                    }
                }
                republish(users, events, &found, generation, &mut done).await?;
                progress(&done);
            }
            Ok(done)
        }
    }
}

/// Marks each user's event pending, then sends the marked ones in batches and clears them.
async fn republish(
    users: &UsersTable,
    events: &EventPublisher,
    page: &[StoredUser],
    generation: &str,
    done: &mut Progress,
) -> Result<(), String> {
    done.pages += 1;
    done.users += page.len();
    let correlation_id = format!("backfill {generation}");
    let mut marked = Vec::new();
    for user in page {
        // Pending from now, not from the user's creation: an old timestamp would look to the
        // relay like an event stuck for years (its staleness alarm) and past its grace
        // period (a second send while this run sends it).
        let pending =
            PendingEvent::new(event_of(user, generation), &correlation_id).entering_at(OffsetDateTime::now_utc());
        match users
            .mark_pending(user.id, &pending)
            .await
            .map_err(|e| format!("outbox of {}: {}", user.id, user_sync::errors::chain(&e)))?
        {
            Marked::Marked => marked.push(pending.event),
            Marked::NotMarked => done.skipped += 1,
        }
    }
    for batch in marked.chunks(MAX_BATCH) {
        let entries: Vec<(&EventEnvelope, &str)> = batch.iter().map(|e| (e, correlation_id.as_str())).collect();
        let Ok(outcomes) = events.publish_batch(&entries).await else {
            // Durably pending: the relay sends them.
            done.left_pending += batch.len();
            continue;
        };
        for (event, outcome) in batch.iter().zip(outcomes) {
            if outcome != EntryOutcome::Sent {
                done.left_pending += 1;
                continue;
            }
            done.sent += 1;
            // A mark left behind only makes the relay send the event once more.
            let _ = users.clear_pending(&event.user.id, &event.event_id).await;
        }
    }
    Ok(())
}
