//! Re-publishing the current state of users through the outbox, for an ERP connected after
//! they were created or restored after an outage: pages through `Users` (all, or the ids
//! asked for) and hands each page to the CRM's use case, `Crm::republish`.
//!
//! Each user gets one backfill event per generation (`user_sync::crm::backfill_event`): its
//! id is derived from the user's id and the generation's name (and its payload from what is
//! stored), so an interrupted run that is run again sends the very same events, which the
//! processor records once. A new generation name mints new ids, for when the ERP must hear
//! of every user again.

use user_sync::crm::{Crm, Delivery};
use user_sync::events::EventPublisher;
use user_sync::outbox::Outbox;
use user_sync::store::{StoredUser, UsersTable};
use uuid::Uuid;

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
    /// In the outbox but not sent now (the topic refused or was unreachable): the relay
    /// publishes them.
    pub left_pending: usize,
    /// Skipped: another event of the user is still pending (it goes first), or the user is gone.
    pub skipped: usize,
    /// Ids asked for that name no user.
    pub not_found: usize,
}

pub async fn run(
    users: &UsersTable,
    events: &EventPublisher,
    which: &Users,
    generation: &str,
    mut progress: impl FnMut(&Progress),
) -> Result<Progress, String> {
    let crm = Crm::new(Outbox::new(users.clone(), events.clone()), Delivery::Writer);
    let mut done = Progress::default();
    match which {
        Users::All => {
            let mut after = None;
            loop {
                let page = users
                    .page(PAGE_SIZE, after)
                    .await
                    .map_err(|e| format!("read Users: {}", user_sync::errors::chain(&e)))?;
                republish(&crm, &page.users, generation, &mut done).await?;
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
                republish(&crm, &found, generation, &mut done).await?;
                progress(&done);
            }
            Ok(done)
        }
    }
}

/// Re-publishes one page of users through the CRM's use case, adding what it did to `done`.
async fn republish(crm: &Crm, page: &[StoredUser], generation: &str, done: &mut Progress) -> Result<(), String> {
    done.pages += 1;
    done.users += page.len();
    let republished = crm.republish(page, generation).await.map_err(|e| {
        let first = page.first().map(|u| u.id.to_string()).unwrap_or_default();
        format!(
            "outbox of the page of {} users from {first}: {}",
            page.len(),
            user_sync::errors::chain(&e)
        )
    })?;
    done.skipped += republished.skipped;
    done.sent += republished.delivered.sent;
    done.left_pending += republished.delivered.failed;
    Ok(())
}
