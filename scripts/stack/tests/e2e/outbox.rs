//! The transactional outbox end to end: with the relay's topic unreachable, every change
//! is kept, and once the topic answers again reaches the ERP once and in order.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use stack::e2e::SETTINGS;
use stack::smoke::expect;

use crate::support::{eventually, now_ms, unique_email, user_id, with_service_down};
use crate::world::{s, Item, World};

/// The relay's SNS calls (from the table's stream and from its schedule alike) go through
/// the fault proxy, switched off, while users are created and changed; then it is back.
pub async fn outbox_under_outage(world: &World) -> Result<(), String> {
    let (ids, changed_id) = with_service_down(world, "outbox-relay", "AWS_ENDPOINT_URL_SNS", outage(world)).await?;
    delivered_after(world, ids, changed_id).await
}

/// The writes during the outage; the users' ids, the changed user's last.
async fn outage(world: &World) -> Result<(Vec<String>, String), String> {
    let refused_before = world.proxy.refused();
    let since = now_ms();
    let mut ids = Vec::new();
    for i in 0..50 {
        let answer = world.post_user(&format!("Outage {i}"), &unique_email("outage")).await?;
        expect(answer.status == 201, || {
            format!(
                "user {i} answered {} while the topic was unreachable: {}",
                answer.status, answer.body
            )
        })?;
        ids.push(user_id(&answer.body)?);
    }
    // One user created and changed while the topic is unreachable: both events wait in the
    // outbox, the change behind the create, and must leave in that order (the relay reads
    // the waiting change with GetItem when it clears the create).
    let changed = world.post_user("Outage Changed", &unique_email("outage")).await?;
    expect(changed.status == 201, || {
        format!("the changed user: {} {}", changed.status, changed.body)
    })?;
    let changed_id = user_id(&changed.body)?;
    let changed_url = world.user_url(&changed_id)?;
    let patch = json!({"name": "Outage Changed Twice"});
    let patched = world
        .client
        .request(
            Method::PATCH,
            &changed_url,
            Some(&patch),
            vec![("if-match".to_owned(), "\"1\"".to_owned())],
            true,
        )
        .await?;
    expect(patched.status() == 200, || {
        format!("PATCH during the outage: {}", patched.status())
    })?;
    ids.push(changed_id.clone());
    // The stream's records reach the relay while the topic is down: it tries, is turned
    // away (its log says so of a run from the stream, not only of a scheduled one), and
    // every event stays pending (nothing else publishes them).
    eventually(
        Duration::from_secs(30),
        "a relay run from the stream turned away by the topic",
        || async {
            let lines = ops::metrics::log_lines(&world.lambda, &world.logs(), "outbox-relay", since)
                .await
                .ok()?;
            let refused_stream_run = lines.iter().any(|l| {
                l.contains("relay run")
                    && l.contains("stream")
                    && !l.contains("\"failed\":0")
                    && !l.contains("failed=0")
            });
            (refused_stream_run && world.proxy.refused() > refused_before).then_some(())
        },
    )
    .await?;
    let pending = pending_marks(world, &ids).await;
    expect(pending == ids.len(), || {
        format!(
            "{pending} of {} users pending during the outage: an event left without the relay",
            ids.len()
        )
    })?;
    println!(
        "      {} SNS connections refused; all {pending} pending during the outage",
        world.proxy.refused() - refused_before
    );
    Ok((ids, changed_id))
}

