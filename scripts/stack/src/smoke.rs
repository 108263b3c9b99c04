//! The original system's flow, once, against a deployment (AWS or the local stack), as its
//! clients call it: signed requests, `Location` and `Link` followed as an HTTP client
//! resolves them. Nothing is polled: a client of the API has no access to the tables.

use reqwest::{Method, Url};
use serde_json::{json, Value};

use crate::SignedClient;

/// The two endpoints, from `BASE` (`…/prod`) or from the stack's outputs.
pub struct Endpoints {
    pub users: Url,
    pub events: Url,
}

impl Endpoints {
    /// `BASE/api/crm` and `BASE/events`; a base that already ends in `/api/crm` is the
    /// users endpoint itself.
    pub fn under(base: &str) -> Result<Self, String> {
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api/crm").unwrap_or(base);
        let parse = |path: &str| Url::parse(&format!("{base}{path}")).map_err(|e| format!("{base}: {e}"));
        Ok(Self {
            users: parse("/api/crm")?,
            events: parse("/events")?,
        })
    }
}

/// Runs every step, printing one line each; the first broken promise is the error.
pub async fn run(client: &SignedClient, endpoints: &Endpoints) -> Result<(), String> {
    let email = format!("smoke-{}@example.com", uuid::Uuid::new_v4().simple());
    let created = client
        .send(
            Method::POST,
            &endpoints.users,
            Some(&json!({"name": "Smoke Test", "email": email})),
        )
        .await?;
    let location = header(&created, "location");
    let (status, user) = read(created).await?;
    expect(status == 201, || format!("POST {}: {status} {user}", endpoints.users))?;
    let id = user["id"].as_str().ok_or("the 201 has no id")?.to_owned();
    println!("ok  POST {} -> 201, user {id}", endpoints.users);

    let location = location.ok_or("the 201 has no Location")?;
    let user_url = endpoints
        .users
        .join(&location)
        .map_err(|e| format!("Location {location}: {e}"))?;
    let (status, fetched) = read(client.send(Method::GET, &user_url, None).await?).await?;
    expect(status == 200 && is_with_sync(&fetched, &user), || {
        format!("GET {user_url} (the Location): {status} {fetched}")
    })?;
    println!("ok  GET {user_url} (Location) -> 200, the same user, with its sync status");

    let mut page = Some(endpoints.users.clone());
    let (mut pages, mut listed) = (0, false);
    while let Some(url) = page.take() {
        let response = client.send(Method::GET, &url, None).await?;
        let link = header(&response, "link");
        let (status, users) = read(response).await?;
        expect(status == 200 && users.is_array(), || {
            format!("GET {url}: {status} {users}")
        })?;
        pages += 1;
        listed |= users
            .as_array()
            .is_some_and(|all| all.iter().any(|u| u["id"] == id.as_str()));
        page = link.and_then(|l| next_page(&url, &l));
    }
    expect(listed, || format!("{} does not list user {id}", endpoints.users))?;
    println!(
        "ok  GET {} -> 200, {pages} page(s) following Link, lists the user",
        endpoints.users
    );

    let event_id = format!("smoke-{}", uuid::Uuid::new_v4().simple());
    let event = json!({"eventId": event_id, "eventType": "UserCreated", "timestamp": "2025-10-16T12:00:00Z",
                       "user": {"id": id, "name": "Smoke Test", "email": email}});
    let (status, answer) = read(client.send(Method::POST, &endpoints.events, Some(&event)).await?).await?;
    expect(
        status == 200 && answer["message"] == "Event processed successfully" && answer["eventId"] == event_id.as_str(),
        || format!("POST {}: {status} {answer}", endpoints.events),
    )?;
    println!("ok  POST {} -> 200, event processed", endpoints.events);

    // The rest of the user's life: changed under the version just read, then deleted.
    let if_match = |etag: &str| vec![("if-match".to_owned(), etag.to_owned())];
    let renamed = client
        .request(
            Method::PATCH,
            &user_url,
            Some(&json!({"name": "Smoke Test Renamed"})),
            if_match("\"1\""),
            true,
        )
        .await?;
    let etag = header(&renamed, "etag");
    let (status, user) = read(renamed).await?;
    expect(
        status == 200 && user["name"] == "Smoke Test Renamed" && etag.as_deref() == Some("\"2\""),
        || format!("PATCH {user_url}: {status} {user} (ETag {etag:?})"),
    )?;
    println!("ok  PATCH {user_url} (If-Match \"1\") -> 200, ETag \"2\"");
    let (status, answer) = read(
        client
            .request(Method::DELETE, &user_url, None, if_match("\"2\""), true)
            .await?,
    )
    .await?;
    expect(status == 204, || format!("DELETE {user_url}: {status} {answer}"))?;
    let (status, answer) = read(client.send(Method::GET, &user_url, None).await?).await?;
    expect(status == 404, || {
        format!("GET {user_url} after DELETE: {status} {answer}")
    })?;
    println!("ok  DELETE {user_url} (If-Match \"2\") -> 204, then GET -> 404");
    Ok(())
}

