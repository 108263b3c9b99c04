//! Reliability at the edges, through the deployed stage as a client sees it: text a queue
//! message cannot carry, Idempotency-Key repeats, a deletion over a producer's higher
//! version, AWS calls that never answer, many producers of one user, a user another holder
//! keeps leased, and an ERP that hangs behind `POST /events`.

use std::cell::RefCell;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use reqwest::{Method, Url};
use serde_json::{json, Value};
use test_support::fake_erp::Behaviour;
use user_sync::domain::EmployeeState;

use ops::LocalUrlForm;

use crate::support::{envelope, eventually, now_ms, unique_email, user_id};
use crate::world::{Answer, World};
use stack::e2e::SETTINGS;
use stack::smoke::{expect, header, read};

/// A name a queue message cannot carry (U+FFFF) is refused where it enters: `POST` and
/// `PATCH /api/crm` name `name`, `POST /events` names `user.name`, each with the rule. A user
/// the original system stored with one still travels: its `PATCH` answers 200 and the user
/// reaches synced at version 2, the ERP holding the very name (the publisher escapes it as
/// `\uffff` in the message body; before, SQS refused the body and the user stayed pending).
pub async fn undeliverable_text(world: &World) -> Result<(), String> {
    let refused = world.post_user("Ada\u{FFFF}", &unique_email("ffff")).await?;
    refused_for(&refused, "name", "POST /api/crm")?;

    let mut event = envelope(&format!("evt-ffff-{}", uuid::Uuid::new_v4().simple()), "user-ffff");
    event["user"]["name"] = json!("Ada\u{FFFF}");
    let events_url = world.api(LocalUrlForm::Host).events_url;
    let refused = world.call(Method::POST, &events_url, Some(&event)).await?;
    refused_for(&refused, "user.name", "POST /events")?;

    // A row as the original system wrote it: `Id`, `Name`, `Email`, no `Version`.
    let id = uuid::Uuid::new_v4().to_string();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("Ada\u{FFFF} {tag}");
    world
        .put_users_row(&[("Id", &id), ("Name", &name), ("Email", &unique_email("ffff-stored"))])
        .await?;
    let url = world.user_url(&id)?;
    let refused = send(
        world,
        Method::PATCH,
        &url,
        Some(&json!({"name": "Grace\u{FFFF}"})),
        None,
    )
    .await?;
    refused_for(&refused.answer(), "name", "PATCH /api/crm/{id}")?;
    let patched = send(
        world,
        Method::PATCH,
        &url,
        Some(&json!({"email": unique_email("ffff-changed")})),
        None,
    )
    .await?;
    expect(patched.status == 200 && patched.etag == Some(2), || {
        format!(
            "PATCH of the stored user's email: {} (ETag {:?}) {}",
            patched.status, patched.etag, patched.body
        )
    })?;
    synced(world, &url, 2, Duration::from_secs(30)).await?;
    let held = world.erp.employee(&id).unwrap_or_default();
    expect(held["name"] == name.as_str(), || {
        format!(
            "the ERP holds the name {} (the escape did not read back as the stored text)",
            held["name"]
        )
    })
}

/// A 400 validation problem naming exactly `field`, its message naming U+FFFF.
fn refused_for(answer: &Answer, field: &str, what: &str) -> Result<(), String> {
    let errors = field_errors(&answer.body);
    expect(
        answer.status == 400
            && answer.body["type"] == "urn:problem-type:validation-error"
            && errors.len() == 1
            && errors[0].0 == field
            && errors[0].1.contains("U+FFFF"),
        || {
            format!(
                "{what} with U+FFFF in {field}: {} {} (a 400 naming {field} and U+FFFF expected)",
                answer.status, answer.body
            )
        },
    )
}

/// `(field, message)` of each of a validation problem's errors.
fn field_errors(body: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| (text(&e["field"]), text(&e["message"])))
                .collect()
        })
        .unwrap_or_default()
}

