//! The scenarios. Each returns `Err(reason)` when the deployed system broke a promise.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use reqwest::{Method, Url};
use serde_json::{json, Value};
use tokio::time::sleep;

use ops::LocalUrlForm;

use super::signing_proxy::{Sign, SigningProxy};
use super::world::{s, World};
use super::{browser, edges, erp, gateway, watch, SETTINGS};
use crate::smoke::{expect, is_with_sync, next_page};

type Check<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + 'a>>;

/// Runs every check whose name contains one of `only` (all of them when it is empty).
pub async fn run_all(world: &World, only: &[&str]) -> (usize, usize) {
    let checks: Vec<(&str, Check)> = vec![
        (
            "the original's flow through the stage: POST, processed within 10 s, GET one, GET all",
            Box::pin(original_flow(world)),
        ),
        (
            "an unsigned request gets 401 from the gateway, naming the SigV4 scheme",
            Box::pin(unsigned_is_refused(world)),
        ),
        (
            "the gateway's IAM decides: no execute-api:Invoke 403, a wrong secret 403, a CRM client's policy reaches /api/crm but not POST /events, a producer's the reverse",
            Box::pin(gateway::iam_decides(world)),
        ),
        (
            "a signed request to a path the API does not have gets crm-api's 404 problem, to another method of a known path its function's 405 with Allow; unsigned, the gateway's 401",
            Box::pin(gateway::unknown_routes_reach_the_functions(world)),
        ),
        (
            "Location and Link resolve behind the stage, in both local URL forms",
            Box::pin(references_resolve_behind_the_stage(world)),
        ),
        (
            "POST /events with the original's example event",
            Box::pin(post_events(world)),
        ),
        (
            "a poison record reaches the DLQ through the redrive policy; its batch is processed",
            Box::pin(poison_record(world)),
        ),
        (
            "the same event three times yields one record",
            Box::pin(duplicate_deliveries(world)),
        ),
        (
            "a user's life through the stage: created, changed twice (GET shows version 3 synced), deleted; the ERP ends deleted at version 4 and no table keeps its name or email",
            Box::pin(lifecycle_through_the_api(world)),
        ),
        (
            "users' lifecycles shuffled and repeated onto the queue end in the newest state (GET says synced); a deleted user's name and email are gone",
            Box::pin(shuffled_lifecycles(world)),
        ),
        (
            "the ERP connector: each change reaches the fake ERP once per idempotency key through 503s, a 429 with Retry-After and repeated deliveries, with the secret's token, which no environment holds",
            Box::pin(erp::once_per_key(world)),
        ),
        (
            "an ERP outage: nothing reaches it or is lost while it is down, the backlog drains once it is back, none dead-lettered",
            Box::pin(erp::outage(world)),
        ),
        (
            "a 400 from the ERP sends the event to the DLQ, its reason in erp-processor's log, the user's sync failed",
            Box::pin(erp::refusal_goes_to_the_dlq(world)),
        ),
        (
            "scripts/metrics prints the run's figures from the EMF lines: requests, outcomes, ERP calls and errors",
            Box::pin(erp::metrics(world)),
        ),
        (
            "queue unreachable for crm-api: 50 users reach the ERP once, and a user created and changed arrives as both, in order (GET: synced at version 2), by the relay's schedule",
            Box::pin(outbox_under_outage(world)),
        ),
        (
            "a failed ERP call gives its claim back: POST /events answers 503, and its immediate retry calls the ERP again and is applied",
            Box::pin(erp::failed_call_retried_at_once(world)),
        ),
        (
            "text a queue cannot carry (U+FFFF) is refused where it enters, naming the field (POST and PATCH /api/crm, POST /events); a user stored with it before the rule syncs after a change",
            Box::pin(edges::undeliverable_text(world)),
        ),
        (
            "Idempotency-Key repeats follow the table in docs/api.md: 201 while the user is unchanged, 422 once changed or with another body, 409 once deleted; nothing dead-lettered, the ERP ends deleted",
            Box::pin(edges::idempotency_key_repeats(world)),
        ),
        (
            "a deletion is final over a producer's higher version: DELETE erases every audit record's name and email, reaches the ERP with the CRM's version 3, the view ends deleted at 100",
            Box::pin(edges::deletion_over_a_higher_version(world)),
        ),
        (
            "every AWS call ends: with crm-api's queue hanging a POST answers 201 within 15 s (the relay delivers it), with its table hanging 503 within 20 s",
            Box::pin(edges::every_aws_call_ends(world)),
        ),
        (
            "40 concurrent PATCHes of one user and producers' events racing them end synced at its newest version, none dead-lettered",
            Box::pin(edges::concurrent_producers(world)),
        ),
        (
            "a user leased by another holder defers its change's record instead of failing it: synced once the lease expires, none dead-lettered",
            Box::pin(edges::held_lease_defers(world)),
        ),
        (
            "POST /events with the ERP hanging answers 503 erp-unavailable within 27 s, inside API Gateway's 29 s",
            Box::pin(edges::hanging_erp_behind_post_events(world)),
        ),
        (
            "scripts/redrive: a user's event dead-lettered while the ERP store was unreachable reaches the audit trail once after the fix",
            Box::pin(redrive_after_the_fix(world)),
        ),
        (
            "scripts/backfill re-publishes a processed user: one more audit record, none on a rerun",
            Box::pin(backfill_reaches_the_erp(world)),
        ),
        (
            "400 users from 50 concurrent clients, each processed exactly once",
            Box::pin(concurrent_users(world)),
        ),
        (
            "cargo lambda watch: crm-api under watch writes to the deployed stack, Location and Link resolve",
            Box::pin(watch::inner_loop(world)),
        ),
        (
            "schemathesis: every check, every phase, on the document the stage serves, zero failures",
            Box::pin(schemathesis(world)),
        ),
        (
            "Swagger UI renders every operation in headless Chromium, its CDN assets pinned by SRI",
            Box::pin(browser::swagger_ui_renders(world)),
        ),
        (
            "scripts/smoke passes against the local stage URL",
            Box::pin(smoke(world)),
        ),
        (
            "scripts/bench --e2e --smoke measures the lag at 1, 10 and 50 clients",
            Box::pin(bench_e2e(world)),
        ),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (name, check) in checks
        .into_iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|word| name.contains(word)))
    {
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

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Polls `probe` until it yields `Some`, or fails after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> Result<T, String>
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

pub(super) fn user_id(body: &Value) -> Result<String, String> {
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {body}"))
}

async fn original_flow(world: &World) -> Result<(), String> {
    let created = world.post_user("Test User", &unique_email("flow")).await?;
    expect(created.status == 201, || {
        format!("POST answered {}: {}", created.status, created.body)
    })?;
    let id = user_id(&created.body)?;

    let record = eventually(Duration::from_secs(10), "the processed record", || async {
        world.processed_by_user().await.remove(&id)
    })
    .await?;
    expect(record.len() == 1, || format!("{} records", record.len()))?;
    let record = &record[0];
    for attr in test_support::ORIGINAL_AUDIT_ATTRIBUTES {
        expect(record.contains_key(attr), || format!("the record lacks {attr}"))?;
    }
    expect(s(record, "Status").as_deref() == Some("Processed"), || "Status".into())?;
    expect(s(record, "EventType").as_deref() == Some("UserCreated"), || {
        "EventType".into()
    })?;
    expect(s(record, "UserName").as_deref() == Some("Test User"), || {
        "UserName".into()
    })?;

    let users = world.users_url();
    let location = created.location.ok_or("the 201 has no Location")?;
    let user_url = users.join(&location).map_err(|e| e.to_string())?;
    let fetched = world.call(Method::GET, &user_url, None).await?;
    expect(
        fetched.status == 200 && is_with_sync(&fetched.body, &created.body),
        || format!("GET {user_url}: {} {}", fetched.status, fetched.body),
    )?;
    let listed = walk_pages(world, &users.join("crm?limit=100").map_err(|e| e.to_string())?).await?;
    expect(listed.contains(&id), || "GET /api/crm does not list the user".into())
}

/// Every user id on every page from `first`, following `Link` as a client resolves it;
/// fails when a page repeats a user.
async fn walk_pages(world: &World, first: &Url) -> Result<HashSet<String>, String> {
    let mut seen = HashSet::new();
    let mut page = Some(first.clone());
    while let Some(url) = page.take() {
        let answer = world.call(Method::GET, &url, None).await?;
        expect(answer.status == 200, || {
            format!("GET {url}: {} {}", answer.status, answer.body)
        })?;
        for user in answer.body.as_array().ok_or("a page is not an array")? {
            let id = user_id(user)?;
            expect(seen.insert(id.clone()), || format!("{id} listed twice (at {url})"))?;
        }
        page = answer.link.and_then(|link| next_page(&url, &link));
    }
    Ok(seen)
}

async fn unsigned_is_refused(world: &World) -> Result<(), String> {
    let api = world.api(LocalUrlForm::Host);
    let event = envelope(&uuid::Uuid::new_v4().to_string(), "user-unsigned");
    for (method, url, body) in [
        (Method::GET, api.crm_api_url.clone(), None),
        (
            Method::POST,
            api.crm_api_url.clone(),
            Some(json!({"name": "No Sig", "email": "n@example.com"})),
        ),
        (Method::POST, api.events_url.clone(), Some(event)),
    ] {
        let response = world
            .client
            .request(method.clone(), &url, body.as_ref(), Vec::new(), false)
            .await?;
        let status = response.status().as_u16();
        let scheme = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        expect(status == 401 && scheme == "AWS4-HMAC-SHA256", || {
            format!("unsigned {method} {url} answered {status}, WWW-Authenticate {scheme:?}")
        })?;
    }
    Ok(())
}

async fn references_resolve_behind_the_stage(world: &World) -> Result<(), String> {
    for form in LocalUrlForm::ALL {
        let users = world.api(form).crm_api_url;
        let mut created = HashSet::new();
        for i in 0..3 {
            let body = json!({"name": format!("Ref {i}"), "email": unique_email("ref")});
            let answer = world.call(Method::POST, &users, Some(&body)).await?;
            expect(answer.status == 201, || {
                format!("POST {users}: {} {}", answer.status, answer.body)
            })?;
            let location = answer.location.ok_or("the 201 has no Location")?;
            let user_url = users.join(&location).map_err(|e| e.to_string())?;
            let fetched = world.call(Method::GET, &user_url, None).await?;
            expect(
                fetched.status == 200 && is_with_sync(&fetched.body, &answer.body),
                || format!("{}: Location {location} -> {user_url}: {}", form.name(), fetched.status),
            )?;
            created.insert(user_id(&answer.body)?);
        }
        let first = users.join("crm?limit=2").map_err(|e| e.to_string())?;
        let listed = walk_pages(world, &first).await?;
        let stored: HashSet<String> = world
            .scan(&world.outputs.users_table_name)
            .await
            .iter()
            .filter_map(|u| s(u, "Id"))
            .collect();
        expect(created.is_subset(&listed), || {
            format!("{}: a new user is on no page", form.name())
        })?;
        expect(listed == stored, || {
            format!(
                "{}: the pages list {} users, the table holds {}",
                form.name(),
                listed.len(),
                stored.len()
            )
        })?;
    }
    Ok(())
}

pub fn envelope(event_id: &str, user_id: &str) -> Value {
    json!({"eventId": event_id, "eventType": "UserCreated", "timestamp": "2025-10-16T12:00:00.0000000Z",
           "user": {"id": user_id, "name": "Test User", "email": "test@example.com"}})
}

async fn post_events(world: &World) -> Result<(), String> {
    let event_id = format!("evt-{}", uuid::Uuid::new_v4().simple());
    let url = world.api(LocalUrlForm::Host).events_url;
    let answer = world
        .call(Method::POST, &url, Some(&envelope(&event_id, "user-123")))
        .await?;
    let body = &answer.body;
    expect(answer.status == 200, || format!("{}: {body}", answer.status))?;
    expect(body["message"] == "Event processed successfully", || format!("{body}"))?;
    expect(
        body["eventId"] == event_id.as_str() && body["userId"] == "user-123",
        || format!("{body}"),
    )?;
    expect(body["processedAt"].is_string(), || format!("{body}"))
}

async fn poison_record(world: &World) -> Result<(), String> {
    let poison = format!("{{\"poison\": \"{}\"", uuid::Uuid::new_v4());
    let users: Vec<String> = (0..5).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    world.send_raw(&poison).await;
    for user in &users {
        world
            .send_raw(&envelope(&uuid::Uuid::new_v4().to_string(), user).to_string())
            .await;
    }
    eventually(Duration::from_secs(15), "the valid records of the burst", || async {
        let processed = world.processed_by_user().await;
        users
            .iter()
            .all(|u| processed.get(u).is_some_and(|r| r.len() == 1))
            .then_some(())
    })
    .await?;
    // 5 receives, each failing and waiting out the visibility timeout, then the redrive.
    let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 30);
    eventually(limit, "the poison record in the dead-letter queue", || async {
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
    eventually(Duration::from_secs(20), "all three deliveries consumed", || async {
        let processed = world.processed_by_user().await.contains_key(&user);
        (processed && world.queue_depth().await == 0).then_some(())
    })
    .await?;
    let records = world.processed_by_user().await.remove(&user).unwrap_or_default();
    expect(records.len() == 1, || {
        format!("{} records for one event", records.len())
    })
}

/// Creation, two updates and a deletion of `user_id`, as crm-api publishes them; every
/// state carries `tag` in its name and email, the mark an erasure must leave nowhere.
fn lifecycle(user_id: &str, tag: &str) -> Vec<Value> {
    let state = |kind: &str, version: u64, name: &str, email: &str| {
        json!({"eventId": uuid::Uuid::new_v4().to_string(), "eventType": kind, "version": version,
               "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": user_id, "name": name, "email": email}})
    };
    vec![
        state(
            "UserCreated",
            1,
            &format!("Ada {tag}"),
            &format!("ada-{tag}@example.com"),
        ),
        state(
            "UserUpdated",
            2,
            &format!("Ada L. {tag}"),
            &format!("ada-{tag}@example.com"),
        ),
        state(
            "UserUpdated",
            3,
            &format!("Ada L. {tag}"),
            &format!("lovelace-{tag}@example.com"),
        ),
        json!({"eventId": uuid::Uuid::new_v4().to_string(), "eventType": "UserDeleted", "version": 4,
               "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": user_id}}),
    ]
}

