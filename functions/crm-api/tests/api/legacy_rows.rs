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
        json!({"id": legacy, "name": "Grace Hopper", "email": "grace@example.com", "sync": {"status": "pending"}}),
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
