//! The scenarios. Each returns `Err(reason)` when the system broke a promise.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use tokio::time::sleep;

use crate::world::{s, World};
use crate::SETTINGS;

type Check<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

pub async fn run_all(world: &World) -> (usize, usize) {
    let checks: Vec<(&str, Check)> = vec![
        (
            "the original's flow: POST, processed within 10 s, GET one, GET all",
            Box::pin(original_flow(world)),
        ),
        (
            "POST /events with the original's example event",
            Box::pin(post_events(world)),
        ),
        (
            "a poison message ends in the DLQ, its burst is processed",
            Box::pin(poison_message(world)),
        ),
        (
            "the same event three times yields one record",
            Box::pin(duplicate_deliveries(world)),
        ),
        (
            "200 users created concurrently, each processed once",
            Box::pin(concurrent_users(world)),
        ),
        (
            "queue unreachable: 50 users still reach the ERP once",
            Box::pin(outbox_under_outage(world)),
        ),
        ("scripts/smoke passes against the local stack", Box::pin(smoke(world))),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks {
        let started = Instant::now();
        match check.await {
            Ok(()) => {
                passed += 1;
                println!("PASS  {name} ({:.1} s)", started.elapsed().as_secs_f64());
            }
            Err(reason) => {
                failed += 1;
                println!("FAIL  {name}: {reason}");
            }
        }
    }
    (passed, failed)
}

fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Polls `probe` until it yields `Some`, or fails after `limit`.
async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = probe().await {
            return Ok(found);
        }
        if started.elapsed() > limit {
            return Err(format!("{what} not within {limit:?}"));
        }
        sleep(Duration::from_millis(200)).await;
    }
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}

async fn original_flow(world: &World) -> Result<(), String> {
    let (status, user) = world.post_user("Test User", &unique_email("flow")).await?;
    check(status == 201, || format!("POST answered {status}: {user}"))?;
    let id = user["id"].as_str().ok_or("no id")?.to_owned();

    let record = eventually(Duration::from_secs(10), "the processed record", || async {
        world.processed_by_user().await.remove(&id)
    })
    .await?;
    check(record.len() == 1, || format!("{} records", record.len()))?;
    let record = &record[0];
    for attr in [
        "EventId",
        "UserId",
        "UserName",
        "UserEmail",
        "ProcessedAt",
        "EventType",
        "Status",
    ] {
        check(record.contains_key(attr), || format!("the record lacks {attr}"))?;
    }
    check(s(record, "Status").as_deref() == Some("Processed"), || {
        "Status is not Processed".into()
    })?;
    check(s(record, "EventType").as_deref() == Some("UserCreated"), || {
        "EventType".into()
    })?;
    check(s(record, "UserName").as_deref() == Some("Test User"), || {
        "UserName".into()
    })?;

    let (status, _, fetched) = world.get(&format!("/api/crm/{id}")).await?;
    check(status == 200 && fetched == user, || {
        format!("GET one: {status} {fetched}")
    })?;

    let mut path = Some("/api/crm?limit=100".to_owned());
    let mut listed = false;
    while let Some(p) = path.take() {
        let (status, link, page) = world.get(&p).await?;
        check(status == 200, || format!("GET all: {status}"))?;
        listed |= page
            .as_array()
            .is_some_and(|users| users.iter().any(|u| u["id"] == id.as_str()));
        path = link.and_then(|l| l.strip_prefix('<')?.split_once('>').map(|(url, _)| url.to_owned()));
    }
    check(listed, || "GET /api/crm does not list the user".into())
}

fn envelope(event_id: &str, user_id: &str) -> Value {
    json!({"eventId": event_id, "eventType": "UserCreated", "timestamp": "2025-10-16T12:00:00.0000000Z",
           "user": {"id": user_id, "name": "Test User", "email": "test@example.com"}})
}

