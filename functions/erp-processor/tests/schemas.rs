//! The published event schemas (`schemas/` at the workspace root) are exactly what the Rust
//! types generate, and they accept the events this system sends and refuse broken ones.
//! `UPDATE_SCHEMAS=1 cargo test -p erp-processor --test schemas` rewrites the files.

use std::path::PathBuf;

use erp_processor::openapi::event_schemas;
use serde_json::{json, Value};
use user_sync::domain::User;
use user_sync::events::EventEnvelope;

fn schemas_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn validator(file: &str) -> jsonschema::Validator {
    let (_, schema) = event_schemas()
        .into_iter()
        .find(|(name, _)| name == file)
        .unwrap_or_else(|| panic!("{file} is generated"));
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

/// A deletion as crm-api sends it: ids only.
fn deletion() -> Value {
    json!({"eventId": "evt-009", "eventType": "UserDeleted", "timestamp": "2025-10-17T08:00:00Z",
           "version": 4, "user": {"id": "user-123"}})
}

/// An update as crm-api sends it: the user's whole new state.
fn update() -> Value {
    json!({"eventId": "evt-002", "eventType": "UserUpdated", "timestamp": "2025-10-16T13:00:00Z",
           "version": 2, "user": {"id": "user-123", "name": "Test User", "email": "new@example.com"}})
}

/// The original's example event, from its README.
fn originals_example() -> Value {
    json!({"eventId": "evt-001", "eventType": "UserCreated", "timestamp": "2025-10-16T12:00:00Z",
           "user": {"id": "user-123", "name": "Test User", "email": "test@example.com"}})
}

#[test]
fn committed_schemas_are_the_generated_ones() {
    let dir = schemas_dir();
    for (name, schema) in event_schemas() {
        let path = dir.join(&name);
        let generated = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "schemas/{name} differs from what the types generate: \
             run UPDATE_SCHEMAS=1 cargo test -p erp-processor --test schemas, and commit it"
        );
    }
    let committed = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(committed, event_schemas().len(), "no stale file in schemas/");
}

#[test]
fn the_events_this_system_sends_validate() {
    let user = User::new(
        uuid::Uuid::new_v4(),
        user_sync::domain::NewUser::parse(
            user_sync::domain::RawField::Text("Ada Lovelace"),
            user_sync::domain::RawField::Text("ada@example.com"),
        )
        .unwrap(),
        user_sync::events::now_utc_millis(),
        uuid::Uuid::new_v4(),
    );
    let published: Value = serde_json::from_str(&EventEnvelope::user_created(&user).to_json()).unwrap();
    for file in ["UserCreated.schema.json", "post-events.schema.json"] {
        let schema = validator(file);
        for (example, case) in [
            (&published, "crm-api's UserCreated"),
            (&originals_example(), "the original's example"),
        ] {
            let errors: Vec<String> = schema.iter_errors(example).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{file} refuses {case}: {errors:?}");
        }
    }
}

#[test]
fn updates_and_deletions_validate_against_their_schemas() {
    for (event, file) in [
        (update(), "UserUpdated.schema.json"),
        (deletion(), "UserDeleted.schema.json"),
    ] {
        for file in [file, "post-events.schema.json"] {
            let errors: Vec<String> = validator(file).iter_errors(&event).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{file} refuses {event}: {errors:?}");
        }
        // And the processor reads what the schemas accept.
        assert!(EventEnvelope::parse(&event.to_string()).is_ok(), "{event}");
    }
    assert!(
        !validator("UserCreated.schema.json").is_valid(&update()),
        "an update is not a creation"
    );
}

#[test]
fn broken_events_are_refused() {
    let schema = validator("post-events.schema.json");
    let mut cases = Vec::new();
    for (pointer, value, case) in [
        ("/eventType", json!("UserRenamed"), "an unknown type"),
        ("/eventType", json!("UserUpdated"), "an update without a version"),
        ("/eventId", json!("evt 1"), "a space in the id"),
        ("/eventId", json!("e".repeat(129)), "a 129-character id"),
        ("/user/id", json!(7), "a number as the user id"),
        ("/user/name", json!("   "), "a blank name"),
        ("/timestamp", json!(12), "a number as the time"),
    ] {
        let mut event = originals_example();
        *event.pointer_mut(pointer).unwrap() = value;
        cases.push((event, case));
    }
    let mut null_version = update();
    null_version["version"] = json!(null);
    cases.push((null_version, "an update with a null version"));
    let mut named_deletion = deletion();
    named_deletion["user"]["name"] = json!("Test User");
    cases.push((named_deletion, "a deletion that names the user"));
    let mut unversioned_deletion = deletion();
    unversioned_deletion.as_object_mut().unwrap().remove("version");
    cases.push((unversioned_deletion, "a deletion without a version"));
    let mut without_user = originals_example();
    without_user.as_object_mut().unwrap().remove("user");
    cases.push((without_user, "no user"));
    for (event, case) in cases {
        assert!(!schema.is_valid(&event), "accepts {case}");
        assert!(
            EventEnvelope::parse(&event.to_string()).is_err(),
            "the processor reads {case}"
        );
    }
}
