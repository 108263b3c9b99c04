//! `PATCH` and `DELETE /api/crm/{id}`: versions, ETags and `If-Match`, the events each
//! change publishes through the outbox, in version order, and the tombstone a deletion leaves.

use serde_json::{json, Value};

use crate::helpers::{s, send_to, spawn_app, ApiRequest, TestApp};

async fn created(app: &TestApp) -> String {
    let res = app
        .post_users(&json!({"name": "Ada Lovelace", "email": "ada@example.com"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.header("etag"), Some("\"1\""));
    res.json()["id"].as_str().unwrap().to_owned()
}

fn patch(id: &str, body: &Value) -> ApiRequest {
    ApiRequest::new("PATCH", &format!("/api/crm/{id}"))
        .header("Content-Type", "application/merge-patch+json")
        .body(body.to_string())
}

/// The events on the queue, by type and version, in the order they were sent.
async fn events(app: &TestApp) -> Vec<Value> {
    app.queued_messages()
        .await
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_patch_changes_the_user_bumps_its_version_and_publishes_its_new_state() {
    let app = spawn_app().await;
    let id = created(&app).await;
    let res = app.send(patch(&id, &json!({"name": " Ada King "}))).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("etag"), Some("\"2\""));
    assert_eq!(res.json()["name"], "Ada King");
    assert_eq!(res.json()["email"], "ada@example.com");
    let res = app
        .send(
            patch(&id, &json!({"email": "ada.king@EXAMPLE.com"}))
                .header("Content-Type", "application/json")
                .header("If-Match", "\"2\""),
        )
        .await;
    assert_eq!((res.status, res.header("etag")), (200, Some("\"3\"")), "{}", res.body);

    let got = app.get(&format!("/api/crm/{id}")).await;
    assert_eq!(got.header("etag"), Some("\"3\""));
    assert_eq!(got.json()["email"], "ada.king@example.com");
    let item = &app.stored_items().await[0];
    assert_eq!(item["Version"].as_n().unwrap(), "3");
    assert!(
        !item.contains_key("Outbox") && !item.contains_key("OutboxLater"),
        "all sent"
    );

    let sent = events(&app).await;
    let kinds = kinds_and_versions(&sent);
    assert_eq!(
        kinds,
        [
            ("UserCreated".into(), 1),
            ("UserUpdated".into(), 2),
            ("UserUpdated".into(), 3)
        ]
    );
    assert_eq!(
        sent[2]["user"],
        json!({"id": id, "name": "Ada King", "email": "ada.king@example.com"})
    );
    assert_ne!(
        sent[1]["eventId"], sent[2]["eventId"],
        "each change is an event of its own"
    );
}

#[tokio::test]
async fn a_patch_that_changes_nothing_sends_nothing() {
    let app = spawn_app().await;
    let id = created(&app).await;
    for body in [
        json!({}),
        json!({"name": "Ada Lovelace"}),
        json!({"id": "other", "email": "ada@EXAMPLE.COM"}),
    ] {
        let res = app.send(patch(&id, &body)).await;
        assert_eq!((res.status, res.header("etag")), (200, Some("\"1\"")), "{body}");
    }
    assert_eq!(events(&app).await.len(), 1, "the creation only");
}

#[tokio::test]
async fn if_match_must_name_the_current_version() {
    let app = spawn_app().await;
    let id = created(&app).await;
    for stale in ["\"2\"", "W/\"1\"", "1"] {
        let res = app
            .send(patch(&id, &json!({"name": "Grace"})).header("If-Match", stale))
            .await;
        assert_eq!(res.problem(412)["type"], "urn:problem-type:version-mismatch", "{stale}");
        let res = app
            .send(ApiRequest::new("DELETE", &format!("/api/crm/{id}")).header("If-Match", stale))
            .await;
        assert_eq!(res.status, 412, "{stale}");
    }
    assert_eq!(app.get(&format!("/api/crm/{id}")).await.json()["name"], "Ada Lovelace");
    let res = app
        .send(patch(&id, &json!({"name": "Grace"})).header("If-Match", "*"))
        .await;
    assert_eq!(res.status, 200);
}

#[tokio::test]
async fn invalid_patches_are_400_listing_every_field() {
    let app = spawn_app().await;
    let id = created(&app).await;
    let res = app.send(patch(&id, &json!({"name": null, "email": "nope"}))).await;
    assert_eq!(res.problem_fields(), ["name", "email"]);
    let res = app.send(patch(&id, &json!({"name": 7}))).await;
    assert_eq!(res.problem_fields(), ["name"]);
    let res = app.send(patch(&id, &json!(["name"]))).await;
    assert_eq!(res.status, 400);
    let res = app
        .send(
            ApiRequest::new("PATCH", &format!("/api/crm/{id}"))
                .header("Content-Type", "text/plain")
                .body("name=Grace".to_owned()),
        )
        .await;
    assert_eq!(res.status, 415);
    assert_eq!(events(&app).await.len(), 1);
}

#[tokio::test]
async fn unknown_users_are_404() {
    let app = spawn_app().await;
    let unknown = uuid::Uuid::new_v4();
    for req in [
        patch(&unknown.to_string(), &json!({"name": "Grace"})),
        patch("not-a-uuid", &json!({"name": "Grace"})),
        ApiRequest::new("DELETE", &format!("/api/crm/{unknown}")),
    ] {
        assert_eq!(app.send(req).await.status, 404);
    }
}

#[tokio::test]
async fn a_deletion_leaves_a_tombstone_without_pii_and_publishes_ids_only() {
    let app = spawn_app().await;
    let id = created(&app).await;
    app.send(patch(&id, &json!({"name": "Ada King"}))).await;
    let res = app.send(ApiRequest::new("DELETE", &format!("/api/crm/{id}"))).await;
    assert_eq!((res.status, res.body.as_str()), (204, ""));

    let item = &app.stored_items().await[0];
    let mut attributes: Vec<&str> = item.keys().map(String::as_str).collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        [
            "CorrelationId",
            "CreatedAt",
            "DeletedAt",
            "EventId",
            "Id",
            "UpdatedAt",
            "Version"
        ]
    );
    assert_eq!(item["Version"].as_n().unwrap(), "3");
    let sent = events(&app).await;
    assert_eq!(sent.last().unwrap()["user"], json!({"id": id}), "no name, no email");
    assert_eq!(sent.last().unwrap()["version"], 3);

    assert_eq!(app.get(&format!("/api/crm/{id}")).await.status, 404);
    assert_eq!(app.get("/api/crm").await.json(), json!([]), "lists skip tombstones");
    assert_eq!(app.send(patch(&id, &json!({"name": "Grace"}))).await.status, 404);
    // A second deletion: the state asked for holds; nothing more is sent.
    let again = app
        .send(ApiRequest::new("DELETE", &format!("/api/crm/{id}")).header("If-Match", "\"1\""))
        .await;
    assert_eq!(again.status, 204);
    assert!(events(&app).await.is_empty(), "no second UserDeleted");
    // Nor does a backfill put the user's name and email back into the tombstone.
    let stale = user_sync::domain::User::new(
        id.parse().unwrap(),
        user_sync::domain::NewUser::parse(
            user_sync::domain::RawField::Text("Ada King"),
            user_sync::domain::RawField::Text("ada@example.com"),
        )
        .unwrap(),
        user_sync::events::now_utc_millis(),
        uuid::Uuid::new_v4(),
    );
    let event = user_sync::store::PendingEvent::new(user_sync::events::EventEnvelope::user_created(&stale), "backfill");
    let marked = app.app.users.mark_pending(stale.id, &event).await.unwrap();
    assert_eq!(marked, user_sync::store::Marked::NotMarked);
    assert!(!format!("{:?}", app.stored_items().await[0]).contains("Ada"));
}

#[tokio::test]
async fn a_repeated_create_of_a_deleted_user_is_409() {
    let app = spawn_app().await;
    let body = json!({"name": "Ada Lovelace", "email": "ada@example.com"});
    let create = ApiRequest::post_json("/api/crm", &body).header("Idempotency-Key", "k-deleted");
    let id = app.send(create.clone()).await.json()["id"].as_str().unwrap().to_owned();
    app.send(ApiRequest::new("DELETE", &format!("/api/crm/{id}"))).await;
    let res = app.send(create).await;
    assert_eq!(res.problem(409)["type"], "urn:problem-type:user-deleted");
}

/// A user created through an app whose queue is unreachable, and that app.
async fn created_while_the_queue_is_down() -> (TestApp, crm_api::App, String) {
    let app = spawn_app().await;
    let down = app
        .with_topic_arn(&format!("{}-gone", app.config.events_topic_arn))
        .await;
    let res = send_to(
        &down,
        ApiRequest::post_json("/api/crm", &json!({"name": "Ada", "email": "ada@example.com"})),
    )
    .await;
    let id = res.json()["id"].as_str().unwrap().to_owned();
    (app, down, id)
}

/// However many changes an outage sees, the user's item holds the pending creation and the
/// newest update only (it carries the whole state): never near DynamoDB's 400 KB item limit,
/// and the creation still arrives first.
#[tokio::test]
async fn changes_made_while_the_queue_is_unreachable_collapse_behind_the_creation() {
    const CHANGES: u64 = 2_000;
    let (app, down, id) = created_while_the_queue_is_down().await;
    for n in 0..CHANGES {
        let res = send_to(&down, patch(&id, &json!({"name": format!("Ada {n}")}))).await;
        assert_eq!(res.status, 200, "{}", res.body);
    }
    let item = &app.stored_items().await[0];
    assert!(s(item, "OutboxEvent").contains("\"UserCreated\""), "the oldest leads");
    let later = item["OutboxLater"].as_l().unwrap();
    assert_eq!(later.len(), 1, "only the newest update waits behind it");
    assert!(format!("{later:?}").contains(&format!("Ada {}", CHANGES - 1)));

    // The queue is back: the next change sends everything pending, oldest first.
    let res = app.send(patch(&id, &json!({"name": "Ada D"}))).await;
    assert_eq!(res.status, 200);
    let sent = kinds_and_versions(&events(&app).await);
    assert_eq!(
        sent,
        [("UserCreated".to_owned(), 1), ("UserUpdated".to_owned(), CHANGES + 2)]
    );
    let item = &app.stored_items().await[0];
    assert!(!item.contains_key("Outbox") && !item.contains_key("OutboxLater"));
}

#[tokio::test]
async fn a_deletion_while_the_queue_is_unreachable_replaces_what_was_pending() {
    let (app, down, id) = created_while_the_queue_is_down().await;
    send_to(&down, patch(&id, &json!({"name": "Ada B"}))).await;
    assert_eq!(
        send_to(&down, ApiRequest::new("DELETE", &format!("/api/crm/{id}")))
            .await
            .status,
        204
    );
    let item = &app.stored_items().await[0];
    assert!(s(item, "OutboxEvent").contains("\"UserDeleted\""));
    assert!(!item.contains_key("OutboxLater"));
    let all = format!("{item:?}");
    assert!(
        !all.contains("Ada") && !all.contains("ada@example.com"),
        "no PII left: {all}"
    );
}

#[tokio::test]
async fn a_users_sync_status_reads_the_erp_sides_view() {
    use user_sync::domain::EmployeeState;
    use user_sync::store::{Applied, ErpEmployeesTable, Leased};
    let app = spawn_app().await;
    let id = created(&app).await;
    let sync = |res: &crate::helpers::TestResponse| res.json()["sync"].clone();
    assert_eq!(
        sync(&app.get(&format!("/api/crm/{id}")).await),
        json!({"status": "pending"})
    );

    // The processor applies version 1.
    let employees = ErpEmployeesTable::new(app.dynamo.clone(), &app.config.employees_table);
    let now = user_sync::events::now_utc_millis();
    let Leased::Mine(lease, _) = employees
        .lease(&id, now, now + std::time::Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("a free user")
    };
    let applied = Applied {
        version: 1,
        state: EmployeeState::Active,
        erp_record_id: "EMP-x",
        erp_system: "OracleFusion",
        event_id: "evt-1",
        synced_at: now,
        pii_event_ids: &[],
    };
    assert!(employees.apply(&lease, &applied).await.unwrap());
    let got = sync(&app.get(&format!("/api/crm/{id}")).await);
    assert_eq!(
        (got["status"].clone(), got["erpVersion"].clone()),
        (json!("synced"), json!(1))
    );
    assert_eq!(got["erpRecordId"], "EMP-x");
    assert!(got["syncedAt"].is_string());
    // Each consumer answers for itself: the ERP has version 1, the CRM mirror nothing yet.
    let downstream = |res: &crate::helpers::TestResponse| res.json()["downstream"].clone();
    let got = downstream(&app.get(&format!("/api/crm/{id}")).await);
    assert_eq!(
        (
            got["erp"]["status"].clone(),
            got["erp"]["version"].clone(),
            got["erp"]["recordId"].clone()
        ),
        (json!("synced"), json!(1), json!("EMP-x"))
    );
    assert_eq!(got["crmMirror"], json!({"status": "pending"}));
    let mirror = ErpEmployeesTable::new(app.dynamo.clone(), app.config.mirror_contacts_table.as_ref().unwrap());
    let Leased::Mine(lease, _) = mirror
        .lease(&id, now, now + std::time::Duration::from_secs(60))
        .await
        .unwrap()
    else {
        panic!("a free user")
    };
    assert!(mirror
        .apply(
            &lease,
            &Applied {
                erp_system: "Salesforce",
                ..applied
            }
        )
        .await
        .unwrap());
    let got = downstream(&app.get(&format!("/api/crm/{id}")).await);
    assert_eq!(
        (got["crmMirror"]["status"].clone(), got["crmMirror"]["version"].clone()),
        (json!("synced"), json!(1))
    );

    // A change: pending until applied; failed once its event failed for good.
    app.send(patch(&id, &json!({"name": "Ada King"}))).await;
    assert_eq!(sync(&app.get(&format!("/api/crm/{id}")).await)["status"], "pending");
    employees.mark_failed(&id, 2, "evt-2", now).await.unwrap();
    let got = sync(&app.get(&format!("/api/crm/{id}")).await);
    assert_eq!(
        (got["status"].clone(), got["erpVersion"].clone()),
        (json!("failed"), json!(1))
    );
    // The mirror holds version 1 still: pending, whatever the ERP's state.
    assert_eq!(
        downstream(&app.get(&format!("/api/crm/{id}")).await)["crmMirror"]["status"],
        "pending"
    );
    // Lists need not carry it.
    let listed = app.get("/api/crm").await.json();
    assert!(listed[0].get("sync").is_none() && listed[0].get("downstream").is_none());
}

/// Each sent event's type and version, in order.
fn kinds_and_versions(events: &[serde_json::Value]) -> Vec<(String, u64)> {
    events
        .iter()
        .map(|e| {
            (
                e["eventType"].as_str().unwrap().to_owned(),
                e["version"].as_u64().unwrap(),
            )
        })
        .collect()
}