/// Idempotency-Key repeats follow docs/api.md's table: the first body repeats (`201`, the
/// same user) only while the user is unchanged; once changed, any body is `422`; once
/// deleted, `409`. And no repeat sends anything the pipeline refuses: once it settles, nothing
/// of the user is in the dead-letter queue and the ERP holds it deleted. (Before the fix, the
/// repeat with the changed body answered 201 and re-sent a `UserCreated` of that body under
/// the first event id: a payload conflict, dead-lettered.)
pub async fn idempotency_key_repeats(world: &World) -> Result<(), String> {
    let key = format!("e2e-edges-{}", uuid::Uuid::new_v4().simple());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = unique_email("key");
    let first = json!({"name": format!("Key A {tag}"), "email": email});
    let changed = json!({"name": format!("Key B {tag}"), "email": email});
    let users = world.users_url();
    let keyed = |body: &Value| {
        let body = body.clone();
        let headers = vec![("idempotency-key".to_owned(), key.clone())];
        let users = users.clone();
        async move { send(world, Method::POST, &users, Some(&body), Some(headers)).await }
    };

    let created = keyed(&first).await?;
    expect(created.status == 201, || {
        format!("the first POST: {} {}", created.status, created.body)
    })?;
    let id = user_id(&created.body)?;
    let repeated = keyed(&first).await?;
    expect(repeated.status == 201 && repeated.body["id"] == id.as_str(), || {
        format!(
            "the repeat of the unchanged user: {} {}",
            repeated.status, repeated.body
        )
    })?;
    let url = world.user_url(&id)?;
    let patched = send(
        world,
        Method::PATCH,
        &url,
        Some(&json!({"name": changed["name"]})),
        Some(if_match(1)),
    )
    .await?;
    expect(patched.status == 200, || {
        format!("PATCH: {} {}", patched.status, patched.body)
    })?;
    for (body, case) in [(&changed, "the body of the user now"), (&first, "the first body")] {
        let answer = keyed(body).await?;
        expect(
            answer.status == 422 && answer.body["type"] == "urn:problem-type:idempotency-key-reused",
            || {
                format!(
                    "a repeat with {case} after a change: {} {} (422 idempotency-key-reused expected)",
                    answer.status, answer.body
                )
            },
        )?;
    }
    let deleted = world.call(Method::DELETE, &url, None).await?;
    expect(deleted.status == 204, || {
        format!("DELETE: {} {}", deleted.status, deleted.body)
    })?;
    let answer = keyed(&first).await?;
    expect(
        answer.status == 409 && answer.body["type"] == "urn:problem-type:user-deleted",
        || {
            format!(
                "a repeat after the deletion: {} {} (409 user-deleted expected)",
                answer.status, answer.body
            )
        },
    )?;

    let view = eventually(Duration::from_secs(30), "the ERP view deleted", || async {
        world.erp_view(&id).await.filter(|v| v.state == EmployeeState::Deleted)
    })
    .await?;
    expect(view.version == 3, || {
        format!("the ERP view {view:?} (version 3 expected)")
    })?;
    // A refused event fails on every receive until the redrive policy moves it: once the
    // queue is empty, it would be in the dead-letter queue.
    queue_settled(world).await?;
    nothing_dead_lettered(world, &id).await
}