/// The `rel="next"` target of a `Link` header, resolved against the page that carried it.
pub fn next_page(page: &Url, link: &str) -> Option<Url> {
    link.split(',')
        .find(|l| l.contains("rel=\"next\""))
        .and_then(|l| l.trim().strip_prefix('<')?.split_once('>'))
        .and_then(|(reference, _)| page.join(reference).ok())
}

pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The status and the JSON body (`null` when the body is not JSON).
pub async fn read(response: reqwest::Response) -> Result<(u16, Value), String> {
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// Whether `fetched` (one user's `GET`) is `created` (its `201`) plus a sync status: one
/// user's answer adds whether the ERP has it yet (`sync`) and, by consumer, whether each
/// downstream system has it (`downstream`).
pub fn is_with_sync(fetched: &Value, created: &Value) -> bool {
    let mut fetched = fetched.clone();
    let sync = fetched.as_object_mut().and_then(|f| f.remove("sync"));
    let downstream = fetched.as_object_mut().and_then(|f| f.remove("downstream"));
    fetched == *created
        && sync.is_some_and(|s| s["status"].is_string())
        && downstream.is_none_or(|d| {
            d.as_object()
                .is_some_and(|by| by.values().all(|c| c["status"].is_string()))
        })
}

pub fn expect(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetched_user_is_the_created_one_with_its_sync_status() {
        let created = json!({"id": "u", "name": "Ada"});
        assert!(is_with_sync(
            &json!({"id": "u", "name": "Ada", "sync": {"status": "pending"}}),
            &created
        ));
        assert!(!is_with_sync(&json!({"id": "u", "name": "Ada"}), &created), "no sync");
        assert!(is_with_sync(
            &json!({"id": "u", "name": "Ada", "sync": {"status": "pending"},
                    "downstream": {"erp": {"status": "pending"}, "crmMirror": {"status": "synced", "version": 1}}}),
            &created
        ));
        assert!(
            !is_with_sync(
                &json!({"id": "u", "name": "Ada", "sync": {"status": "pending"}, "downstream": {"erp": {}}}),
                &created
            ),
            "a consumer without a status"
        );
        assert!(!is_with_sync(
            &json!({"id": "u", "name": "Eve", "sync": {"status": "synced"}}),
            &created
        ));
    }

    #[test]
    fn endpoints_under_a_stage_or_the_users_url() {
        for base in [
            "https://a.execute-api.eu-west-1.amazonaws.com/prod",
            "https://a.execute-api.eu-west-1.amazonaws.com/prod/",
            "https://a.execute-api.eu-west-1.amazonaws.com/prod/api/crm",
        ] {
            let e = Endpoints::under(base).unwrap();
            assert_eq!(e.users.path(), "/prod/api/crm", "{base}");
            assert_eq!(e.events.path(), "/prod/events", "{base}");
        }
    }

    #[test]
    fn next_page_resolves_relative_references() {
        let page = Url::parse("http://h:1/restapis/x/prod/_user_request_/api/crm?limit=2").unwrap();
        let next = next_page(&page, "<?limit=2&cursor=abc>; rel=\"next\"").unwrap();
        assert_eq!(
            next.as_str(),
            "http://h:1/restapis/x/prod/_user_request_/api/crm?limit=2&cursor=abc"
        );
        assert_eq!(next_page(&page, "<?a=1>; rel=\"prev\""), None);
    }
}
