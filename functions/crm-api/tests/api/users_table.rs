//! The `Users` adapter's guarantees, straight against moto.

use integration::domain::{EmailAddress, NewUser, User, UserName};
use integration::store::Inserted;
use uuid::Uuid;

use crate::helpers::{s, spawn_app};

fn user(name: &str) -> User {
    let new = NewUser {
        name: UserName::parse(name).unwrap(),
        email: EmailAddress::parse("ada@example.com").unwrap(),
    };
    User::new(
        Uuid::new_v4(),
        new,
        integration::events::now_utc_millis(),
        Uuid::new_v4(),
    )
}

#[tokio::test]
async fn insert_never_overwrites() {
    let app = spawn_app().await;
    let original = user("Ada");
    assert_eq!(app.app.users.insert(&original).await.unwrap(), Inserted::Created);

    let impostor = User {
        name: "Grace".to_owned(),
        ..original.clone()
    };
    assert_eq!(app.app.users.insert(&impostor).await.unwrap(), Inserted::AlreadyExists);

    let items = app.stored_items().await;
    assert_eq!(items.len(), 1);
    assert_eq!(s(&items[0], "Name"), "Ada");
    assert_eq!(app.app.users.get(original.id).await.unwrap(), Some(original));
}

#[tokio::test]
async fn a_missing_table_is_an_error_not_a_missing_user() {
    let app = spawn_app().await;
    let users = integration::store::UsersTable::new(app.dynamo.clone(), "no-such-table");
    assert!(users.get(Uuid::new_v4()).await.is_err());
    assert!(users.insert(&user("Ada")).await.is_err());
}