/// A deletion is final and erases whatever version the ERP view holds: after a producer
/// posted version 100 of a user (above the CRM's 2), the CRM's `DELETE` (its version 3) still
/// erases the name and email from every audit record, reaches the ERP with its own version,
/// and the view ends deleted at 100. (Before the fix the deletion was superseded by the
/// higher version: nothing was erased, the ERP kept the employee.)
pub async fn deletion_over_a_higher_version(world: &World) -> Result<(), String> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let created = world.post_user(&format!("Final {tag}"), &unique_email("final")).await?;
    expect(created.status == 201, || {
        format!("POST: {} {}", created.status, created.body)
    })?;
    let id = user_id(&created.body)?;
    let url = world.user_url(&id)?;
    let patched = send(
        world,
        Method::PATCH,
        &url,
        Some(&json!({"name": format!("Final L. {tag}")})),
        Some(if_match(1)),
    )
    .await?;
    expect(patched.status == 200, || {
        format!("PATCH: {} {}", patched.status, patched.body)
    })?;
    synced(world, &url, 2, Duration::from_secs(30)).await?;

    let producers = updated(
        &id,
        100,
        &format!("Producer {tag}"),
        &format!("producer-{tag}@example.com"),
    );
    let posted = post_event(world, &producers).await?;
    expect(posted.status == 200 && posted.body["outcome"] == "applied", || {
        format!("POST /events of version 100: {} {}", posted.status, posted.body)
    })?;
    let crm_version = get_user(world, &url).await?.etag.ok_or("GET answered no ETag")?;
    let deleted = world.call(Method::DELETE, &url, None).await?;
    expect(deleted.status == 204, || {
        format!("DELETE: {} {}", deleted.status, deleted.body)
    })?;
    let deletion = crm_version + 1;
    expect(deletion == 3, || {
        format!("the CRM's deletion is version {deletion}, not 3")
    })?;

    let last = RefCell::new(String::new());
    let done = eventually(Duration::from_secs(30), "the deletion applied and erased", || async {
        let view = world.erp_view(&id).await;
        let records = world.processed_by_user().await.remove(&id).unwrap_or_default();
        let holding = records
            .iter()
            .filter(|r| r.contains_key("UserName") || r.contains_key("UserEmail"))
            .count();
        let at_erp = world.erp.deleted(&id);
        *last.borrow_mut() = format!(
            "view {view:?}; {holding} of {} audit records hold a name or email; the ERP's DELETE carried {at_erp:?}",
            records.len()
        );
        let view_done = view.is_some_and(|v| v.state == EmployeeState::Deleted && v.version == 100);
        (view_done && holding == 0 && at_erp == Some(deletion)).then_some(())
    })
    .await;
    done.map_err(|e| format!("{e}: {}", last.borrow()))
}

/// Every AWS call ends (the SDK's connect, attempt and operation timeouts): with the outbox
/// relay's topic an endpoint that accepts connections and never answers, a `POST` answers
/// `201` (crm-api leaves the publishing to the table's stream), the relay connects to it
/// from the stream's record, the event stays in the outbox, and the user reaches synced
/// once the topic answers (a relay run that never ended would hold the emulator's event
/// source poller, and nothing would sync; the SDK's timeouts that end it are the crate
/// tests'); with crm-api's table such an
/// endpoint, a `POST` answers crm-api's own `503` problem within 20 s (the cold start's
/// priming read and the request's write give up after 5 s each), not the gateway's 502 or
/// 504. The endpoint is set in the deployed function's environment (`AWS_ENDPOINT_URL_SNS`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, which the SDK prefers to the emulator's `AWS_ENDPOINT_URL`);
/// the listener counts the connections, so a variable the function ignored fails the check
/// instead of passing it vacuously.
pub async fn every_aws_call_ends(world: &World) -> Result<(), String> {
    let hanging = Hanging::start().await?;
    let endpoint = hanging.url();
    let topic_hangs = async {
        let started = Instant::now();
        let created = world.post_user("Hanging Topic", &unique_email("hanging-topic")).await?;
        let took = started.elapsed();
        expect(created.status == 201, || {
            format!(
                "POST while the topic hangs: {} {} after {took:?}",
                created.status, created.body
            )
        })?;
        expect(took < Duration::from_secs(15), || {
            format!("POST while the topic hangs answered after {took:?}")
        })?;
        eventually(
            Duration::from_secs(30),
            "the relay's connection to the hanging topic",
            || async { (hanging.accepted() > 0).then_some(()) },
        )
        .await
        .map_err(|e| {
            format!(
                "{e}: AWS_ENDPOINT_URL_SNS in the relay's environment was not used (overridden by AWS_ENDPOINT_URL?)"
            )
        })?;
        println!(
            "      POST answered 201 in {:.1} s while the relay's topic hung",
            took.as_secs_f64()
        );
        user_id(&created.body)
    };
    let id = with_function_env(world, "outbox-relay", "AWS_ENDPOINT_URL_SNS", &endpoint, topic_hangs).await?;
    // The relay's schedule delivers it, every minute, past the grace period.
    let url = world.user_url(&id)?;
    synced(world, &url, 1, Duration::from_secs(2 * 60 + 30)).await?;

    let table_hangs = async {
        let before = hanging.accepted();
        let started = Instant::now();
        let answer = send(
            world,
            Method::POST,
            &world.users_url(),
            Some(&json!({"name": "Hanging Table", "email": unique_email("hanging-table")})),
            None,
        )
        .await?;
        let took = started.elapsed();
        expect(
            answer.status == 503 && answer.problem && answer.body["status"] == 503,
            || {
                format!(
                    "POST while the table hangs: {} ({}) {} after {took:?}: crm-api's 503 problem expected",
                    answer.status, answer.content_type, answer.body
                )
            },
        )?;
        expect(took < Duration::from_secs(20), || {
            format!("POST while the table hangs answered after {took:?}")
        })?;
        expect(hanging.accepted() > before, || {
            "crm-api never connected to the hanging table: AWS_ENDPOINT_URL_DYNAMODB in its environment was not used"
                .to_owned()
        })?;
        println!(
            "      POST answered 503 in {:.1} s while the table hung",
            took.as_secs_f64()
        );
        Ok(())
    };
    with_function_env(world, "crm-api", "AWS_ENDPOINT_URL_DYNAMODB", &endpoint, table_hangs).await
}