async fn post_events(world: &World) -> Result<(), String> {
    let event_id = format!("evt-{}", uuid::Uuid::new_v4().simple());
    let res = world
        .http
        .post(format!("{}/events", world.api))
        .json(&envelope(&event_id, "user-123"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let body: Value = res.json().await.map_err(|e| e.to_string())?;
    check(status == 200, || format!("{status}: {body}"))?;
    check(body["message"] == "Event processed successfully", || format!("{body}"))?;
    check(
        body["eventId"] == event_id.as_str() && body["userId"] == "user-123",
        || format!("{body}"),
    )?;
    check(body["processedAt"].is_string(), || format!("{body}"))
}

async fn poison_message(world: &World) -> Result<(), String> {
    let poison = format!("{{\"poison\": \"{}\"", uuid::Uuid::new_v4());
    let users: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    world.send_raw(&poison).await;
    for user in &users {
        world
            .send_raw(&envelope(&uuid::Uuid::new_v4().to_string(), user).to_string())
            .await;
    }
    eventually(Duration::from_secs(15), "the valid messages of the burst", || async {
        let processed = world.processed_by_user().await;
        users
            .iter()
            .all(|u| processed.get(u).is_some_and(|r| r.len() == 1))
            .then_some(())
    })
    .await?;
    // 5 receives, each failing, then the redrive: about 5 visibility timeouts.
    let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 30);
    eventually(limit, "the poison message in the dead-letter queue", || async {
        world.dead_letters().await.contains(&poison).then_some(())
    })
    .await
}

async fn duplicate_deliveries(world: &World) -> Result<(), String> {
    let user = uuid::Uuid::new_v4().to_string();
    let body = envelope(&uuid::Uuid::new_v4().to_string(), &user).to_string();
    for _ in 0..3 {
        world.send_raw(&body).await;
    }
    eventually(Duration::from_secs(15), "all three deliveries consumed", || async {
        let processed = world.processed_by_user().await.contains_key(&user);
        (processed && world.queue_depth().await == 0).then_some(())
    })
    .await?;
    let records = world.processed_by_user().await.remove(&user).unwrap_or_default();
    check(records.len() == 1, || {
        format!("{} records for one event", records.len())
    })
}

async fn concurrent_users(world: &World) -> Result<(), String> {
    const USERS: usize = 200;
    let started = Instant::now();
    let created: Vec<Result<(String, Instant), String>> = stream::iter(0..USERS)
        .map(|i| async move {
            let (status, body) = world.post_user(&format!("Load {i}"), &unique_email("load")).await?;
            check(status == 201, || format!("user {i}: {status} {body}"))?;
            Ok((body["id"].as_str().ok_or("no id")?.to_owned(), Instant::now()))
        })
        .buffer_unordered(20)
        .collect()
        .await;
    let created: HashMap<String, Instant> = created.into_iter().collect::<Result<_, _>>()?;
    let posted_in = started.elapsed();

    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < USERS && Instant::now() < deadline {
        let processed = world.processed_by_user().await;
        let now = Instant::now();
        for id in created.keys() {
            if let Some(records) = processed.get(id) {
                seen.entry(id.clone()).or_insert(now);
                counts.insert(id.clone(), records.len());
            }
        }
        sleep(Duration::from_millis(100)).await;
    }
    check(seen.len() == USERS, || format!("{} of {USERS} processed", seen.len()))?;
    let duplicates: HashSet<_> = counts.iter().filter(|(_, n)| **n != 1).map(|(id, _)| id).collect();
    check(duplicates.is_empty(), || {
        format!("{} users with more than one record", duplicates.len())
    })?;

    let mut lags: Vec<f64> = created
        .iter()
        .map(|(id, at)| (seen[id] - *at).as_secs_f64() * 1000.0)
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags[((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "      {USERS} users posted in {:.1} s ({:.0}/s); POST→record lag p50 {:.0} ms, p99 {:.0} ms (polled every ~100 ms)",
        posted_in.as_secs_f64(),
        USERS as f64 / posted_in.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

async fn outbox_under_outage(world: &World) -> Result<(), String> {
    world.proxy.set_up(false);
    let mut ids = Vec::new();
    for i in 0..50 {
        let (status, body) = world.post_user(&format!("Outage {i}"), &unique_email("outage")).await?;
        if status != 201 {
            world.proxy.set_up(true);
            return Err(format!(
                "user {i} answered {status} while the queue was unreachable: {body}"
            ));
        }
        ids.push(body["id"].as_str().ok_or("no id")?.to_owned());
    }
    let users = world.scan(&world.users_table).await;
    let pending = users
        .iter()
        .filter(|u| s(u, "Id").is_some_and(|id| ids.contains(&id)) && u.contains_key("Outbox"))
        .count();
    world.proxy.set_up(true);
    check(pending == 50, || {
        format!("{pending} of 50 events pending during the outage")
    })?;

    let restored = Instant::now();
    let limit = Duration::from_secs(2 * SETTINGS.relay_every_s + 5);
    let result = eventually(limit, "all 50 processed after the queue came back", || async {
        let processed = world.processed_by_user().await;
        ids.iter().all(|id| processed.contains_key(id)).then_some(processed)
    })
    .await?;
    println!(
        "      all 50 processed {:.1} s after the queue came back (relay every {} s)",
        restored.elapsed().as_secs_f64(),
        SETTINGS.relay_every_s
    );
    let twice = ids.iter().filter(|id| result[*id].len() != 1).count();
    check(twice == 0, || format!("{twice} users processed more than once"))?;
    sleep(Duration::from_secs(SETTINGS.relay_every_s + 1)).await;
    let left = world
        .scan(&world.users_table)
        .await
        .iter()
        .filter(|u| u.contains_key("Outbox"))
        .count();
    check(left == 0, || format!("{left} pending marks left behind"))
}

async fn smoke(world: &World) -> Result<(), String> {
    let out = tokio::process::Command::new(world.root.join("scripts/smoke"))
        .arg(&world.api)
        .output()
        .await
        .map_err(|e| format!("cannot run scripts/smoke: {e}"))?;
    check(out.status.success(), || {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}
