//! The lag from `POST /api/crm` answered to the event's record in `ErpProcessedUsers`,
//! through the stack `scripts/dev` deployed (API Gateway's stage, signed requests, the
//! queue's real event source), at several numbers of concurrent clients.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use futures::stream::{self, StreamExt};
use ops::{outputs_for_this_environment, Outputs};
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use stack::SignedClient;

use crate::progress::Progress;
use crate::stats::Summary;
use crate::AnyError;

/// One concurrency level's figures.
#[derive(Debug, Serialize)]
pub struct Level {
    pub clients: usize,
    pub users: usize,
    /// Users created per second by all clients together.
    pub posts_per_s: f64,
    pub lag_ms: Option<Summary>,
}

#[derive(Debug, Serialize)]
pub struct E2e {
    pub levels: Vec<Level>,
    /// How long one look into the table takes: the lag's resolution.
    pub poll_ms: Option<Summary>,
}

pub const CLIENTS: [usize; 3] = [1, 10, 50];
const GIVE_UP: Duration = Duration::from_secs(120);

/// Event ids waiting for their record, with the moment their POST was answered.
type Outstanding = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn run(root: &Path, users_per_client: usize, progress: &Progress) -> Result<E2e, AnyError> {
    let state = std::env::var("LOCAL_STATE_DIR").map_or_else(|_| root.join("target/local"), PathBuf::from);
    let outputs = outputs_for_this_environment(&state.join("outputs.json"))
        .map_err(|e| format!("{e}; start the local stack first (scripts/dev)"))?;
    let aws = ops::trust::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let client = SignedClient::from_env().await?;

    let mut levels = Vec::new();
    let mut polls = Vec::new();
    for (done, clients) in CLIENTS.into_iter().enumerate() {
        let users = clients * users_per_client;
        let outstanding: Outstanding = Arc::default();
        let lags: Arc<Mutex<Vec<Duration>>> = Arc::default();
        let started = Instant::now();
        let posting = stream::iter(0..users)
            .map(|i| create(&client, &dynamo, &outputs, &outstanding, i))
            .buffer_unordered(clients)
            .collect::<Vec<Result<(), AnyError>>>();
        let (created, ()) = tokio::join!(
            posting,
            watch_records(&dynamo, &outputs, &outstanding, &lags, users, &mut polls)
        );
        created.into_iter().collect::<Result<Vec<()>, _>>()?;
        let lags = std::mem::take(&mut *lags.lock().expect("not poisoned"));
        if lags.len() < users {
            return Err(format!(
                "{clients} clients: {} of {users} events processed within {GIVE_UP:?}",
                lags.len()
            )
            .into());
        }
        levels.push(Level {
            clients,
            users,
            posts_per_s: users as f64 / started.elapsed().as_secs_f64(),
            lag_ms: Summary::of(&lags),
        });
        progress.tick(done + 1, CLIENTS.len());
    }
    Ok(E2e {
        levels,
        poll_ms: Summary::of(&polls),
    })
}

/// One user: a signed POST through the stage, then its event id from `Users`.
async fn create(
    client: &SignedClient,
    dynamo: &aws_sdk_dynamodb::Client,
    outputs: &Outputs,
    outstanding: &Outstanding,
    i: usize,
) -> Result<(), AnyError> {
    let body = json!({"name": format!("Bench User {i}"), "email": format!("bench{i}-{}@example.com", uuid::Uuid::new_v4().simple())});
    let response = client.send(Method::POST, &outputs.crm_api_url, Some(&body)).await?;
    let answered = Instant::now();
    let status = response.status();
    let body: Value = response.json().await?;
    if status.as_u16() != 201 {
        return Err(format!("POST /api/crm answered {status}: {body}").into());
    }
    let user_id = body["id"].as_str().ok_or("the 201 has no id")?;
    let user = dynamo
        .get_item()
        .table_name(&outputs.users_table_name)
        .key("Id", AttributeValue::S(user_id.to_owned()))
        .consistent_read(true)
        .send()
        .await?;
    let event_id = user
        .item
        .as_ref()
        .and_then(|i| i.get("EventId"))
        .and_then(|v| v.as_s().ok())
        .ok_or("the stored user has no EventId")?;
    outstanding
        .lock()
        .expect("not poisoned")
        .insert(event_id.clone(), answered);
    Ok(())
}

