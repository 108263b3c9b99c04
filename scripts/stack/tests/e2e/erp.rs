//! The ERP connector's promises, against the fake ERP the suite deployed the stack with
//! (`-c erpEndpointUrl`): what reaches it, through failures and redeliveries, and where an
//! operator sees what went wrong.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use test_support::fake_erp::{Behaviour, Call};

use crate::support::{envelope, eventually, none_reached, now_ms, run_script, unique_email, user_id};
use crate::world::World;
use stack::e2e::SETTINGS;
use stack::smoke::expect;

/// Each change reaches the ERP once per idempotency key (its event id), whatever was retried
/// or delivered twice; every call carries the secret's token, which no environment holds.
pub async fn once_per_key(world: &World) -> Result<(), String> {
    // Each armed failure goes to whichever call comes next, so each phase starts with the
    // queue drained and only its own deliveries in flight.
    drained(world).await?;
    // One event delivered four times: by POST /events (first, with nothing armed and no
    // queue delivery holding it), then three times onto the queue.
    let repeated = uuid::Uuid::new_v4().to_string();
    let event_id = format!("evt-erp-{}", uuid::Uuid::new_v4().simple());
    let body = envelope(&event_id, &repeated);
    let events_url = world.api(ops::LocalUrlForm::Host).events_url;
    let posted = world.call(Method::POST, &events_url, Some(&body)).await?;
    expect(posted.status == 200, || {
        format!("POST /events: {} {}", posted.status, posted.body)
    })?;
    for _ in 0..3 {
        world.send_raw(&body.to_string()).await;
    }
    drained(world).await?;
    // The next three calls fail (retried inside the invocation, or by SQS).
    world.erp.fail_next(3, 503, None);
    let mut users = Vec::new();
    for n in 0..3 {
        let created = world
            .post_user(&format!("Erp Once {n}"), &unique_email("erp-once"))
            .await?;
        expect(created.status == 201, || {
            format!("POST: {} {}", created.status, created.body)
        })?;
        users.push(user_id(&created.body)?);
    }
    eventually(
        Duration::from_secs(30),
        "the created users' records in the ERP",
        || async { users.iter().all(|u| world.erp.employee(u).is_some()).then_some(()) },
    )
    .await?;
    drained(world).await?;
    let first = world.user_url(&users[0])?;
    synced(world, &first, 1).await?;
    world.erp.fail_next(1, 429, Some("1"));
    let patch = json!({"name": "Erp Once Renamed"});
    let headers = vec![("if-match".to_owned(), "\"1\"".to_owned())];
    let response = world
        .client
        .request(Method::PATCH, &first, Some(&patch), headers, true)
        .await?;
    expect(response.status() == 200, || format!("PATCH: {}", response.status()))?;
    users.push(repeated.clone());

    synced(world, &first, 2).await?;
    eventually(Duration::from_secs(30), "every user's record in the ERP", || async {
        users.iter().all(|u| world.erp.employee(u).is_some()).then_some(())
    })
    .await?;
    // Deliveries still in flight would make calls after the count.
    drained(world).await?;
    let calls: Vec<Call> = users.iter().flat_map(|u| world.erp.calls_for(u)).collect();
    let applied = world.erp.applied();
    let mut successes: HashMap<String, usize> = HashMap::new();
    for call in &calls {
        let key = call
            .idempotency_key
            .clone()
            .ok_or_else(|| format!("a call without a key: {call:?}"))?;
        if call.status.is_some_and(|s| (200..300).contains(&s)) {
            *successes.entry(key).or_default() += 1;
        }
    }
    expect(successes.len() == users.len() + 1, || {
        format!("keys applied: {successes:?} (5 changes expected)")
    })?;
    for (key, n) in &successes {
        expect(*n == 1 && applied.get(key) == Some(&1), || {
            format!("key {key}: {n} successful calls, applied {:?}", applied.get(key))
        })?;
    }
    expect(successes.contains_key(&event_id), || {
        format!("the repeated event {event_id} never reached the ERP")
    })?;
    let statuses: Vec<Option<u16>> = calls.iter().map(|c| c.status).collect();
    expect(statuses.contains(&Some(503)) && statuses.contains(&Some(429)), || {
        format!("the failures were not retried through: {statuses:?}")
    })?;
    expect(!statuses.contains(&Some(401)), || {
        "a call without the secret's token".to_owned()
    })?;
    expect(
        world
            .erp
            .employee(&users[0])
            .is_some_and(|r| r["name"] == "Erp Once Renamed" && r["version"] == 2),
        || format!("the ERP holds {:?}", world.erp.employee(&users[0])),
    )?;
    no_token_in_environments(world).await
}

