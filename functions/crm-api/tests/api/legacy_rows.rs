//! Rows the original system wrote (`Id`, `Name`, `Email` only) read as users; a row that is
//! not a user at all is skipped. Stored data never turns a request into a 5xx.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

/// Writes an item attribute by attribute, as the original's `PutItem` did.
async fn put_raw(app: &TestApp, attributes: &[(&str, &str)]) {
    let mut put = app.dynamo.put_item().table_name(&app.config.users_table);
    for (name, value) in attributes {
        put = put.item(*name, AttributeValue::S((*value).to_owned()));
    }
    put.send().await.expect("put into the emulator");
}

#[tokio::test]
async fn the_originals_rows_read_without_a_creation_time_and_broken_rows_are_skipped() {
    let app = spawn_app().await;
    let legacy = Uuid::new_v4().to_string();
    put_raw(
        &app,
        &[
            ("Id", &legacy),
            ("Name", "Grace Hopper"),
            ("Email", "grace@example.com"),
        ],
    )
    .await;
    let nameless = Uuid::new_v4().to_string();
    put_raw(&app, &[("Id", &nameless), ("Email", "no-name@example.com")]).await;
    put_raw(
        &app,
        &[("Id", "not-a-uuid"), ("Name", "Odd"), ("Email", "odd@example.com")],
    )
    .await;
    let ours = app
        .post_users(&json!({"name": "Ada Lovelace", "email": "ada@example.com"}))
        .await
        .json();

    let res = app.get(&format!("/api/crm/{legacy}")).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        res.json(),
        json!({"id": legacy, "name": "Grace Hopper", "email": "grace@example.com", "sync": {"status": "pending"},
               "downstream": {"erp": {"status": "pending"}, "crmMirror": {"status": "pending"}}}),
        "no createdAt"
    );
    app.get(&format!("/api/crm/{nameless}")).await.problem(404);

    for limit in ["1", "2", "100"] {
        let mut listed = Vec::new();
        let mut path = Some(format!("/api/crm?limit={limit}"));
        while let Some(p) = path.take() {
            let res = app.get(&p).await;
            assert_eq!(res.status, 200, "{p}: {}", res.body);
            listed.extend(
                res.json()
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["id"].as_str().unwrap().to_owned()),
            );
            path = res.header("link").map(|l| {
                let query = l.trim_start_matches("<?").split('>').next().unwrap();
                format!("/api/crm?{query}")
            });
        }
        listed.sort();
        let mut expected = vec![legacy.clone(), ours["id"].as_str().unwrap().to_owned()];
        expected.sort();
        assert_eq!(
            listed, expected,
            "limit {limit}: both users, once each, and nothing else"
        );
    }
}

/// A name a queue message cannot carry is refused as it enters (400 naming the field), at
/// `POST` and `PATCH` alike; a user stored with one before the rule still travels: its
/// event's body escapes the character and reads back as the stored name.
#[tokio::test]
async fn text_a_queue_cannot_carry_is_refused_and_a_stored_one_still_travels() {
    let app = spawn_app().await;
    let res = app
        .post_users(&json!({"name": "Ada\u{FFFF}", "email": "ada\u{FFFE}@example.com"}))
        .await;
    assert_eq!(res.problem_fields(), ["name", "email"]);
    let problem = res.json();
    assert!(problem.to_string().contains("U+FFFF"), "the rule is named: {problem}");

    let stored = Uuid::new_v4().to_string();
    put_raw(
        &app,
        &[("Id", &stored), ("Name", "Ada\u{FFFF}"), ("Email", "ada@example.com")],
    )
    .await;
    let patch = |body: serde_json::Value| {
        crate::helpers::ApiRequest::new("PATCH", &format!("/api/crm/{stored}"))
            .header("Content-Type", "application/merge-patch+json")
            .body(body.to_string())
    };
    assert_eq!(
        app.send(patch(json!({"name": "Grace\u{FFFE}"}))).await.problem_fields(),
        ["name"]
    );
    let res = app.send(patch(json!({"email": "ada.l@example.com"}))).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let messages = app.queued_messages().await;
    assert_eq!(messages.len(), 1, "the update left the outbox");
    let body = messages[0].body().unwrap();
    assert!(!body.contains('\u{FFFF}') && body.contains("\\uffff"), "{body}");
    let event: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(event["user"]["name"], "Ada\u{FFFF}");
}
