//! The CRM's use cases: create, change, delete and re-publish a user. Each stores the
//! change and its event in one write (the outbox). A change's events are then delivered by
//! the writer through [`Outbox::deliver`], or by the table's stream ([`Delivery`]); a
//! re-publication always delivers its own. Outcomes are the domain's, never HTTP's: crm-api
//! maps them to answers, the backfill to its report.

use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::{NewUser, User, UserPatch};
use crate::events::{now_utc_millis, EventEnvelope, EventType, UserSnapshot};
use crate::outbox::{Delivered, Outbox};
use crate::store::{Changed, Current, Inserted, Marked, PendingEvent, Row, StoreError, StoredUser, UsersTable};

/// How often a change reads the user again when another change (or the relay) moved it
/// between its read and its write.
const ATTEMPTS: usize = 5;

/// Ids derived from an idempotency key live in this namespace, so the same key always
/// names the same user, and no other kind of id can collide with it.
const IDEMPOTENT_USER_IDS: Uuid = Uuid::from_u128(0x6f1c_2d4e_8b1a_4c3f_9e7d_5a2b_1c0d_3e4f);

/// Backfill event ids live here, so they collide with no other id.
const BACKFILL_EVENT_IDS: Uuid = Uuid::from_u128(0x2b7e_9c41_5d3a_4f80_b6e2_71c9_0a8d_4e15);

#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    #[error("no such user")]
    NotFound,
    #[error("the idempotency key was used with a different body, or the user it created changed since")]
    KeyReused,
    #[error("the user this idempotency key created was deleted")]
    KeyUserDeleted,
    #[error("the user's version is not one the precondition allows")]
    PreconditionFailed,
    #[error("the user kept changing while this change was written")]
    ConcurrentChange,
    #[error("the user store failed")]
    Store(#[from] StoreError),
}

/// Which of a user's versions a change may apply to (HTTP's `If-Match`, read as versions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    Any,
    OneOf(Vec<u64>),
}

impl Expected {
    pub fn allows(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&version),
        }
    }
}

/// A request to create a user made idempotent by its caller's key: the same caller and key
/// always name the same user.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey<'a> {
    pub caller: &'a str,
    pub key: &'a str,
}

impl IdempotencyKey<'_> {
    /// The id of the user this key creates. Keys belong to their caller: two callers' equal
    /// keys name two users. A newline occurs in neither a key (printable ASCII) nor a
    /// caller's ARN, so no two pairs join to the same text.
    fn user_id(&self) -> Uuid {
        Uuid::new_v5(
            &IDEMPOTENT_USER_IDS,
            format!("{}\n{}", self.caller, self.key).as_bytes(),
        )
    }
}

/// Who publishes the event a create, change or delete writes to its user's outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Delivery {
    /// The writer, before it answers: the write, the publish and the clearing of the mark,
    /// three sequential calls.
    #[default]
    Writer,
    /// The table's stream: the write is the only call before the answer. The outbox relay,
    /// triggered by the stream record, publishes the event and clears its mark.
    Stream,
}

impl std::str::FromStr for Delivery {
    type Err = String;

    /// The names `OUTBOX_DELIVERY` takes: `request` (the writer, in the request) or `stream`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "request" => Ok(Self::Writer),
            "stream" => Ok(Self::Stream),
            other => Err(format!("{other:?}: use request or stream")),
        }
    }
}

/// What a re-publication of users did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Republished {
    /// Skipped: another event of the user is still pending (it goes first), or the user is gone.
    pub skipped: usize,
    pub delivered: Delivered,
}

/// The CRM side: the `Users` table and the outbox that publishes its events.
#[derive(Debug, Clone)]
pub struct Crm {
    outbox: Outbox,
    delivery: Delivery,
}

impl Crm {
    pub fn new(outbox: Outbox, delivery: Delivery) -> Self {
        Self { outbox, delivery }
    }

    fn users(&self) -> &UsersTable {
        self.outbox.users()
    }

    /// Delivers a change's event now when the writer delivers; the stream's relay does
    /// otherwise.
    async fn deliver(&self, event: PendingEvent) {
        if self.delivery == Delivery::Writer {
            self.outbox.deliver(vec![event], usize::MAX).await;
        }
    }