/// Many concurrent producers of one user: 8 clients each change its name 5 times through the
/// stage (a `409 concurrent-change` is retried), and 4 of them post a `UserUpdated` just above
/// the version they saw to `POST /events`, racing the queue's deliveries for the user's lease.
/// The user ends synced at its newest version, the ERP holding the CRM's newest state, and
/// nothing of it is dead-lettered.
pub async fn concurrent_producers(world: &World) -> Result<(), String> {
    const CLIENTS: u64 = 8;
    const CHANGES: u64 = 5;
    const PRODUCERS: u64 = 4;
    // Each change a version, after the creation's 1.
    const NEWEST: u64 = 1 + CLIENTS * CHANGES;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let created = world.post_user(&format!("Racer {tag}"), &unique_email("racer")).await?;
    expect(created.status == 201, || {
        format!("POST: {} {}", created.status, created.body)
    })?;
    let id = user_id(&created.body)?;
    let url = world.user_url(&id)?;
    let (id, url, tag) = (&id, &url, &tag);
    let clients = (0..CLIENTS).map(|client| async move {
        for change in 0..CHANGES {
            let name = format!("Racer {client}.{change} {tag}");
            let mut attempts = 0;
            let version = loop {
                attempts += 1;
                let answer = send(world, Method::PATCH, url, Some(&json!({"name": name})), None).await?;
                let lost = answer.status == 409 && answer.body["type"] == "urn:problem-type:concurrent-change";
                if lost && attempts < 50 {
                    continue;
                }
                expect(answer.status == 200, || {
                    format!(
                        "client {client}'s PATCH {change} (attempt {attempts}): {} {}",
                        answer.status, answer.body
                    )
                })?;
                break answer.etag.ok_or("a PATCH answered no ETag")?;
            };
            if client < PRODUCERS && change == 2 {
                // Just above what this client saw, below the newest (the CRM's to send).
                let version = (version + 1).min(NEWEST - 1);
                let event = updated(
                    id,
                    version,
                    &format!("Producer {client} {tag}"),
                    &format!("producer-{tag}@example.com"),
                );
                let posted = post_event(world, &event).await?;
                expect(posted.status == 200, || {
                    format!("POST /events of version {version}: {} {}", posted.status, posted.body)
                })?;
            }
        }
        Ok::<_, String>(())
    });
    futures::future::try_join_all(clients).await?;

    let user = get_user(world, url).await?;
    expect(user.etag == Some(NEWEST), || {
        format!(
            "after {} changes the user is at version {:?}, not {NEWEST}",
            CLIENTS * CHANGES,
            user.etag
        )
    })?;
    synced(world, url, NEWEST, Duration::from_secs(120)).await?;
    let held = world.erp.employee(id).unwrap_or_default();
    expect(held["version"] == NEWEST && held["name"] == user.body["name"], || {
        format!("the ERP holds {held}, the CRM {}", user.body)
    })?;
    queue_settled(world).await?;
    nothing_dead_lettered(world, id).await
}