async fn lifecycle_through_the_api(world: &World) -> Result<(), String> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let created = world
        .post_user(&format!("Ada {tag}"), &format!("ada-{tag}@example.com"))
        .await?;
    expect(created.status == 201, || {
        format!("POST: {} {}", created.status, created.body)
    })?;
    let id = user_id(&created.body)?;
    let user_url = world.user_url(&id)?;
    for (version, patch) in [
        (1, json!({"name": format!("Ada L. {tag}")})),
        (2, json!({"email": format!("lovelace-{tag}@example.com")})),
    ] {
        let headers = vec![("if-match".to_owned(), format!("\"{version}\""))];
        let response = world
            .client
            .request(Method::PATCH, &user_url, Some(&patch), headers, true)
            .await?;
        let status = response.status().as_u16();
        expect(status == 200, || format!("PATCH {patch}: {status}"))?;
    }
    // The ERP's side, as the API tells it: version 3 synced, once the events are through.
    let sync = eventually(Duration::from_secs(30), "GET showing version 3 synced", || async {
        let got = world.call(Method::GET, &user_url, None).await.ok()?;
        (got.body["sync"]["status"] == "synced").then_some(got.body["sync"].clone())
    })
    .await?;
    expect(sync["erpVersion"] == 3 && sync["erpRecordId"].is_string(), || {
        format!("sync {sync}")
    })?;
    let deleted = world.call(Method::DELETE, &user_url, None).await?;
    expect(deleted.status == 204, || {
        format!("DELETE: {} {}", deleted.status, deleted.body)
    })?;
    let gone = world.call(Method::GET, &user_url, None).await?;
    expect(gone.status == 404, || format!("GET after DELETE: {}", gone.status))?;

    let view = eventually(Duration::from_secs(30), "the ERP view at version 4", || async {
        world.erp_view(&id).await.filter(|v| v.version == 4)
    })
    .await?;
    expect(view.state == user_sync::domain::EmployeeState::Deleted, || {
        format!("{view:?}")
    })?;
    // An event that met its user leased by another delivery is retried after the visibility
    // timeout: it may still come, superseded.
    let records = eventually(Duration::from_secs(30), "all four events recorded", || async {
        let records = world.processed_by_user().await.remove(&id).unwrap_or_default();
        let done = records
            .iter()
            .filter(|r| s(r, "Status").as_deref() != Some("InProgress"))
            .count();
        (done == 4).then_some(records)
    })
    .await?;
    let mut versions: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r.get("Version")
                    .and_then(|v| v.as_n().ok())
                    .cloned()
                    .unwrap_or_default(),
                s(r, "Status").unwrap_or_default(),
            )
        })
        .collect();
    versions.sort();
    expect(
        versions.len() == 4
            && versions
                .iter()
                .all(|(_, status)| status == "Processed" || status == "Superseded"),
        || format!("audit trail {versions:?}"),
    )?;
    expect(versions[3] == ("4".to_owned(), "Processed".to_owned()), || {
        format!("audit trail {versions:?}")
    })?;
    for table in [
        &world.outputs.users_table_name,
        &world.outputs.erp_processed_users_table_name,
        &world.outputs.erp_employees_table_name,
    ] {
        let traces = world
            .scan(table)
            .await
            .iter()
            .flat_map(|item| item.values())
            .filter(|v| format!("{v:?}").contains(tag.as_str()))
            .count();
        expect(traces == 0, || {
            format!("{traces} values in {table} still name the deleted user")
        })?;
    }
    Ok(())
}

