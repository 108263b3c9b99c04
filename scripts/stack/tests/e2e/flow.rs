//! The original's flow and the pipeline's own promises, end to end: the stage's answers
//! and references, the queue's redrive policy, duplicates, lifecycles, concurrency.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use reqwest::{Method, Url};
use serde_json::{json, Value};
use tokio::time::sleep;

use ops::LocalUrlForm;

use stack::e2e::SETTINGS;
use stack::smoke::{expect, is_with_sync, next_page};

use crate::support::{envelope, eventually, unique_email, user_id};
use crate::world::{s, World};

pub async fn original_flow(world: &World) -> Result<(), String> {
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

pub async fn unsigned_is_refused(world: &World) -> Result<(), String> {
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

pub async fn references_resolve_behind_the_stage(world: &World) -> Result<(), String> {
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
        // The users the table holds: not the tombstones other scenarios' deletions left.
        let stored: HashSet<String> = world
            .scan(&world.outputs.users_table_name)
            .await
            .iter()
            .filter(|u| s(u, "Name").is_some() && s(u, "Email").is_some())
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

pub async fn post_events(world: &World) -> Result<(), String> {
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

pub async fn poison_record(world: &World) -> Result<(), String> {
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

pub async fn duplicate_deliveries(world: &World) -> Result<(), String> {
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

pub async fn lifecycle_through_the_api(world: &World) -> Result<(), String> {
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
    // Each consumer answers for itself: the CRM mirror, from its own queue, has version 3 too.
    eventually(
        Duration::from_secs(30),
        "GET showing both consumers synced at version 3",
        || async {
            let got = world.call(Method::GET, &user_url, None).await.ok()?;
            let downstream = &got.body["downstream"];
            ["erp", "crmMirror"]
                .iter()
                .all(|c| downstream[c]["status"] == "synced" && downstream[c]["version"] == 3)
                .then_some(())
        },
    )
    .await?;
    let deleted = world.call(Method::DELETE, &user_url, None).await?;
    expect(deleted.status == 204, || {
        format!("DELETE: {} {}", deleted.status, deleted.body)
    })?;
    let gone = world.call(Method::GET, &user_url, None).await?;
    expect(gone.status == 404, || format!("GET after DELETE: {}", gone.status))?;

    // Each consumer ends deleted at version 4, with each event recorded once and the newest
    // applied last: the ERP, and the CRM mirror through its own queue and fake CRM.
    for consumer in ["the ERP", "the CRM mirror"] {
        let erp = consumer == "the ERP";
        let view = eventually(
            Duration::from_secs(30),
            &format!("{consumer}'s view at version 4"),
            || async {
                let view = if erp {
                    world.erp_view(&id).await
                } else {
                    world.mirror_view(&id).await
                };
                view.filter(|v| v.version == 4)
            },
        )
        .await?;
        expect(view.state == user_sync::domain::EmployeeState::Deleted, || {
            format!("{consumer}: {view:?}")
        })?;
        // An event that met its user leased by another delivery is retried after the
        // visibility timeout: it may still come, superseded.
        let records = eventually(
            Duration::from_secs(30),
            &format!("{consumer}: all four events recorded"),
            || async {
                let mut by_user = if erp {
                    world.processed_by_user().await
                } else {
                    world.mirror_processed_by_user().await
                };
                let records = by_user.remove(&id).unwrap_or_default();
                (records.len() == 4).then_some(records)
            },
        )
        .await?;
        audit_trail_ends_with_the_deletion(consumer, &records)?;
    }
    expect(world.crm.employee(&id).is_none(), || {
        "the fake CRM still holds the deleted contact".to_owned()
    })?;
    let contact_calls: Vec<String> = world.crm.calls_for(&id).into_iter().map(|c| c.method).collect();
    expect(
        contact_calls.first().map(String::as_str) == Some("PATCH")
            && contact_calls.last().map(String::as_str) == Some("DELETE"),
        || format!("the CRM's calls for the user, in order: {contact_calls:?}"),
    )?;
    let mirror = world.mirror();
    for table in [
        &world.outputs.users_table_name,
        &world.outputs.erp_processed_users_table_name,
        &world.outputs.erp_employees_table_name,
        mirror.processed,
        mirror.contacts,
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

/// A consumer's four audit records: each processed or superseded, version 4 processed.
fn audit_trail_ends_with_the_deletion(consumer: &str, records: &[crate::world::Item]) -> Result<(), String> {
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
        || format!("{consumer}'s audit trail {versions:?}"),
    )?;
    expect(versions[3] == ("4".to_owned(), "Processed".to_owned()), || {
        format!("{consumer}'s audit trail {versions:?}")
    })
}

pub async fn shuffled_lifecycles(world: &World) -> Result<(), String> {
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
            (records.len() == sent.len()).then_some(())
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

pub async fn concurrent_users(world: &World) -> Result<(), String> {
    const USERS: usize = 400;
    const CLIENTS: usize = 50;
    let started = Instant::now();
    let created: Vec<Result<(String, time::OffsetDateTime, f64), String>> = stream::iter(0..USERS)
        .map(|i| async move {
            let sent = Instant::now();
            let answer = world.post_user(&format!("Load {i}"), &unique_email("load")).await?;
            let waited_ms = sent.elapsed().as_secs_f64() * 1000.0;
            expect(answer.status == 201, || {
                format!("user {i}: {} {}", answer.status, answer.body)
            })?;
            Ok((user_id(&answer.body)?, time::OffsetDateTime::now_utc(), waited_ms))
        })
        .buffer_unordered(CLIENTS)
        .collect()
        .await;
    let created = created.into_iter().collect::<Result<Vec<_>, _>>()?;
    let posted_in = started.elapsed();
    let mut waits: Vec<f64> = created.iter().map(|(_, _, ms)| *ms).collect();
    let created: HashMap<String, time::OffsetDateTime> = created.into_iter().map(|(id, at, _)| (id, at)).collect();

    // Polled until every user has its record; each lag is read off the record itself (its
    // `ProcessedAt`, this machine's clock as the POST's answer is), so neither the polling's
    // period nor the time spent posting the rest adds to it.
    let mut records: HashMap<String, Vec<_>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while records.len() < USERS && Instant::now() < deadline {
        records = world.processed_by_user().await;
        records.retain(|id, _| created.contains_key(id));
        sleep(Duration::from_millis(100)).await;
    }
    expect(records.len() == USERS, || {
        format!("{} of {USERS} processed", records.len())
    })?;
    let twice = records.values().filter(|r| r.len() != 1).count();
    expect(twice == 0, || format!("{twice} users with more than one record"))?;

    let mut lags = Vec::with_capacity(USERS);
    for (id, answered) in &created {
        let written = s(&records[id][0], "ProcessedAt")
            .and_then(|at| time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).ok())
            .ok_or_else(|| format!("the record of {id} has no ProcessedAt"))?;
        // Recorded before the answer reached the client (the event leaves before crm-api
        // answers): no lag.
        lags.push((written - *answered).as_seconds_f64().max(0.0) * 1000.0);
    }
    lags.sort_by(f64::total_cmp);
    waits.sort_by(f64::total_cmp);
    // Deliveries beyond the first (an SDK retry of a publish whose answer timed out, the
    // relay's send of an event still pending past its grace), counted on each record.
    let duplicates: u64 = records
        .values()
        .filter_map(|r| {
            r[0].get("Duplicates")
                .and_then(|d| d.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum();
    let pct = |all: &[f64], p: f64| all[((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1];
    println!(
        "      {USERS} users from {CLIENTS} clients in {:.1} s ({:.0}/s), each POST answered in p50 {:.0} ms, p99 {:.0} ms; POST answered → record written (its ProcessedAt) p50 {:.0} ms, p99 {:.0} ms; {duplicates} duplicate deliveries",
        posted_in.as_secs_f64(),
        USERS as f64 / posted_in.as_secs_f64(),
        pct(&waits, 0.50),
        pct(&waits, 0.99),
        pct(&lags, 0.50),
        pct(&lags, 0.99)
    );
    Ok(())
}