/// The token is read from Secrets Manager at cold start: no function's environment holds
/// it, and only erp-processor knows the secret.
async fn no_token_in_environments(world: &World) -> Result<(), String> {
    let secret = world.outputs.erp_credentials_secret_arn.clone().unwrap_or_default();
    let token = world.erp_token().await?;
    for binary in ops::metrics::FUNCTIONS {
        let config = world.function_configuration(binary).await?;
        let vars = config
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        expect(!vars.values().any(|v| v.contains(&token)), || {
            format!("{binary}'s environment holds the ERP token")
        })?;
        let knows_secret = vars.get("ERP_CREDENTIALS_SECRET_ARN") == Some(&secret);
        expect(knows_secret == (binary == "erp-processor"), || {
            format!(
                "{binary}: ERP_CREDENTIALS_SECRET_ARN is {:?}",
                vars.get("ERP_CREDENTIALS_SECRET_ARN")
            )
        })?;
    }
    Ok(())
}

/// During an outage nothing reaches the ERP and nothing is lost; once it is back the backlog
/// drains, each change once, none dead-lettered.
pub async fn outage(world: &World) -> Result<(), String> {
    world.erp.set(Behaviour::Down);
    let result = async {
        let mut users = Vec::new();
        for n in 0..5 {
            let created = world
                .post_user(&format!("Erp Outage {n}"), &unique_email("erp-outage"))
                .await?;
            expect(created.status == 201, || {
                format!("POST: {} {}", created.status, created.body)
            })?;
            users.push(user_id(&created.body)?);
        }
        // About two receives each, well short of the redrive policy's five.
        tokio::time::sleep(Duration::from_secs(SETTINGS.visibility_timeout_s * 2)).await;
        none_reached(&world.erp, "the ERP", &users)?;
        Ok::<_, String>(users)
    }
    .await;
    world.erp.set(Behaviour::Healthy);
    let users = result?;
    let back = Instant::now();
    eventually(Duration::from_secs(60), "the backlog drained into the ERP", || async {
        users.iter().all(|u| world.erp.employee(u).is_some()).then_some(())
    })
    .await?;
    println!(
        "      the backlog of 5 drained {:.1} s after the ERP came back",
        back.elapsed().as_secs_f64()
    );
    let applied = world.erp.applied();
    for user in &users {
        let keys: Vec<String> = world
            .erp
            .calls_for(user)
            .into_iter()
            .filter_map(|c| c.idempotency_key)
            .collect();
        expect(keys.iter().all(|k| applied.get(k) == Some(&1)), || {
            format!("{user}: applied {keys:?} not once each")
        })?;
    }
    let dead = world.dead_letters().await;
    expect(
        !dead.iter().any(|body| users.iter().any(|u| body.contains(u.as_str()))),
        || "an event of the outage went to the dead-letter queue".to_owned(),
    )
}

/// A 400 is final: the event goes to the dead-letter queue, erp-processor's log says why, and
/// the user's sync status says failed.
pub async fn refusal_goes_to_the_dlq(world: &World) -> Result<(), String> {
    let user = uuid::Uuid::new_v4().to_string();
    world.erp.set_for_user(
        &user,
        Behaviour::Status {
            status: 400,
            retry_after: None,
        },
    );
    let since = now_ms() - 1000;
    world
        .send_raw(&envelope(&format!("evt-refused-{}", uuid::Uuid::new_v4().simple()), &user).to_string())
        .await;
    let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 30);
    eventually(limit, "the refused event in the dead-letter queue", || async {
        world
            .dead_letters()
            .await
            .iter()
            .any(|body| body.contains(&user))
            .then_some(())
    })
    .await?;
    world.erp.set_for_user(&user, Behaviour::Healthy);
    let lines = ops::metrics::log_lines(&world.lambda, &world.logs(), "erp-processor", since).await?;
    // The status and the body's length, never the ERP's words (they may quote the record).
    let reason = "the ERP refused the event (HTTP 400): a 42-byte body, not quoted";
    expect(
        lines
            .iter()
            .any(|l| l.contains("record rejected") && l.contains(reason)),
        || format!("no \"record rejected\" line with \"{reason}\" in erp-processor's log"),
    )?;
    expect(!lines.iter().any(|l| l.contains("told to fail")), || {
        "the ERP's own words reached erp-processor's log".to_owned()
    })?;
    let state = user_sync::store::ErpEmployeesTable::new(world.dynamo.clone(), &world.outputs.erp_employees_table_name)
        .sync_state(&user)
        .await
        .map_err(|e| e.to_string())?;
    expect(state.failed_version == Some(1), || format!("sync state {state:?}"))?;
    let calls = world.erp.calls_for(&user).len();
    expect((1..=5).contains(&calls), || {
        format!("{calls} calls for a refused event (one per receive at most)")
    })
}

