//! `local-stack`: the parts of AWS that the local stack needs beyond moto and
//! `cargo lambda watch`.
//!
//! ```text
//! local-stack provision TEMPLATE OUT_DIR [--visibility-timeout SECS] [--set KEY=VALUE]...
//!     Creates the template's DynamoDB tables and SQS queues in the moto server at
//!     AWS_ENDPOINT_URL, and writes OUT_DIR/functions.env (the functions' environment as
//!     the template wires it, pointed at those resources, with `--set` overrides) and
//!     OUT_DIR/local.json.
//! local-stack triggers LOCAL_JSON [--relay-every SECS]
//!     Long-polls the events queue and invokes erp-processor with SqsEvent batches, and
//!     invokes outbox-relay on the template's schedule, both through `cargo lambda watch`
//!     at LAMBDA_RUNTIME_URL (default http://127.0.0.1:9000).
//! ```

mod invoke;
mod poller;
mod provision;
mod schedule;
mod template;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aws_config::BehaviorVersion;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("provision") if args.len() >= 3 => {
            let visibility = flag(&args, "--visibility-timeout");
            let overrides = args
                .windows(2)
                .filter(|w| w[0] == "--set")
                .filter_map(|w| w[1].split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            provision(PathBuf::from(&args[1]), PathBuf::from(&args[2]), visibility, overrides).await
        }
        Some("triggers") if args.len() >= 2 => {
            let relay_every = flag(&args, "--relay-every").map(Duration::from_secs);
            triggers(PathBuf::from(&args[1]), relay_every).await
        }
        _ => Err(
            "usage: local-stack provision TEMPLATE OUT_DIR [--visibility-timeout SECS] | \
                  local-stack triggers LOCAL_JSON [--relay-every SECS]"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-stack: {e}");
            ExitCode::FAILURE
        }
    }
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

async fn provision(
    template: PathBuf,
    out_dir: PathBuf,
    visibility: Option<u64>,
    overrides: Vec<(String, String)>,
) -> Result<(), AnyError> {
    let template = template::Template::read(&template)?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let mut local = provision::provision(&aws, &template, visibility).await?;
    local.env.extend(overrides);
    std::fs::create_dir_all(&out_dir)?;
    std::fs::write(out_dir.join("functions.env"), local.env_file())?;
    std::fs::write(out_dir.join("local.json"), serde_json::to_string_pretty(&local)?)?;
    for table in &local.tables {
        println!("    table  {table}");
    }
    for (name, url) in &local.queues {
        println!("    queue  {name}  {url}");
    }
    Ok(())
}

async fn triggers(local: PathBuf, relay_every: Option<Duration>) -> Result<(), AnyError> {
    let local: provision::LocalStack = serde_json::from_slice(&std::fs::read(&local)?)?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let runtime = std::env::var("LAMBDA_RUNTIME_URL").unwrap_or_else(|_| "http://127.0.0.1:9000".to_owned());
    let lambda = invoke::Lambda::new(&runtime);
    let sqs = aws_sdk_sqs::Client::new(&aws);

    let mut tasks = tokio::task::JoinSet::new();
    for source in local.event_sources.clone() {
        tasks.spawn(poller::run(sqs.clone(), lambda.clone(), source));
    }
    for schedule in local.schedules.clone() {
        let every = relay_every.unwrap_or(Duration::from_secs(schedule.every_seconds));
        tasks.spawn(schedule::run(lambda.clone(), schedule.function.clone(), every));
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Ok(()),
        Some(ended) = tasks.join_next() => Err(format!("a trigger stopped: {ended:?}").into()),
    }
}
