use serde_json::json;

use crate::helpers::{spawn_app, ApiRequest};

#[tokio::test]
async fn returns_a_created_user() {
    let app = spawn_app().await;
    let created = app
        .post_users(&json!({"name": "Ada", "email": "ada@example.com"}))
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    let mut expected = created.clone();
    expected["sync"] = json!({"status": "pending"});
    expected["downstream"] = json!({"erp": {"status": "pending"}, "crmMirror": {"status": "pending"}});
    for path in [format!("/api/crm/{id}"), format!("/prod/api/crm/{id}")] {
        let res = app.get(&path).await;
        assert_eq!(res.status, 200, "{path}");
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.header("etag"), Some("\"1\""));
        assert_eq!(res.json(), expected, "{path}: the user as created, and its sync status");
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    for id in ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "1"] {
        app.get(&format!("/api/crm/{id}")).await.problem(404);
    }
}

#[tokio::test]
async fn works_with_function_url_payloads() {
    let app = spawn_app().await;
    let created = app
        .send(ApiRequest::post_json("/api/crm", &json!({"name": "Ada", "email": "ada@example.com"})).via_function_url())
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let res = app
        .send(ApiRequest::new("GET", &format!("/api/crm/{id}")).via_function_url())
        .await;
    assert_eq!(res.status, 200);
}