/// A record whose user another holder keeps leased is never dead-lettered: with a lease
/// written straight onto a synced user's view item (five visibility timeouts and 5 s), its
/// change's record finds the user busy on every receive; erp-processor sends it again to the
/// events queue with a delay instead of failing it, and once the lease expires the change is
/// applied (GET: synced at version 2, synced after the lease's expiry). With the redrive
/// policy's 5 receives, a failed record would reach the dead-letter queue within five
/// visibility timeouts, before the lease expires: so it did before the deferral.
pub async fn held_lease_defers(world: &World) -> Result<(), String> {
    const LEASE_MS: i64 = (SETTINGS.visibility_timeout_s as i64 * 5 + 5) * 1000;
    let created = world.post_user("Leased Elsewhere", &unique_email("leased")).await?;
    expect(created.status == 201, || {
        format!("POST: {} {}", created.status, created.body)
    })?;
    let id = user_id(&created.body)?;
    let url = world.user_url(&id)?;
    synced(world, &url, 1, Duration::from_secs(30)).await?;
    eventually(Duration::from_secs(30), "the mirror's view at version 1", || async {
        world.mirror_view(&id).await.filter(|v| v.version == 1)
    })
    .await?;
    // Both consumers' views: each defers on its own queue, with its own role.
    let views = [world.outputs.erp_employees_table_name.as_str(), world.mirror().contacts];
    let expires = eventually(
        Duration::from_secs(10),
        "the user's leases taken for the check",
        || async {
            let expires = now_ms() + LEASE_MS;
            for table in views {
                take_lease(world, table, &id, expires).await?;
            }
            Some(expires)
        },
    )
    .await?;
    let outcome = async {
        let patched = send(
            world,
            Method::PATCH,
            &url,
            Some(&json!({"name": "Leased Elsewhere, Changed"})),
            Some(if_match(1)),
        )
        .await?;
        expect(patched.status == 200, || {
            format!("PATCH: {} {}", patched.status, patched.body)
        })?;
        synced(world, &url, 2, Duration::from_millis(LEASE_MS as u64 + 40_000)).await?;
        let mirror = eventually(Duration::from_secs(30), "the mirror's view at version 2", || async {
            world.mirror_view(&id).await.filter(|v| v.version == 2)
        })
        .await?;
        let erp = world.erp_view(&id).await.ok_or("no ERP view")?;
        for (consumer, view) in [("the ERP", erp), ("the CRM mirror", mirror)] {
            let synced_ms = (view.synced_at.unix_timestamp_nanos() / 1_000_000) as i64;
            expect(synced_ms >= expires, || {
                format!(
                    "{consumer} applied the change {} ms before the held lease expired",
                    expires - synced_ms
                )
            })?;
        }
        queue_settled(world).await?;
        nothing_dead_lettered(world, &id).await
    }
    .await;
    // The leases expire on their own; released here should the check end before they do.
    let mut released = Ok(());
    for table in views {
        if let Err(e) = release_lease(world, table, &id).await {
            released = Err(e);
        }
    }
    match (outcome, released) {
        (outcome, Ok(())) => outcome,
        (Ok(()), Err(e)) => Err(e),
        (Err(reason), Err(e)) => Err(format!("{reason}; and {e}")),
    }
}

/// The check's own holder of a lease, as a delivery of another instance would hold it.
const HELD: &str = "e2e-held";

/// Takes the user's lease on a consumer's view until `expires` (ms), unless a delivery holds it.
async fn take_lease(world: &World, table: &str, id: &str, expires: i64) -> Option<()> {
    world
        .dynamo
        .update_item()
        .table_name(table)
        .key("UserId", AttributeValue::S(id.to_owned()))
        .update_expression("SET LeaseToken = :token, LeaseExpiresAt = :expires")
        .condition_expression(
            "attribute_exists(UserId) AND (attribute_not_exists(LeaseToken) OR LeaseExpiresAt < :now OR LeaseToken = :token)",
        )
        .expression_attribute_values(":token", AttributeValue::S(HELD.to_owned()))
        .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
        .expression_attribute_values(":now", AttributeValue::N(now_ms().to_string()))
        .send()
        .await
        .ok()
        .map(|_| ())
}

