//! The inner loop: `scripts/watch` runs the functions under `cargo lambda watch` against the
//! deployed stack's tables and queue. A user created through it is stored in the deployed
//! `Users` table and its event is consumed by the deployed erp-processor, through the
//! queue's real event source.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::support::{eventually, unique_email};
use crate::world::World;
use stack::e2e::free_port_to_keep;
use stack::smoke::{expect, header, is_with_sync, next_page, read};

/// `scripts/watch` and the processes it starts, stopped together when dropped.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(pid) = self.0.id() {
            // Its own process group: cargo lambda watch and the functions it runs.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", "--", &format!("-{pid}")])
                .status();
        }
    }
}

pub async fn inner_loop(world: &World) -> Result<(), String> {
    let log = world.root.join("target/e2e.watch.log");
    // A failure says what the watch printed last: the build's error, or the function's.
    through_watch(world, &log).await.map_err(|e| {
        let printed = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = printed.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        format!("{e}\nthe last lines of target/e2e.watch.log:\n{tail}")
    })
}

async fn through_watch(world: &World, log: &std::path::Path) -> Result<(), String> {
    // Below the ephemeral range: scripts/watch binds it seconds after it is chosen, while
    // the stack's pollers open connections on ephemeral ports.
    let port = free_port_to_keep();
    let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
    let child = Command::new(world.root.join("scripts/watch"))
        .envs(world.client_env())
        .env("LOCAL_WATCH_PORT", port.to_string())
        .env("LOCAL_STATE_DIR", &world.state)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start scripts/watch: {e}"))?;
    let _watch = Watch(child);
    let users = Url::parse(&format!("http://127.0.0.1:{port}/api/crm")).expect("a valid URL");
    let http = stack::trust::http_client()
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| e.to_string())?;

    // The first call builds and starts crm-api (cargo run): minutes on a cold checkout.
    eventually(Duration::from_secs(900), "crm-api under cargo lambda watch", || async {
        let response = http.get(users.clone()).send().await.ok()?;
        (response.status().as_u16() == 200).then_some(())
    })
    .await?;

    let mut created = HashSet::new();
    for i in 0..3 {
        let body = json!({"name": format!("Watch {i}"), "email": unique_email("watch")});
        let response = http
            .post(users.clone())
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let location = header(&response, "location").ok_or("the 201 has no Location")?;
        let (status, user) = read(response).await?;
        expect(status == 201, || format!("POST {users}: {status} {user}"))?;
        let id = user["id"].as_str().ok_or("no id")?.to_owned();
        let user_url = users.join(&location).map_err(|e| e.to_string())?;
        let (status, fetched) = read(http.get(user_url.clone()).send().await.map_err(|e| e.to_string())?).await?;
        expect(status == 200 && is_with_sync(&fetched, &user), || {
            format!("GET {user_url} (the Location): {status}")
        })?;
        created.insert(id);
    }

    // Every page, following Link from the watch URL.
    let mut listed = HashSet::new();
    let mut page = Some(users.join("crm?limit=2").map_err(|e| e.to_string())?);
    while let Some(url) = page.take() {
        let response = http
            .request(Method::GET, url.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let link = header(&response, "link");
        let (status, body) = read(response).await?;
        expect(status == 200, || format!("GET {url}: {status}"))?;
        for user in body.as_array().ok_or("a page is not an array")? {
            let id = user["id"].as_str().unwrap_or_default().to_owned();
            expect(listed.insert(id.clone()), || format!("{id} listed twice"))?;
        }
        page = link.and_then(|l| next_page(&url, &l));
    }
    expect(created.is_subset(&listed), || {
        "a user created under watch is on no page".into()
    })?;

    // As long as the suite waits for the relay: a poll of the queue, a cold process.
    eventually(
        Duration::from_secs(90),
        "the deployed erp-processor's records",
        || async {
            let processed = world.processed_by_user().await;
            created.iter().all(|id| processed.contains_key(id)).then_some(())
        },
    )
    .await
}
