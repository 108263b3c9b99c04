//! The lag from `POST /api/crm` answered to the event's record in `ErpProcessedUsers`,
//! through the local stack of `scripts/dev` (moto, `cargo lambda watch`, the local SQS
//! event source), which must be up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{json, Value};

use crate::progress::Progress;
use crate::report;
use crate::stats::Summary;
use crate::AnyError;

#[derive(Debug, Serialize)]
pub struct E2e {
    pub users: usize,
    pub lag_ms: Option<Summary>,
    /// How long one look into the table takes: the lag's resolution.
    pub poll_ms: Option<Summary>,
}

const GIVE_UP: Duration = Duration::from_secs(60);

pub async fn run(root: &Path, users: usize, progress: &Progress) -> Result<E2e, AnyError> {
    let port = |name: &str, default: u16| std::env::var(name).ok().and_then(|p| p.parse().ok()).unwrap_or(default);
    let api = format!("http://127.0.0.1:{}", port("LAMBDA_PORT", 9000));
    let moto = format!("http://127.0.0.1:{}", port("MOTO_PORT", 4566));
    // Where scripts/dev wrote it (LOCAL_STATE_DIR, as the stack was started with).
    let state = std::env::var("LOCAL_STATE_DIR").map_or_else(|_| root.join("target/local"), PathBuf::from);
    let local_json = state.join("local.json");
    let local: Value = serde_json::from_slice(&std::fs::read(&local_json).map_err(|e| {
        format!(
            "{}: {e}; start the local stack first (scripts/dev)",
            local_json.display()
        )
    })?)?;
    let env_of = |k: &str| {
        local["env"][k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("local.json has no {k}"))
    };
    let users_table = env_of("USERS_TABLE_NAME")?;
    let processed_table = env_of("ERP_PROCESSED_TABLE_NAME")?;
    let dynamo = aws_sdk_dynamodb::Client::new(&test_support::sdk_config_for(&moto).await);
    // `cargo lambda watch` rebuilds a function whose sources change, holding requests
    // meanwhile: fail rather than wait forever.
    let http = reqwest::Client::builder().timeout(GIVE_UP).build()?;

    let (mut lags, mut polls) = (Vec::new(), Vec::new());
    for i in 1..=users {
        let response = http
            .post(format!("{api}/api/crm"))
            .header("Content-Type", "application/json")
            .body(json!({"name": format!("Bench User {i}"), "email": format!("bench{i}@example.com")}).to_string())
            .send()
            .await?;
        let answered = Instant::now();
        let status = response.status();
        let body: Value = response.json().await?;
        if status.as_u16() != 201 {
            return Err(format!("POST /api/crm answered {status}: {body}").into());
        }
        let user_id = body["id"].as_str().ok_or("the 201 has no id")?;
        let user = dynamo
            .get_item()
            .table_name(&users_table)
            .key("Id", AttributeValue::S(user_id.to_owned()))
            .consistent_read(true)
            .send()
            .await?;
        let event_id = user
            .item
            .as_ref()
            .and_then(|i| i.get("EventId"))
            .and_then(|v| v.as_s().ok())
            .ok_or("the stored user has no EventId")?
            .clone();
        loop {
            let started = Instant::now();
            let found = dynamo
                .get_item()
                .table_name(&processed_table)
                .key("EventId", AttributeValue::S(event_id.clone()))
                .consistent_read(true)
                .send()
                .await?
                .item
                .is_some();
            polls.push(started.elapsed());
            if found {
                lags.push(answered.elapsed());
                break;
            }
            if answered.elapsed() > GIVE_UP {
                return Err(format!("user {i}'s event was not processed within {GIVE_UP:?}").into());
            }
        }
        progress.tick(i, users);
    }
    Ok(E2e {
        users,
        lag_ms: Summary::of(&lags),
        poll_ms: Summary::of(&polls),
    })
}

/// Measures, then adds the figures to `target/bench/results.json` and `results.md` (of the
/// last full or smoke run, if any).
pub async fn run_alone(root: &Path, users: usize) -> Result<(), AnyError> {
    let mut progress = Progress::new(1);
    progress.step(&format!(
        "end to end through the local stack: {users} users, POST answered → record processed"
    ));
    let result = run(root, users, &progress).await?;
    let line = report::e2e_line(&result);
    progress.done(&line);
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
    let md: String = md
        .lines()
        .filter(|l| !l.starts_with("End to end"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&md_path, format!("{md}\n{line}\n"))?;
    println!("\n{line}\nresults: {0}, {1}", json_path.display(), md_path.display());
    if result.lag_ms.is_none() {
        return Err("no end-to-end lag measured".into());
    }
    Ok(())
}