/// Looks for the outstanding events' records, 100 at a time (BatchGetItem's bound), until
/// `users` have been seen or the time is up; each found one's lag goes into `lags`.
async fn watch_records(
    dynamo: &aws_sdk_dynamodb::Client,
    outputs: &Outputs,
    outstanding: &Outstanding,
    lags: &Mutex<Vec<Duration>>,
    users: usize,
    polls: &mut Vec<Duration>,
) {
    let started = Instant::now();
    while lags.lock().expect("not poisoned").len() < users && started.elapsed() < GIVE_UP {
        let ids: Vec<String> = outstanding
            .lock()
            .expect("not poisoned")
            .keys()
            .take(100)
            .cloned()
            .collect();
        if ids.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let keys = ids
            .iter()
            .map(|id| HashMap::from([("EventId".to_owned(), AttributeValue::S(id.clone()))]))
            .collect();
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .projection_expression("EventId")
            .build()
            .expect("keys are set");
        let looked = Instant::now();
        let Ok(found) = dynamo
            .batch_get_item()
            .request_items(&outputs.erp_processed_users_table_name, request)
            .send()
            .await
        else {
            continue;
        };
        polls.push(looked.elapsed());
        let now = Instant::now();
        let records = found
            .responses
            .and_then(|mut r| r.remove(&outputs.erp_processed_users_table_name))
            .unwrap_or_default();
        let mut waiting = outstanding.lock().expect("not poisoned");
        for record in records {
            if let Some(answered) = record
                .get("EventId")
                .and_then(|v| v.as_s().ok())
                .and_then(|id| waiting.remove(id))
            {
                lags.lock().expect("not poisoned").push(now - answered);
            }
        }
    }
}

/// Measures, then adds the figures to `target/bench/results.json` and `results.md` (of the
/// last full or smoke run, if any).
pub async fn run_alone(root: &Path, users_per_client: usize) -> Result<(), AnyError> {
    let mut progress = Progress::new(1);
    progress.step(&format!(
        "end to end through the deployed local stack: {users_per_client} users per client at {CLIENTS:?} clients, POST answered → record processed"
    ));
    let result = run(root, users_per_client, &progress).await?;
    let table = result.table();
    progress.done("measured");
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join("results.json");
    let mut results: Value = std::fs::read(&json_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    results["e2e"] = serde_json::to_value(&result)?;
    std::fs::write(&json_path, serde_json::to_string_pretty(&results)? + "\n")?;
    let md_path = dir.join("results.md");
    let md = std::fs::read_to_string(&md_path).unwrap_or_default();
    let kept = md.split(E2E_HEADING).next().unwrap_or_default().trim_end();
    std::fs::write(&md_path, format!("{kept}\n\n{table}"))?;
    println!("\n{table}\nresults: {0}, {1}", json_path.display(), md_path.display());
    if result.levels.iter().any(|l| l.lag_ms.is_none()) {
        return Err("no end-to-end lag measured".into());
    }
    Ok(())
}

/// Starts the end-to-end table in results.md (a rerun of `--e2e` replaces what follows it).
pub const E2E_HEADING: &str = "| end to end through the deployed local stack";

impl E2e {
    /// The figures as results.md's table, starting with `E2E_HEADING`.
    pub fn table(&self) -> String {
        let mut md = format!(
            "{E2E_HEADING} | users | users/s | POST answered → record, p50 / p95 / p99, ms |\n|---|---:|---:|---:|\n"
        );
        for l in &self.levels {
            let lag = l.lag_ms.map_or("–".to_owned(), |s| {
                format!("{:.0} / {:.0} / {:.0}", s.p50, s.p95, s.p99)
            });
            let _ = writeln!(
                md,
                "| {} concurrent client(s) | {} | {:.0} | {lag} |",
                l.clients, l.users, l.posts_per_s
            );
        }
        let _ = writeln!(
            md,
            "\nOne look into the table (BatchGetItem of up to 100 event ids) takes p50 {:.1} ms: the lag's resolution.",
            self.poll_ms.map_or(f64::NAN, |s| s.p50)
        );
        md
    }
}