async fn shuffled_lifecycles(world: &World) -> Result<(), String> {
    // The order each user's events are sent in, by index into its lifecycle, repeats included.
    let orders: [&[usize]; 4] = [&[3, 2, 1, 0], &[1, 3, 0, 1, 2, 3], &[2, 0, 1, 2], &[1, 2, 0]];
    let mut users = Vec::new();
    for order in orders {
        let user_id = uuid::Uuid::new_v4().to_string();
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let events = lifecycle(&user_id, &tag);
        for &i in order {
            world.send_raw(&events[i].to_string()).await;
        }
        let newest = order.iter().max().copied().unwrap_or_default();
        users.push((user_id, tag, events, order, newest));
    }
    for (user_id, _, events, order, newest) in &users {
        let sent: HashSet<usize> = order.iter().copied().collect();
        eventually(Duration::from_secs(30), "every event recorded", || async {
            let records = world.processed_by_user().await.remove(user_id).unwrap_or_default();
            let done = records
                .iter()
                .filter(|r| s(r, "Status").as_deref() != Some("InProgress"))
                .count();
            (done == sent.len()).then_some(())
        })
        .await?;
        let view = world.erp_view(user_id).await.ok_or("no ERP view")?;
        let newest_event = &events[*newest];
        expect(
            view.version == *newest as u64 + 1 && view.event_id == newest_event["eventId"].as_str().unwrap_or_default(),
            || format!("{order:?}: the ERP holds {view:?}"),
        )?;
        let deleted = view.state == user_sync::domain::EmployeeState::Deleted;
        expect(deleted == (*newest == 3), || {
            format!("{order:?}: state {:?}", view.state)
        })?;
        let records = world.processed_by_user().await.remove(user_id).unwrap_or_default();
        let status = |i: usize| {
            let id = events[i]["eventId"].as_str().unwrap_or_default();
            records
                .iter()
                .find(|r| s(r, "EventId").as_deref() == Some(id))
                .and_then(|r| s(r, "Status"))
        };
        expect(status(*newest).as_deref() == Some("Processed"), || {
            format!("{order:?}: the newest event is {:?}", status(*newest))
        })?;
        // Which older ones were superseded depends on the order SQS hands them over; none
        // may be left unfinished.
        expect(
            (0..4)
                .filter(|i| sent.contains(i))
                .all(|i| matches!(status(i).as_deref(), Some("Processed" | "Superseded"))),
            || format!("{order:?}: an event neither applied nor superseded"),
        )?;
        if !deleted {
            // The CRM's row of the user at its newest version, as crm-api would hold it:
            // the API then tells the ERP has it.
            let newest_version = (*newest + 1).to_string();
            world
                .put_users_row(&[
                    ("Id", user_id.as_str()),
                    ("Name", "Ada"),
                    ("Email", "ada@example.com"),
                    ("Version", newest_version.as_str()),
                ])
                .await?;
            let url = world.user_url(user_id)?;
            let got = world.call(Method::GET, &url, None).await?;
            expect(
                got.body["sync"]["status"] == "synced" && got.body["sync"]["erpVersion"] == json!(*newest + 1),
                || format!("{order:?}: GET says {}", got.body),
            )?;
            let applied = records
                .iter()
                .find(|r| s(r, "EventId").as_deref() == newest_event["eventId"].as_str());
            expect(
                applied.and_then(|r| s(r, "UserEmail")).as_deref() == newest_event["user"]["email"].as_str(),
                || format!("{order:?}: the newest record does not hold the newest email"),
            )?;
        }
    }
    let audit = world.scan(&world.outputs.erp_processed_users_table_name).await;
    let views = world.scan(&world.outputs.erp_employees_table_name).await;
    for (user_id, tag, _, order, newest) in &users {
        let traces = audit
            .iter()
            .chain(&views)
            .flat_map(|item| item.values())
            .filter(|v| format!("{v:?}").contains(tag.as_str()))
            .count();
        if *newest == 3 {
            expect(traces == 0, || {
                format!("{order:?}: {traces} values still name deleted user {user_id}")
            })?;
        } else {
            expect(traces > 0, || {
                format!("{order:?}: the live user's state is not in the audit trail")
            })?;
        }
    }
    Ok(())
}