    /// Creates a user and publishes its `UserCreated` event. If sending fails, the user is
    /// created all the same: the event is durably pending and the relay sends it.
    ///
    /// With a key, a repeat of the request that created the user finds it: only while the
    /// user is as it created it (`KeyReused` once it changed, or with other data;
    /// `KeyUserDeleted` once it is deleted). A writer that delivers sends the same event
    /// again, byte for byte, tied to the first request's correlation id; with the stream,
    /// the repeat writes nothing, and the first request's event is delivered (or pending) already.
    pub async fn create(
        &self,
        new: NewUser,
        key: Option<IdempotencyKey<'_>>,
        correlation_id: &str,
    ) -> Result<User, CrmError> {
        let id = key.map_or_else(Uuid::new_v4, |k| k.user_id());
        let mut user = User::new(id, new.clone(), now_utc_millis(), Uuid::new_v4());
        let mut correlation_id = correlation_id.to_owned();
        let pending = PendingEvent::new(EventEnvelope::user_created(&user), &correlation_id);
        if self.users().insert(&user, &pending).await? == Inserted::AlreadyExists {
            // Only a repeated key gets here (random ids do not collide), so the stored user
            // is one this CRM created, with its event.
            let stored = match self.users().current(id).await?.map(|c| c.row) {
                Some(Row::Live(stored)) => stored,
                Some(Row::Deleted { .. }) => return Err(CrmError::KeyUserDeleted),
                None => return Err(CrmError::KeyReused),
            };
            correlation_id = stored.correlation_id.clone().unwrap_or(correlation_id);
            // A user changed since would re-send its creation under the first event's id
            // with another payload, which no consumer may take.
            user = stored
                .into_user()
                .filter(|stored| stored.version == 1 && stored.matches(&new))
                .ok_or(CrmError::KeyReused)?;
        }
        self.deliver(PendingEvent::new(EventEnvelope::user_created(&user), &correlation_id))
            .await;
        Ok(user)
    }

    /// Changes a user's name and/or email and publishes its `UserUpdated` event, behind any
    /// of the user's events still pending. A patch that changes nothing returns the user as
    /// it is and sends nothing.
    pub async fn change(
        &self,
        id: Uuid,
        patch: &UserPatch,
        expected: Option<&Expected>,
        correlation_id: &str,
    ) -> Result<StoredUser, CrmError> {
        for _ in 0..ATTEMPTS {
            let Some(Current {
                row: Row::Live(stored),
                pending,
                pending_id,
            }) = self.users().current(id).await?
            else {
                return Err(CrmError::NotFound);
            };
            if expected.is_some_and(|e| !e.allows(stored.version)) {
                return Err(CrmError::PreconditionFailed);
            }
            let Some((name, email)) = patch.apply(&stored.name, &stored.email) else {
                return Ok(stored);
            };
            let user = StoredUser {
                name,
                email,
                version: stored.version + 1,
                ..stored
            };
            let snapshot = UserSnapshot {
                id: id.to_string(),
                name: Some(user.name.clone()),
                email: Some(user.email.clone()),
            };
            let event = EventEnvelope::user_updated(snapshot, user.version, Uuid::new_v4(), now_utc_millis());
            let event = PendingEvent::new(event, correlation_id);
            if self.users().update(&user, pending_id.as_deref(), &event).await? == Changed::Changed {
                // The user's oldest pending event goes first; this one follows it.
                self.deliver(pending.unwrap_or(event)).await;
                return Ok(user);
            }
        }
        Err(CrmError::ConcurrentChange)
    }

    /// Deletes a user and publishes its `UserDeleted` event (ids only). Its name and email
    /// leave the table at once; a tombstone keeps the id from being reused. Deleting a
    /// deleted user succeeds again and sends nothing: the state asked for holds.
    pub async fn delete(&self, id: Uuid, expected: Option<&Expected>, correlation_id: &str) -> Result<(), CrmError> {
        for _ in 0..ATTEMPTS {
            let stored = match self.users().current(id).await?.ok_or(CrmError::NotFound)?.row {
                Row::Deleted { .. } => return Ok(()),
                Row::Live(stored) => stored,
            };
            if expected.is_some_and(|e| !e.allows(stored.version)) {
                return Err(CrmError::PreconditionFailed);
            }
            let version = stored.version + 1;
            let event = EventEnvelope::user_deleted(id, version, Uuid::new_v4(), now_utc_millis());
            let event = PendingEvent::new(event, correlation_id);
            if self.users().delete(id, version, &event).await? == Changed::Changed {
                self.deliver(event).await;
                return Ok(());
            }
        }
        Err(CrmError::ConcurrentChange)
    }

