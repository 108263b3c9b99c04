//! `bench-harness`: the measuring half of `scripts/bench` (which builds first). Starts its
//! own MiniStack server, runs each function under a minimal Lambda Runtime API emulator and
//! writes `target/bench/results.json` and `results.md`.
//!
//! ```text
//! bench-harness ROOT [--smoke] [--e2e] [--ready]
//! ```
//! `--smoke`: a handful of iterations, to prove every figure is produced (no timing
//! assertions). `--e2e`: only the lag from `POST /api/crm` to the processed record, through
//! the stack `scripts/dev` deployed (which must be up), at 1, 10 and 50 concurrent clients;
//! added to the last run's results. `--ready`: the newcomer's wait, from clean clones of
//! HEAD (`ready.rs`).

mod cost;
mod counting;
mod e2e;
mod events;
mod measure;
mod progress;
mod ready;
mod report;
mod runtime;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

pub type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// How many of each measurement a run takes.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Plan {
    pub cold_starts: usize,
    pub warm_invocations: usize,
    pub batch_one_reps: usize,
    pub batch_hundred_reps: usize,
    /// Users crm-api creates and deployed-size batches erp-processor takes for the cost
    /// estimate.
    pub cost_users: usize,
    pub cost_batches: usize,
    /// Users each concurrent client creates, at every level of `e2e::CLIENTS`.
    pub e2e_users_per_client: usize,
}

impl Plan {
    const FULL: Plan = Plan {
        cold_starts: 30,
        warm_invocations: 2000,
        batch_one_reps: 20,
        batch_hundred_reps: 5,
        cost_users: 200,
        cost_batches: 20,
        e2e_users_per_client: 10,
    };
    const SMOKE: Plan = Plan {
        cold_starts: 3,
        warm_invocations: 20,
        batch_one_reps: 2,
        batch_hundred_reps: 1,
        cost_users: 5,
        cost_batches: 1,
        e2e_users_per_client: 1,
    };
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(root) = args.iter().find(|a| !a.starts_with("--")).map(PathBuf::from) else {
        eprintln!("usage: bench-harness ROOT [--smoke] [--e2e] [--ready]");
        return ExitCode::from(2);
    };
    if args.iter().any(|a| a == "--ready") {
        return match ready::run(&root).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("\nbench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let smoke = args.iter().any(|a| a == "--smoke");
    let e2e = args.iter().any(|a| a == "--e2e");
    let plan = if smoke { Plan::SMOKE } else { Plan::FULL };
    if e2e {
        return match e2e::run_alone(&root, plan.e2e_users_per_client).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("\nbench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match measure::run(&root, plan, smoke).await {
        Ok(results) => {
            let out = root.join("target/bench");
            let missing = report::missing_figures(&results);
            if let Err(e) = report::write(&out, &results) {
                eprintln!("bench: writing the results failed: {e}");
                return ExitCode::FAILURE;
            }
            println!("\n{}", report::markdown(&results));
            println!("results: {0}/results.json, {0}/results.md", out.display());
            if !missing.is_empty() {
                eprintln!("bench: figures missing: {}", missing.join(", "));
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nbench: {e}");
            ExitCode::FAILURE
        }
    }
}
