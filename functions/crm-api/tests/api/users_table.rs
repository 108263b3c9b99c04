//! The `Users` adapter's guarantees, straight against the emulator.

use user_sync::domain::{EmailAddress, NewUser, User, UserName};
use user_sync::events::EventEnvelope;
use user_sync::store::{Cleared, Inserted, PendingEvent, StoredUser};
use uuid::Uuid;

use crate::helpers::{s, spawn_app};

fn user(name: &str) -> User {
    let new = NewUser {
        name: UserName::parse(name).unwrap(),
        email: EmailAddress::parse("ada@example.com").unwrap(),
    };
    User::new(Uuid::new_v4(), new, user_sync::events::now_utc_millis(), Uuid::new_v4())
}

fn pending(user: &User) -> PendingEvent {
    PendingEvent::new(EventEnvelope::user_created(user), "test")
}

#[tokio::test]
async fn insert_never_overwrites() {
    let app = spawn_app().await;
    let original = user("Ada");
    assert_eq!(
        app.app.users.insert(&original, &pending(&original)).await.unwrap(),
        Inserted::Created
    );

    let impostor = User {
        name: "Grace".to_owned(),
        ..original.clone()
    };
    assert_eq!(
        app.app.users.insert(&impostor, &pending(&impostor)).await.unwrap(),
        Inserted::AlreadyExists
    );

    let items = app.stored_items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "Name"), "Ada");
    assert_eq!(
        app.app
            .users
            .get(original.id)
            .await
            .unwrap()
            .and_then(StoredUser::into_user),
        Some(original)
    );
}

#[tokio::test]
async fn a_missing_table_is_an_error_not_a_missing_user() {
    let app = spawn_app().await;
    let users = user_sync::store::UsersTable::new(app.dynamo.clone(), "no-such-table");
    assert!(users.get(Uuid::new_v4()).await.is_err());
    let ada = user("Ada");
    assert!(users.insert(&ada, &pending(&ada)).await.is_err());
}

#[tokio::test]
async fn the_user_and_its_pending_event_are_one_item_until_cleared() {
    let app = spawn_app().await;
    let users = &app.app.users;
    let older = user("Ada");
    // Distinct times: the index orders by millisecond, and ties have no defined order.
    let newer = User {
        created_at: older.created_at + time::Duration::milliseconds(5),
        ..user("Grace")
    };
    users.insert(&older, &pending(&older)).await.unwrap();
    users.insert(&newer, &pending(&newer)).await.unwrap();
    assert!(users.has_pending(older.id).await.unwrap());

    let listed = users
        .pending_events(user_sync::events::now_utc_millis(), 10)
        .await
        .unwrap();
    let ids: Vec<_> = listed.iter().map(|p| p.event.event_id.clone()).collect();
    assert_eq!(
        ids,
        [older.event_id.to_string(), newer.event_id.to_string()],
        "oldest first"
    );
    assert_eq!(listed[0], pending(&older));
    let before_either = older.created_at - time::Duration::milliseconds(1);
    assert!(
        users.pending_events(before_either, 10).await.unwrap().is_empty(),
        "cutoff respected"
    );

    let event_id = older.event_id.to_string();
    let other = Uuid::new_v4().to_string();
    assert_eq!(
        users.clear_pending(&older.id.to_string(), &other).await.unwrap(),
        Cleared::NotPending,
        "another event's mark stays"
    );
    assert_eq!(
        users.clear_pending(&older.id.to_string(), &event_id).await.unwrap(),
        Cleared::Cleared
    );
    assert_eq!(
        users.clear_pending(&older.id.to_string(), &event_id).await.unwrap(),
        Cleared::NotPending
    );
    assert!(!users.has_pending(older.id).await.unwrap());
    assert_eq!(
        users.get(older.id).await.unwrap().and_then(StoredUser::into_user),
        Some(older),
        "the user itself is untouched"
    );
    let left = users
        .pending_events(user_sync::events::now_utc_millis(), 10)
        .await
        .unwrap();
    assert_eq!(left, [pending(&newer)]);
}