    /// Re-publishes `users`' current state as one event each in `generation` (see
    /// [`backfill_event`]): each is first put in its user's outbox, so the relay delivers
    /// it if this run dies, then delivered. A user with another event pending is skipped:
    /// that event goes first and carries a state at least as new.
    pub async fn republish(&self, users: &[StoredUser], generation: &str) -> Result<Republished, CrmError> {
        let correlation_id = format!("backfill {generation}");
        let mut done = Republished::default();
        let mut marked = Vec::new();
        for user in users {
            // Pending from now, not from the user's creation: an old timestamp would look to
            // the relay like an event stuck for years (its staleness alarm) and past its
            // grace period (a second send while this run sends it).
            let pending = PendingEvent::new(backfill_event(user, generation), &correlation_id)
                .entering_at(OffsetDateTime::now_utc());
            match self.users().mark_pending(user.id, &pending).await? {
                Marked::Marked => marked.push(pending),
                Marked::NotMarked => done.skipped += 1,
            }
        }
        done.delivered = self.outbox.deliver(marked, usize::MAX).await;
        Ok(done)
    }

    /// Sends the deletion of each tombstone `(id, version)` again, as one event each in
    /// `generation` (see [`resent_deletion_event`]), through the tombstone's outbox like
    /// `republish`: for a consumer that still holds a user the CRM deleted. A tombstone
    /// with an event pending is skipped: its deletion is on its way.
    pub async fn resend_deletions(
        &self,
        tombstones: &[(Uuid, u64)],
        generation: &str,
    ) -> Result<Republished, CrmError> {
        let correlation_id = format!("reconcile {generation}");
        let mut done = Republished::default();
        let mut marked = Vec::new();
        for &(id, version) in tombstones {
            let pending = PendingEvent::new(resent_deletion_event(id, version, generation), &correlation_id);
            match self.users().mark_deletion_pending(id, version, &pending).await? {
                Marked::Marked => marked.push(pending),
                Marked::NotMarked => done.skipped += 1,
            }
        }
        done.delivered = self.outbox.deliver(marked, usize::MAX).await;
        Ok(done)
    }
}

/// The deletion of the user `id` at `version`, sent again in `generation`: its id derives
/// from all three, so the relay's send of an interrupted run's event is the same event; it
/// happens now (a run's generation is its own, so no other payload ever has that id).
pub fn resent_deletion_event(id: Uuid, version: u64, generation: &str) -> EventEnvelope {
    let key = format!("{id}\n{generation}\ndeleted\n{version}");
    EventEnvelope::user_deleted(
        id,
        version,
        Uuid::new_v5(&BACKFILL_EVENT_IDS, key.as_bytes()),
        OffsetDateTime::now_utc(),
    )
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
/// is built, so a rerun of an interrupted backfill sends the very same events, which the
/// consumers record once. A row the original system wrote has no creation time; its event
/// carries the Unix epoch instead.
pub fn backfill_event(user: &StoredUser, generation: &str) -> EventEnvelope {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_versions() {
        for (expected, version, allows) in [
            (Expected::Any, 7, true),
            (Expected::OneOf(vec![1, 2]), 2, true),
            (Expected::OneOf(vec![1, 2]), 3, false),
            (Expected::OneOf(vec![]), 1, false),
        ] {
            assert_eq!(expected.allows(version), allows, "{expected:?} {version}");
        }
    }

    #[test]
    fn a_key_names_one_user_per_caller() {
        let key = |caller, key| IdempotencyKey { caller, key }.user_id();
        assert_eq!(key("arn:a", "k"), key("arn:a", "k"));
        assert_ne!(key("arn:a", "k"), key("arn:b", "k"));
        assert_ne!(key("arn:a", "k"), key("arn:a", "l"));
    }

    #[test]
    fn a_backfill_event_is_the_same_however_often_built_and_new_per_version_and_generation() {
        let user = StoredUser {
            id: Uuid::new_v4(),
            name: "Ada".to_owned(),
            email: "ada@example.com".to_owned(),
            created_at: None,
            event_id: None,
            correlation_id: None,
            version: 1,
        };
        let first = backfill_event(&user, "1");
        assert_eq!(first, backfill_event(&user, "1"));
        assert_eq!(first.timestamp, OffsetDateTime::UNIX_EPOCH);
        assert_ne!(first.event_id, backfill_event(&user, "2").event_id);
        let changed = StoredUser { version: 2, ..user };
        assert_ne!(first.event_id, backfill_event(&changed, "1").event_id);
    }
}
