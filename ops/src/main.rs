//! `ops`: the operator's commands for a deployed stack, on AWS or local, one subcommand
//! each (`scripts/redrive`, `scripts/backfill`, `scripts/reconcile` and `scripts/metrics`
//! run them).
//!
//! ```text
//! ops redrive --outputs FILE [--consumer erp|crm-mirror] list|move …   a consumer's
//!                                          dead-letter queue: list it, move messages back
//!                                          to its queue (the ERP's by default)
//! ops backfill --outputs FILE [--generation NAME] (--all | USER_ID…)   re-publish users
//!                                          through the outbox
//! ops reconcile --outputs FILE [--consumer erp|crm-mirror] [--repair]
//!                                          compare Users with each consumer's view (or
//!                                          one's); with --repair, re-send what drifted
//! ops metrics [MINUTES]                    the dashboard's figures from the functions' EMF
//!                                          log lines of the last MINUTES (default 60)
//! ```
//! Credentials, region and endpoint come from the AWS SDK's default chain; against the local
//! stack, `AWS_CA_BUNDLE` names the emulator's certificate (`ops::trust`).

mod dead_letters;
mod drift;
mod republish;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: ops redrive --outputs FILE [--consumer erp|crm-mirror] (list | move (--all | ID…)) | ops backfill --outputs FILE [--generation NAME] (--all | USER_ID…) | ops reconcile --outputs FILE [--consumer erp|crm-mirror] [--repair] | ops metrics [MINUTES]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["redrive", "--outputs", file, rest @ ..] => dead_letters::run(&PathBuf::from(file), rest).await,
        ["backfill", "--outputs", file, rest @ ..] => republish::run(&PathBuf::from(file), rest).await,
        ["reconcile", "--outputs", file, rest @ ..] => drift::run(&PathBuf::from(file), rest).await,
        ["metrics"] => print_metrics("60").await,
        ["metrics", minutes] => print_metrics(minutes).await,
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ops: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn print_metrics(minutes: &str) -> Result<(), String> {
    let minutes: i64 = minutes
        .parse()
        .ok()
        .filter(|m| *m > 0)
        .ok_or_else(|| format!("MINUTES must be a positive number, not {minutes:?}"))?;
    let aws = ops::trust::sdk_config().await;
    let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let figures = ops::metrics::gather(&aws, now_ms - minutes * 60_000).await?;
    if figures.0.is_empty() {
        println!("no metrics in the functions' logs of the last {minutes} minutes");
    } else {
        print!("{}", figures.render());
    }
    Ok(())
}