/// Once the topic answers again: every event delivered once, the changed user's in order.
async fn delivered_after(world: &World, ids: Vec<String>, changed_id: String) -> Result<(), String> {
    let changed_url = world.user_url(&changed_id)?;
    // The stream's records not yet read when the topic came back are delivered at once; the
    // rest wait for the relay's schedule (every minute, past the grace period).
    let since = Instant::now();
    let limit = Duration::from_secs(2 * 60 + 30);
    let result = eventually(limit, "all 51 processed by the relay", || async {
        let processed = world.processed_by_user().await;
        ids.iter().all(|id| processed.contains_key(id)).then_some(processed)
    })
    .await?;
    println!(
        "      all 51 processed {:.1} s after the topic came back (relay every 60 s, grace {} s)",
        since.elapsed().as_secs_f64(),
        SETTINGS.outbox_grace_s
    );
    let twice = ids
        .iter()
        .filter(|id| *id != &changed_id && result[*id].len() != 1)
        .count();
    expect(twice == 0, || format!("{twice} users processed more than once"))?;
    // The changed user: its create and its change each recorded once. The relay publishes them
    // in that order, one after the other; a consumer applies by version, so the change
    // arriving first (the two go through SQS apart) leaves the create superseded.
    recorded_once_each(&result[&changed_id], "the ERP")?;
    let got = eventually(
        Duration::from_secs(90),
        "the changed user synced at version 2",
        || async {
            let got = world.call(Method::GET, &changed_url, None).await.ok()?;
            (got.body["sync"]["status"] == "synced" && got.body["sync"]["erpVersion"] == 2).then_some(got)
        },
    )
    .await?;
    expect(got.body["name"] == "Outage Changed Twice", || {
        format!("GET after the outage: {}", got.body)
    })?;
    let versions: Vec<u64> = world
        .erp
        .calls_for(&changed_id)
        .iter()
        .filter(|c| c.method == "PUT" && c.status.is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|c| c.body.as_ref().and_then(|b| b["version"].as_u64()))
        .collect();
    expect(versions == [1, 2] || versions == [2], || {
        format!("the ERP applied the changed user's versions {versions:?}, not [1, 2] or [2]")
    })?;
    println!("      the ERP applied the changed user's versions {versions:?}");
    // The outbox's guarantee holds for every consumer: the CRM mirror, from its own queue,
    // has each user once, and the changed user's create and change, applied by version.
    let mirrored = eventually(
        Duration::from_secs(60),
        "all 51 processed by the CRM mirror",
        || async {
            let processed = world.mirror_processed_by_user().await;
            ids.iter().all(|id| processed.contains_key(id)).then_some(processed)
        },
    )
    .await?;
    let twice = ids
        .iter()
        .filter(|id| *id != &changed_id && mirrored[*id].len() != 1)
        .count();
    expect(twice == 0, || {
        format!("{twice} users processed more than once by the CRM mirror")
    })?;
    recorded_once_each(&mirrored[&changed_id], "the CRM mirror")?;
    eventually(
        Duration::from_secs(60),
        "the changed user at version 2 in the mirror's view",
        || async { world.mirror_view(&changed_id).await.filter(|v| v.version == 2) },
    )
    .await?;
    let contacts: Vec<Option<String>> = world
        .crm
        .calls_for(&changed_id)
        .iter()
        .filter(|c| c.method == "PATCH" && c.status.is_some_and(|s| (200..300).contains(&s)))
        .map(|c| c.body.as_ref().and_then(|b| b["LastName"].as_str().map(str::to_owned)))
        .collect();
    let (first, last) = (
        Some("Outage Changed".to_owned()),
        Some("Outage Changed Twice".to_owned()),
    );
    expect(contacts == [first, last.clone()] || contacts == [last], || {
        format!("the CRM's contact writes for the changed user, in order: {contacts:?}")
    })?;
    let left = pending_marks(world, &ids).await;
    expect(left == 0, || format!("{left} pending marks left behind"))
}

/// A user's two events in a consumer's audit records: versions 1 and 2, once each, the
/// change applied (`Processed`), the create applied or superseded by it.
fn recorded_once_each(records: &[Item], consumer: &str) -> Result<(), String> {
    let mut seen: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let version = r.get("Version").and_then(|v| v.as_n().ok()).cloned();
            (version.unwrap_or_default(), s(r, "Status").unwrap_or_default())
        })
        .collect();
    seen.sort();
    let create_ok = seen
        .first()
        .is_some_and(|(v, st)| v == "1" && (st == "Processed" || st == "Superseded"));
    let change_ok = seen.get(1).is_some_and(|(v, st)| v == "2" && st == "Processed");
    expect(seen.len() == 2 && create_ok && change_ok, || {
        format!("{consumer}'s records of the changed user (version, status): {seen:?}")
    })
}

/// How many of these users still carry the outbox's pending mark.
async fn pending_marks(world: &World, ids: &[String]) -> usize {
    world
        .scan(&world.outputs.users_table_name)
        .await
        .iter()
        .filter(|u| s(u, "Id").is_some_and(|id| ids.contains(&id)) && u.contains_key("Outbox"))
        .count()
}
