//! The scripts a developer and an operator run against a deployment, run as they would:
//! schemathesis, scripts/smoke, scripts/bench --e2e, scripts/backfill and scripts/redrive.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;

use reqwest::{Method, Url};
use tokio::time::sleep;

use ops::LocalUrlForm;
use stack::e2e::SETTINGS;
use stack::smoke::expect;

use crate::signing_proxy::{Sign, SigningProxy};
use crate::support::{eventually, now_ms, run_script, unique_email, user_id, with_service_down};
use crate::world::World;

/// Fuzzes the deployed API from the document it serves (fetched signed, as a client
/// would), with the expectations committed in schemathesis.toml.
pub async fn schemathesis(world: &World) -> Result<(), String> {
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
    let file = world.state.join("openapi.json");
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

pub async fn smoke(world: &World) -> Result<(), String> {
    let base = world.users_url().as_str().trim_end_matches("/api/crm").to_owned();
    run_script(world, "scripts/smoke", &[&base]).await.map(drop)
}

pub async fn bench_e2e(world: &World) -> Result<(), String> {
    run_script(world, "scripts/bench", &["--e2e", "--smoke"])
        .await
        .map(drop)
}

pub async fn backfill_reaches_the_erp(world: &World) -> Result<(), String> {
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

/// Both consumers' DynamoDB calls go through the switched-off fault proxy: a new user's
/// event fails at each until its dead-letter queue. Then the cause is fixed and
/// `scripts/redrive` moves that one message back, the ERP's by default and the CRM mirror's
/// with `--consumer crm-mirror`.
pub async fn redrive_after_the_fix(world: &World) -> Result<(), String> {
    let email = unique_email("redrive");
    let in_dead_letters = |queue: &'static str, url: String, user: String| async move {
        let limit = Duration::from_secs(SETTINGS.visibility_timeout_s * 5 + 30);
        eventually(
            limit,
            &format!("the user's event in the {queue} dead-letter queue"),
            || async {
                let letters = ops::redrive::list(&world.sqs, &url).await.ok()?;
                letters
                    .into_iter()
                    .find(|l| l.user_id.as_deref() == Some(user.as_str()))
            },
        )
        .await
    };
    let dead_lettered = async {
        let created = world.post_user("Redrive Me", &email).await?;
        expect(created.status == 201, || format!("POST answered {}", created.status))?;
        let user = user_id(&created.body)?;
        let erp = world.outputs.dead_letter_queue_url.clone();
        let letter = in_dead_letters("ERP's", erp, user.clone()).await?;
        let mirror = world.mirror().dead_letters.to_owned();
        in_dead_letters("mirror's", mirror, user.clone()).await?;
        Ok((user, letter))
    };
    // Restoring the functions' environments is the fix.
    let variable = "AWS_ENDPOINT_URL_DYNAMODB";
    let (user, letter) = with_service_down(
        world,
        "erp-processor",
        variable,
        with_service_down(world, "crm-mirror", variable, dead_lettered),
    )
    .await?;
    let event_id = letter.event_id.clone().ok_or("the dead letter is not an event")?;
    expect(!world.processed_by_user().await.contains_key(&user), || {
        "the user reached the audit trail before the redrive".to_owned()
    })?;
    expect(!world.mirror_processed_by_user().await.contains_key(&user), || {
        "the user reached the mirror's audit trail before the redrive".to_owned()
    })?;

    for consumer in [&[][..], &["--consumer", "crm-mirror"][..]] {
        let listed = run_script(world, "scripts/redrive", &[consumer, &["list"]].concat()).await?;
        expect(listed.contains(&event_id) && listed.contains(&user), || {
            format!("scripts/redrive {consumer:?} list does not show {event_id}:\n{listed}")
        })?;
        expect(!listed.contains(&email), || {
            format!("scripts/redrive {consumer:?} list shows an email")
        })?;
        let moved = run_script(world, "scripts/redrive", &[consumer, &["move", &event_id]].concat()).await?;
        expect(moved.contains("moved 1 message(s)"), || {
            format!("scripts/redrive {consumer:?} move:\n{moved}")
        })?;
    }

    eventually(
        Duration::from_secs(30),
        "the redriven user in both audit trails",
        || async {
            (world.processed_by_user().await.contains_key(&user)
                && world.mirror_processed_by_user().await.contains_key(&user))
            .then_some(())
        },
    )
    .await?;
    // Long enough for a second delivery, if a redrive had sent one, to be recorded.
    sleep(Duration::from_secs(2 * SETTINGS.visibility_timeout_s)).await;
    for (trail, records) in [
        ("the ERP's", world.processed_by_user().await.remove(&user)),
        ("the mirror's", world.mirror_processed_by_user().await.remove(&user)),
    ] {
        let records = records.map_or(0, |r| r.len());
        expect(records == 1, || {
            format!("{records} records of one event in {trail} audit trail")
        })?;
    }
    for queue in [
        world.outputs.dead_letter_queue_url.as_str(),
        world.mirror().dead_letters,
    ] {
        let still_dead = ops::redrive::list(&world.sqs, queue)
            .await?
            .iter()
            .any(|l| l.event_id.as_deref() == Some(event_id.as_str()));
        expect(!still_dead, || format!("the event is still in {queue}"))?;
    }
    Ok(())
}

/// `scripts/reconcile` on views changed by hand behind the flow's back: one user's lost at
/// both consumers (it reads as missing at each, and the repair re-publishes it once), one
/// set active again at the ERP after its user's deletion (deleted upstream, and the repair
/// sends the deletion again). The deployed reconciler's scheduled run counts both in its
/// metrics, which `scripts/metrics` shows. A second run names neither.
pub async fn reconcile_mends_views_changed_by_hand(world: &World) -> Result<(), String> {
    let lost = world.post_user("Lost View", &unique_email("reconcile-lost")).await?;
    let lost = user_id(&lost.body)?;
    let revived = world
        .post_user("Revived View", &unique_email("reconcile-revived"))
        .await?;
    let revived_url = world.user_url(&user_id(&revived.body)?)?;
    let revived = user_id(&revived.body)?;
    let view_of = |id: String| async move { world.erp_view(&id).await };
    eventually(Duration::from_secs(20), "both users in the ERP's view", || async {
        (view_of(lost.clone()).await.is_some() && view_of(revived.clone()).await.is_some()).then_some(())
    })
    .await?;
    eventually(
        Duration::from_secs(20),
        "the lost user in the mirror's view",
        || async { world.mirror_view(&lost).await.map(drop) },
    )
    .await?;
    let deleted = world.call(Method::DELETE, &revived_url, None).await?;
    expect(deleted.status == 204, || {
        format!("DELETE: {} {}", deleted.status, deleted.body)
    })?;
    eventually(Duration::from_secs(20), "the deletion in the ERP's view", || async {
        view_of(revived.clone())
            .await
            .filter(|v| v.state.is_deleted())
            .map(drop)
    })
    .await?;

    let views = &world.outputs.erp_employees_table_name;
    let key = |id: &str| AttributeValue::S(id.to_owned());
    for table in [views.as_str(), world.mirror().contacts] {
        world
            .dynamo
            .delete_item()
            .table_name(table)
            .key("UserId", key(&lost))
            .send()
            .await
            .map_err(|e| format!("delete a view: {e}"))?;
    }
    world
        .dynamo
        .update_item()
        .table_name(views)
        .key("UserId", key(&revived))
        .update_expression("SET #state = :active")
        .expression_attribute_names("#state", "State")
        .expression_attribute_values(":active", AttributeValue::S("Active".to_owned()))
        .send()
        .await
        .map_err(|e| format!("revive a view: {e}"))?;
    let changed = now_ms();

    scheduled_run_counts_the_drift(world, changed).await?;
    let report = run_script(world, "scripts/reconcile", &[]).await?;
    // Under each consumer's heading: missing at both, deleted upstream at the ERP only.
    for (line, times) in [
        (format!("missing {lost}"), 2),
        (format!("deleted-upstream {revived}"), 1),
    ] {
        expect(report.lines().filter(|l| *l == line).count() == times, || {
            format!("scripts/reconcile did not report {line:?} {times} time(s):\n{report}")
        })?;
    }
    let repaired = run_script(world, "scripts/reconcile", &["--repair"]).await?;
    expect(repaired.contains("repair \"reconcile-"), || {
        format!("scripts/reconcile --repair repaired nothing:\n{repaired}")
    })?;
    eventually(Duration::from_secs(30), "both views mended", || async {
        let back = view_of(lost.clone())
            .await
            .is_some_and(|v| v.version == 1 && !v.state.is_deleted());
        let gone = view_of(revived.clone()).await.is_some_and(|v| v.state.is_deleted());
        let mirrored = world.mirror_view(&lost).await.is_some_and(|v| !v.state.is_deleted());
        (back && gone && mirrored).then_some(())
    })
    .await?;
    let again = run_script(world, "scripts/reconcile", &[]).await?;
    expect(!again.contains(&lost) && !again.contains(&revived), || {
        format!("a second run still reports a mended user:\n{again}")
    })
}

/// The reconciler runs every minute in the local stack (`-c reconcileMinutes=1`, and every
/// drift counts at once): a run after `since` counts a missing and a deleted-upstream user,
/// and `scripts/metrics` shows its figures.
async fn scheduled_run_counts_the_drift(world: &World, since: i64) -> Result<(), String> {
    let at_least_one =
        |figures: &ops::metrics::Figures, metric: &str| figures.samples("reconciler", metric).iter().any(|n| *n >= 1.0);
    eventually(
        Duration::from_secs(150),
        "a scheduled reconciler run that counts the drift",
        || async {
            let lines = ops::metrics::log_lines(&world.lambda, &world.logs(), "reconciler", since)
                .await
                .ok()?;
            let figures = ops::metrics::Figures::collect(lines.iter().map(String::as_str));
            (at_least_one(&figures, "DriftMissing") && at_least_one(&figures, "DriftDeletedUpstream")).then_some(())
        },
    )
    .await?;
    let metrics = run_script(world, "scripts/metrics", &[]).await?;
    expect(
        metrics
            .lines()
            .any(|l| l.starts_with("reconciler") && l.contains("DriftedUsers")),
        || format!("scripts/metrics shows no reconciler DriftedUsers row:\n{metrics}"),
    )
}