/// Gives the check's lease back, if it still holds it.
async fn release_lease(world: &World, table: &str, id: &str) -> Result<(), String> {
    let released = world
        .dynamo
        .update_item()
        .table_name(table)
        .key("UserId", AttributeValue::S(id.to_owned()))
        .update_expression("REMOVE LeaseToken, LeaseExpiresAt")
        .condition_expression("LeaseToken = :token")
        .expression_attribute_values(":token", AttributeValue::S(HELD.to_owned()))
        .send()
        .await;
    match released {
        Err(e)
            if !e
                .as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Err(format!("releasing the check's lease on {id} in {table}: {e}"))
        }
        _ => Ok(()),
    }
}

/// `POST /events` fits API Gateway's 29 s integration timeout whatever the ERP does: with the
/// ERP hanging for one user, the post answers erp-processor's own `503 erp-unavailable` within
/// 27 s, not a gateway timeout, after calling the ERP (the call hung). erp-processor bounds
/// a request's ERP calls by its budget (`MAX_REQUEST_BUDGET`, well inside 29 s) and by the
/// invocation's deadline less 2 s; in the e2e stack its timeout follows the queue's 6 s
/// visibility timeout, so there the deadline cuts the hanging call after about 4 s.
pub async fn hanging_erp_behind_post_events(world: &World) -> Result<(), String> {
    let user = uuid::Uuid::new_v4().to_string();
    let event = envelope(&format!("evt-hang-{}", uuid::Uuid::new_v4().simple()), &user);
    let events_url = world.api(LocalUrlForm::Host).events_url;
    world.erp.set_for_user(&user, Behaviour::Hang);
    let started = Instant::now();
    let answer = world.call(Method::POST, &events_url, Some(&event)).await;
    let took = started.elapsed();
    world.erp.set_for_user(&user, Behaviour::Healthy);
    let answer = answer?;
    expect(
        answer.status == 503
            && answer.body["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("erp-unavailable")),
        || {
            format!(
                "POST /events while the ERP hangs: {} {} after {took:?} (503 erp-unavailable expected)",
                answer.status, answer.body
            )
        },
    )?;
    expect(took < Duration::from_secs(27), || {
        format!("POST /events while the ERP hangs answered after {took:?}")
    })?;
    let hung = world.erp.calls_for(&user).iter().filter(|c| c.status.is_none()).count();
    expect(hung > 0, || {
        "erp-processor answered without calling the ERP: the hang was not tried".to_owned()
    })?;
    println!(
        "      POST /events answered 503 in {:.1} s with the ERP hanging",
        took.as_secs_f64()
    );
    Ok(())
}

/// An answer with its `ETag` (the version) and whether it is a problem.
struct Reply {
    status: u16,
    etag: Option<u64>,
    content_type: String,
    problem: bool,
    body: Value,
}

impl Reply {
    fn answer(&self) -> Answer {
        Answer {
            status: self.status,
            location: None,
            link: None,
            body: self.body.clone(),
        }
    }
}

/// A signed request with extra headers.
async fn send(
    world: &World,
    method: Method,
    url: &Url,
    body: Option<&Value>,
    headers: Option<Vec<(String, String)>>,
) -> Result<Reply, String> {
    let response = world
        .client
        .request(method, url, body, headers.unwrap_or_default(), true)
        .await?;
    let etag = header(&response, "etag").and_then(|t| t.trim_matches('"').parse().ok());
    let content_type = header(&response, "content-type").unwrap_or_default();
    let (status, body) = read(response).await?;
    Ok(Reply {
        status,
        etag,
        problem: content_type.starts_with("application/problem+json"),
        content_type,
        body,
    })
}

fn if_match(version: u64) -> Vec<(String, String)> {
    vec![("if-match".to_owned(), format!("\"{version}\""))]
}

/// `GET` of one user, which must answer 200.
async fn get_user(world: &World, url: &Url) -> Result<Reply, String> {
    let got = send(world, Method::GET, url, None, None).await?;
    expect(got.status == 200, || format!("GET {url}: {} {}", got.status, got.body))?;
    Ok(got)
}

/// A producer's `UserUpdated` of `user` at `version`.
fn updated(user: &str, version: u64, name: &str, email: &str) -> Value {
    json!({"eventId": format!("evt-edges-{}", uuid::Uuid::new_v4().simple()), "eventType": "UserUpdated",
           "version": version, "timestamp": "2026-03-02T09:15:27.418Z",
           "user": {"id": user, "name": name, "email": email}})
}

/// `POST /events`, retried while another delivery holds the user (`409 event-in-progress`,
/// which asks for a retry), for up to 30 s.
async fn post_event(world: &World, event: &Value) -> Result<Answer, String> {
    let url = world.api(LocalUrlForm::Host).events_url;
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = world.call(Method::POST, &url, Some(event)).await?;
        let busy = answer.status == 409
            && answer.body["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("event-in-progress"));
        if !busy || Instant::now() > until {
            return Ok(answer);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `GET url` says synced at `version`; on timeout, says what it last showed.
async fn synced(world: &World, url: &Url, version: u64, limit: Duration) -> Result<(), String> {
    let last = RefCell::new(Value::Null);
    let found = eventually(limit, &format!("GET showing version {version} synced"), || async {
        let got = world.call(Method::GET, url, None).await.ok()?;
        let sync = got.body["sync"].clone();
        *last.borrow_mut() = sync.clone();
        (sync["status"] == "synced" && sync["erpVersion"] == version).then_some(())
    })
    .await;
    found.map_err(|e| format!("{e} (the last sync shown: {})", last.borrow()))
}

/// Waits until the events queue holds nothing: visible, in flight or delayed (a deferred
/// record's copy waits delayed).
async fn queue_settled(world: &World) -> Result<(), String> {
    let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 45);
    eventually(limit, "the events queue empty, delayed messages included", || async {
        let out = world
            .sqs
            .get_queue_attributes()
            .queue_url(&world.outputs.events_queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .ok()?;
        let held: u64 = out.attributes()?.values().filter_map(|n| n.parse::<u64>().ok()).sum();
        (held == 0).then_some(())
    })
    .await
}

/// Fails when any message of `user` is in the dead-letter queue (all of it read, not a
/// sample of ten).
async fn nothing_dead_lettered(world: &World, user: &str) -> Result<(), String> {
    let letters = ops::redrive::list(&world.sqs, &world.outputs.dead_letter_queue_url).await?;
    let mine: Vec<String> = letters
        .iter()
        .filter(|l| l.user_id.as_deref() == Some(user))
        .map(|l| format!("{:?} {:?}", l.event_type, l.event_id))
        .collect();
    expect(mine.is_empty(), || {
        format!("the user's events in the dead-letter queue: {mine:?}")
    })
}

/// Runs `scenario` with `variable` set to `value` in the environment of the deployed function
/// built from `binary`; restores the variable's previous value (or its absence) afterwards,
/// whatever the outcome, and says so when the restore fails.
async fn with_function_env<T>(
    world: &World,
    binary: &str,
    variable: &str,
    value: &str,
    scenario: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let function = world.function_named(binary).await?;
    let previous = world
        .function_configuration(binary)
        .await?
        .environment()
        .and_then(|e| e.variables())
        .and_then(|v| v.get(variable))
        .cloned();
    let outcome = match world.set_function_env(&function, variable, Some(value)).await {
        Ok(()) => scenario.await,
        Err(e) => Err(e),
    };
    let restored = world.set_function_env(&function, variable, previous.as_deref()).await;
    match (outcome, restored) {
        (outcome, Ok(())) => outcome,
        (Ok(_), Err(e)) => Err(format!("restoring {binary}'s {variable}: {e}")),
        (Err(reason), Err(e)) => Err(format!("{reason}; and restoring {binary}'s {variable}: {e}")),
    }
}

/// A loopback endpoint that accepts every connection and never answers, holding the sockets
/// until it is dropped.
struct Hanging {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen on loopback: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Ok(Self { addr, accepted, task })
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        // Closes the listener and every held connection.
        self.task.abort();
    }
}
