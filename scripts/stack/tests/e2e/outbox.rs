//! The transactional outbox end to end: with crm-api's topic unreachable, every change
//! still reaches the ERP once and in order, by the relay's schedule.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use stack::e2e::SETTINGS;
use stack::smoke::expect;

use crate::support::{eventually, unique_email, user_id, with_service_down};
use crate::world::{s, World};

/// crm-api's SNS calls go through the fault proxy, switched off; the relay's do not.
pub async fn outbox_under_outage(world: &World) -> Result<(), String> {
    with_service_down(world, "crm-api", "AWS_ENDPOINT_URL_SNS", outage(world)).await
}

async fn outage(world: &World) -> Result<(), String> {
    let refused_before = world.proxy.refused();
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
    // The relay keeps its schedule during the outage and may already have delivered the
    // older events (beyond the grace period), so "all 50 still pending" would race it. What
    // must hold: crm-api tried the topic for every user and was turned away each time, so
    // whatever reaches the ERP came through the outbox.
    let refused = world.proxy.refused() - refused_before;
    expect(refused >= ids.len(), || {
        format!(
            "crm-api tried the unreachable topic {refused} times for {} users",
            ids.len()
        )
    })?;
    let pending = pending_marks(world, &ids).await;
    println!("      {refused} SNS connections refused; {pending} of 51 pending when the last POST answered");

    // The relay runs on the emulator's EventBridge schedule, every minute.
    let since = Instant::now();
    let limit = Duration::from_secs(2 * 60 + 30);
    let result = eventually(limit, "all 51 processed by the relay", || async {
        let processed = world.processed_by_user().await;
        ids.iter().all(|id| processed.contains_key(id)).then_some(processed)
    })
    .await?;
    println!(
        "      all 51 processed {:.1} s after they were created (relay every 60 s, grace {} s)",
        since.elapsed().as_secs_f64(),
        SETTINGS.outbox_grace_s
    );
    let twice = ids
        .iter()
        .filter(|id| *id != &changed_id && result[*id].len() != 1)
        .count();
    expect(twice == 0, || format!("{twice} users processed more than once"))?;
    // The changed user: created, then changed, each once and in that order at the ERP.
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
    expect(versions == [1, 2], || {
        format!("the ERP applied the changed user's versions {versions:?}, not [1, 2]")
    })?;
    // The outbox's guarantee holds for every consumer: the CRM mirror, from its own queue,
    // has each user once, and the changed user's create then its change.
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
    expect(
        contacts
            == [
                Some("Outage Changed".to_owned()),
                Some("Outage Changed Twice".to_owned()),
            ],
        || format!("the CRM's contact writes for the changed user, in order: {contacts:?}"),
    )?;
    let left = pending_marks(world, &ids).await;
    expect(left == 0, || format!("{left} pending marks left behind"))
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