/// `scripts/metrics` prints the figures the dashboard shows, from the functions' EMF lines.
pub async fn metrics(world: &World) -> Result<(), String> {
    let since = now_ms() - 1000;
    drained(world).await?;
    world.erp.fail_next(1, 500, None);
    let created = world.post_user("Erp Metrics", &unique_email("erp-metrics")).await?;
    expect(created.status == 201, || {
        format!("POST: {} {}", created.status, created.body)
    })?;
    let url = world.user_url(&user_id(&created.body)?)?;
    synced(world, &url, 1).await?;
    // The lines of the invocations just done.
    let figures = eventually(Duration::from_secs(20), "the run's metrics in the logs", || async {
        let figures = ops::metrics::gather(&world.aws, since).await.ok()?;
        (figures.sum("erp-processor", "EventsApplied") >= 1.0).then_some(figures)
    })
    .await?;
    let calls = figures.samples("erp-processor", "ErpCallFailed");
    expect(calls.len() >= 2 && calls.contains(&1.0) && calls.contains(&0.0), || {
        format!("ErpCallFailed samples {calls:?}: one failed call and its retry expected")
    })?;
    expect(
        figures.samples("erp-processor", "ErpCallLatency").len() == calls.len(),
        || "one latency per ERP call".to_owned(),
    )?;
    expect(figures.sum("crm-api", "Requests") >= 2.0, || {
        format!("crm-api requests: {}", figures.render())
    })?;
    let printed = run_script(world, "scripts/metrics", &["5"]).await?;
    for name in [
        "EventsApplied",
        "ErpCallFailed",
        "ErpCallLatency",
        "Requests",
        "POST /api/crm 2xx",
    ] {
        expect(printed.contains(name), || {
            format!("scripts/metrics printed no {name}:\n{printed}")
        })?;
    }
    Ok(())
}

async fn synced(world: &World, url: &reqwest::Url, version: u64) -> Result<(), String> {
    eventually(
        Duration::from_secs(30),
        &format!("GET showing version {version} synced"),
        || async {
            let got = world.call(Method::GET, url, None).await.ok()?;
            (got.body["sync"]["status"] == "synced" && got.body["sync"]["erpVersion"] == version).then_some(())
        },
    )
    .await
}

async fn drained(world: &World) -> Result<(), String> {
    eventually(Duration::from_secs(60), "the events queue drained", || async {
        (world.queue_depth().await == 0).then_some(())
    })
    .await
}

/// A failed ERP call records nothing and gives its user's lease back: `POST /events`
/// answers 503 while the ERP fails, and the client's immediate retry calls the ERP again and
/// is applied, not refused as still in progress.
pub async fn failed_call_retried_at_once(world: &World) -> Result<(), String> {
    let user = uuid::Uuid::new_v4().to_string();
    let event = envelope(&format!("evt-retry-{}", uuid::Uuid::new_v4().simple()), &user);
    let events_url = world.api(ops::LocalUrlForm::Host).events_url;
    world.erp.set_for_user(
        &user,
        Behaviour::Status {
            status: 503,
            retry_after: None,
        },
    );
    let failed = world.call(Method::POST, &events_url, Some(&event)).await;
    world.erp.set_for_user(&user, Behaviour::Healthy);
    let failed = failed?;
    expect(
        failed.status == 503
            && failed.body["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("erp-unavailable")),
        || format!("POST /events while the ERP fails: {} {}", failed.status, failed.body),
    )?;
    let calls_before = world.erp.calls_for(&user).len();
    let retried = world.call(Method::POST, &events_url, Some(&event)).await?;
    expect(retried.status == 200, || {
        format!(
            "the immediate retry answered {} {} (the failed call's lease was kept?)",
            retried.status, retried.body
        )
    })?;
    let calls = world.erp.calls_for(&user);
    let answered = calls.last().and_then(|c| c.status);
    expect(
        calls.len() > calls_before && answered.is_some_and(|s| (200..300).contains(&s)),
        || {
            format!(
                "the retry made {} ERP calls after the failure's {calls_before}",
                calls.len() - calls_before
            )
        },
    )?;
    let applied = world.erp.applied();
    let key = event["eventId"].as_str().unwrap_or_default();
    expect(applied.get(key) == Some(&1), || {
        format!("the event applied {:?} times", applied.get(key))
    })
}
