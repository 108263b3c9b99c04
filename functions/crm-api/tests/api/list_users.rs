use std::collections::HashSet;

use serde_json::{json, Value};
use user_sync::domain::{EmailAddress, NewUser, User, UserName};
use user_sync::events::EventEnvelope;
use user_sync::store::PendingEvent;
use uuid::Uuid;

use crate::helpers::{spawn_app, TestApp};

async fn seed(app: &TestApp, n: usize) -> HashSet<String> {
    let mut ids = HashSet::new();
    for i in 0..n {
        let new = NewUser {
            name: UserName::parse(&format!("User {i}")).unwrap(),
            email: EmailAddress::parse(&format!("user{i}@example.com")).unwrap(),
        };
        let user = User::new(Uuid::new_v4(), new, user_sync::events::now_utc_millis(), Uuid::new_v4());
        let pending = PendingEvent::new(EventEnvelope::user_created(&user), "seed");
        app.app.users.insert(&user, &pending).await.unwrap();
        ids.insert(user.id.to_string());
    }
    ids
}

/// The next page's path and query: the `Link: <...>; rel="next"` reference resolved as a
/// client resolves it, against the URL of the page that carried it (RFC 3986 §5).
fn next_link(requested: &str, link: Option<&str>) -> Option<String> {
    let link = link?;
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let reference = link.trim_start_matches('<').split('>').next().unwrap();
    let base = url::Url::parse("https://api.example.com")
        .unwrap()
        .join(requested)
        .unwrap();
    let next = base.join(reference).unwrap();
    Some(format!("{}?{}", next.path(), next.query().unwrap_or_default()))
}

#[tokio::test]
async fn walking_every_page_returns_every_user_once() {
    let app = spawn_app().await;
    let expected = seed(&app, 7).await;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut path = Some("/api/crm?limit=3".to_owned());
    while let Some(p) = path {
        let res = app.get(&p).await;
        assert_eq!(res.status, 200, "{p}: {}", res.body);
        let page = res.json();
        let page = page.as_array().unwrap();
        sizes.push(page.len());
        for user in page {
            assert_eq!(user.as_object().unwrap().len(), 4, "{user}");
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
        path = next_link(&p, res.header("link"));
    }
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(seen.len(), 7, "no user twice");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);
}

#[tokio::test]
async fn an_exactly_full_last_page_has_no_next_link() {
    let app = spawn_app().await;
    seed(&app, 4).await;
    let first = app.get("/api/crm?limit=2").await;
    let second = app
        .get(&next_link("/api/crm?limit=2", first.header("link")).unwrap())
        .await;
    assert_eq!(second.json().as_array().unwrap().len(), 2);
    assert_eq!(second.header("link"), None, "nothing remains");
}

#[tokio::test]
async fn the_default_page_is_50() {
    let app = spawn_app().await;
    seed(&app, 52).await;
    let res = app.get("/api/crm").await;
    assert_eq!(res.json().as_array().unwrap().len(), 50);
    let rest = app.get(&next_link("/api/crm", res.header("link")).unwrap()).await;
    assert_eq!(rest.json().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_empty_table_is_an_empty_array() {
    let app = spawn_app().await;
    let res = app.get("/api/crm").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!([]));
    assert_eq!(res.header("link"), None);
}

#[tokio::test]
async fn invalid_limits_and_cursors_are_400() {
    let app = spawn_app().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("cursor=%%%", "cursor"),
    ] {
        let res = app.get(&format!("/api/crm?{query}")).await;
        assert_eq!(res.problem_fields(), [field], "{query}");
    }
    assert_eq!(app.get("/api/crm?limit=100").await.status, 200);
    assert_eq!(app.get("/api/crm?limit=1").await.json(), Value::Array(vec![]));
}