async fn concurrent_users(world: &World) -> Result<(), String> {
    const USERS: usize = 400;
    const CLIENTS: usize = 50;
    let started = Instant::now();
    let created: Vec<Result<(String, Instant), String>> = stream::iter(0..USERS)
        .map(|i| async move {
            let answer = world.post_user(&format!("Load {i}"), &unique_email("load")).await?;
            expect(answer.status == 201, || {
                format!("user {i}: {} {}", answer.status, answer.body)
            })?;
            Ok((user_id(&answer.body)?, Instant::now()))
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let created: HashMap<String, Instant> = created.into_iter().collect::<Result<_, _>>()?;
    let posted_in = started.elapsed();

    let mut seen: HashMap<String, Instant> = HashMap::new();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(180);
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
    expect(seen.len() == USERS, || format!("{} of {USERS} processed", seen.len()))?;
    let twice = counts.values().filter(|n| **n != 1).count();
    expect(twice == 0, || format!("{twice} users with more than one record"))?;

    let mut lags: Vec<f64> = created
        .iter()
        .map(|(id, at)| (seen[id] - *at).as_secs_f64() * 1000.0)
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct = |p: f64| lags[((lags.len() as f64 * p).ceil() as usize).clamp(1, lags.len()) - 1];
    println!(
        "      {USERS} users from {CLIENTS} clients in {:.1} s ({:.0}/s); POST→record lag p50 {:.0} ms, p99 {:.0} ms (table scanned every ~100 ms)",
        posted_in.as_secs_f64(),
        USERS as f64 / posted_in.as_secs_f64(),
        pct(0.50),
        pct(0.99)
    );
    Ok(())
}

/// crm-api's SQS calls go through the fault proxy, switched off; the relay's do not.
async fn outbox_under_outage(world: &World) -> Result<(), String> {
    with_service_down(world, "crm-api", "AWS_ENDPOINT_URL_SQS", outage(world)).await
}

/// Runs `scenario` while `binary`'s calls to one AWS service (`variable`, such as
/// `AWS_ENDPOINT_URL_SQS`, set in its environment: an operator's change to the deployed
/// function) go to the switched-off fault proxy; restores both afterwards, whatever the
/// outcome.
async fn with_service_down<T>(
    world: &World,
    binary: &str,
    variable: &str,
    scenario: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let function = world.function_named(binary).await?;
    // TLS passes through the proxy: the emulator's certificate names 127.0.0.1.
    let proxy = format!("https://{}", world.proxy.addr);
    world.proxy.set_up(false);
    world.set_function_env(&function, variable, Some(&proxy)).await?;
    let outcome = scenario.await;
    world.proxy.set_up(true);
    world.set_function_env(&function, variable, None).await?;
    outcome
}

async fn outage(world: &World) -> Result<(), String> {
    let refused_before = world.proxy.refused();
    let mut ids = Vec::new();
    for i in 0..50 {
        let answer = world.post_user(&format!("Outage {i}"), &unique_email("outage")).await?;
        expect(answer.status == 201, || {
            format!(
                "user {i} answered {} while the queue was unreachable: {}",
                answer.status, answer.body
            )
        })?;
        ids.push(user_id(&answer.body)?);
    }
    // One user created and changed while the queue is unreachable: both events wait in the
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
    // must hold: crm-api tried the queue for every user and was turned away each time, so
    // whatever reaches the ERP came through the outbox.
    let refused = world.proxy.refused() - refused_before;
    expect(refused >= ids.len(), || {
        format!(
            "crm-api tried the unreachable queue {refused} times for {} users",
            ids.len()
        )
    })?;
    let pending = pending_marks(world, &ids).await;
    println!("      {refused} SQS connections refused; {pending} of 51 pending when the last POST answered");

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

/// Fuzzes the deployed API from the document it serves (fetched signed, as a client
/// would), with the expectations committed in schemathesis.toml.
async fn schemathesis(world: &World) -> Result<(), String> {
    let api = world.api(LocalUrlForm::Path);
    let doc = world
        .call(
            Method::GET,
            &api.crm_api_url.join("../openapi.json").map_err(|e| e.to_string())?,
            None,
        )
        .await?;
    expect(doc.status == 200, || {
        format!("GET /openapi.json answered {}", doc.status)
    })?;
    let file = world.root.join("target/e2e/openapi.json");
    std::fs::create_dir_all(file.parent().expect("a directory")).map_err(|e| e.to_string())?;
    std::fs::write(&file, doc.body.to_string()).map_err(|e| e.to_string())?;
    // schemathesis cannot compute SigV4: its requests carry a marker the proxy replaces
    // with a real signature. The requests its ignored_auth check strips of the marker or
    // gives a made-up Authorization reach the gateway as they are, and must be refused.
    const MARKER: &str = "SigV4 (signed by the e2e proxy)";
    let stage = Url::parse(&format!("{}/", api.crm_api_url.as_str().trim_end_matches("/api/crm")))
        .map_err(|e| e.to_string())?;
    let proxy = SigningProxy::start(world.client.clone(), stage, Sign::Marked(MARKER)).await?;
    let out = tokio::process::Command::new(world.root.join(".venv/bin/schemathesis"))
        .current_dir(&world.root)
        .args(["--config-file", "schemathesis.toml", "run"])
        .args(["--url", &format!("http://{}", proxy.addr)])
        .args(["--header", &format!("Authorization: {MARKER}")])
        .arg(&file)
        .output()
        .await
        .map_err(|e| format!("cannot run schemathesis: {e}"))?;
    let report = String::from_utf8_lossy(&out.stdout);
    let summary = report
        .lines()
        .rev()
        .find(|l| l.contains(" in "))
        .unwrap_or_default()
        .trim_matches(['=', ' '])
        .to_owned();
    expect(out.status.success(), || {
        format!("{report}{}", String::from_utf8_lossy(&out.stderr))
    })?;
    // Signed requests must get through: a run of refusals alone would prove nothing. And
    // none is refused: a 403 would be a signature or a grant refused, a 401 the gateway not
    // seeing the signature. (A path or method the API has no route for is no 401 either:
    // every route has a method, and crm-api answers an unknown path with 404.)
    let answers = proxy.signed_answers();
    let accepted: usize = answers
        .iter()
        .filter(|(status, _)| (200..300).contains(*status))
        .map(|(_, n)| n)
        .sum();
    let refused = answers.contains_key(&401) || answers.contains_key(&403);
    println!("      schemathesis: {summary}; signed requests' answers: {answers:?}");
    expect(accepted > 0 && !refused, || {
        format!("signed requests answered {answers:?}: expected 2xx answers and no 401 or 403")
    })
}

async fn smoke(world: &World) -> Result<(), String> {
    let base = world.users_url().as_str().trim_end_matches("/api/crm").to_owned();
    run_script(world, "scripts/smoke", &[&base]).await.map(drop)
}

async fn bench_e2e(world: &World) -> Result<(), String> {
    run_script(world, "scripts/bench", &["--e2e", "--smoke"])
        .await
        .map(drop)
}

async fn backfill_reaches_the_erp(world: &World) -> Result<(), String> {
    let created = world.post_user("Backfill Me", &unique_email("backfill")).await?;
    let user = user_id(&created.body)?;
    let records = |n: usize| {
        let user = user.clone();
        async move {
            let found = world.processed_by_user().await.remove(&user).unwrap_or_default();
            (found.len() == n).then_some(())
        }
    };
    eventually(Duration::from_secs(20), "the new user processed", || records(1)).await?;
    let out = run_script(world, "scripts/backfill", &[&user]).await?;
    expect(out.contains("1 sent"), || format!("scripts/backfill:\n{out}"))?;
    eventually(Duration::from_secs(20), "the backfill event processed", || records(2)).await?;
    let rerun = run_script(world, "scripts/backfill", &[&user]).await?;
    expect(rerun.contains("1 sent"), || format!("the rerun sent nothing:\n{rerun}"))?;
    // Long enough for the rerun's event, a duplicate, to have been consumed.
    sleep(Duration::from_secs(2 * SETTINGS.visibility_timeout_s)).await;
    records(2)
        .await
        .ok_or_else(|| "a rerun of the same generation recorded another event".to_owned())
}

/// erp-processor's DynamoDB calls go through the switched-off fault proxy: a new user's
/// event fails until the dead-letter queue. Then the cause is fixed and `scripts/redrive`
/// moves that one message back.
async fn redrive_after_the_fix(world: &World) -> Result<(), String> {
    let email = unique_email("redrive");
    let dead_lettered = async {
        let created = world.post_user("Redrive Me", &email).await?;
        expect(created.status == 201, || format!("POST answered {}", created.status))?;
        let user = user_id(&created.body)?;
        let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 30);
        let letter = eventually(limit, "the user's event in the dead-letter queue", || async {
            let letters = ops::redrive::list(&world.sqs, &world.outputs.dead_letter_queue_url)
                .await
                .ok()?;
            letters
                .into_iter()
                .find(|l| l.user_id.as_deref() == Some(user.as_str()))
        })
        .await?;
        Ok((user, letter))
    };
    // Restoring the function's environment is the fix.
    let (user, letter) = with_service_down(world, "erp-processor", "AWS_ENDPOINT_URL_DYNAMODB", dead_lettered).await?;
    let event_id = letter.event_id.clone().ok_or("the dead letter is not an event")?;
    expect(!world.processed_by_user().await.contains_key(&user), || {
        "the user reached the audit trail before the redrive".to_owned()
    })?;

    let listed = run_script(world, "scripts/redrive", &["list"]).await?;
    expect(listed.contains(&event_id) && listed.contains(&user), || {
        format!("scripts/redrive list does not show {event_id}:\n{listed}")
    })?;
    expect(!listed.contains(&email), || {
        "scripts/redrive list shows an email".to_owned()
    })?;
    let moved = run_script(world, "scripts/redrive", &["move", &event_id]).await?;
    expect(moved.contains("moved 1 message(s)"), || {
        format!("scripts/redrive move:\n{moved}")
    })?;

    let records = eventually(
        Duration::from_secs(30),
        "the redriven user in the audit trail",
        || async { world.processed_by_user().await.remove(&user) },
    )
    .await?;
    // Long enough for a second delivery, if the redrive had sent one, to be recorded.
    sleep(Duration::from_secs(2 * SETTINGS.visibility_timeout_s)).await;
    let records = world.processed_by_user().await.remove(&user).unwrap_or(records);
    expect(records.len() == 1, || {
        format!("{} audit records for one event", records.len())
    })?;
    let still_dead = ops::redrive::list(&world.sqs, &world.outputs.dead_letter_queue_url)
        .await?
        .iter()
        .any(|l| l.event_id.as_deref() == Some(event_id.as_str()));
    expect(!still_dead, || "the event is still in the dead-letter queue".to_owned())
}

/// Runs a script as a client of this stack; its output is the failure's reason, and its
/// standard output the result.
pub(super) async fn run_script(world: &World, script: &str, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(world.root.join(script))
        .args(args)
        .envs(world.client_env())
        .env("LOCAL_STATE_DIR", world.root.join("target/e2e"))
        .output()
        .await
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    // The end of each stream: a build's progress lines come first and would bury the reason.
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    expect(out.status.success(), || {
        format!(
            "{script} exited with {}\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
            out.status,
            tail(&out.stdout),
            tail(&out.stderr)
        )
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
