//! The measured half of the cost estimate: crm-api creating users and erp-processor
//! taking the deployed batch size, each with Lambda's JSON log format and the deployed
//! memory size, its AWS calls counted by a proxy in front of the emulator; then the
//! per-user usage of this stack and of the original design.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{billed_ms, prices, FunctionUse, Line, Usage, ACCESS_LOG_BYTES, PLATFORM_LOG_BYTES, TRACE_SAMPLING};
use crate::counting::{CountingProxy, Tally};
use crate::events;
use crate::progress::Progress;
use crate::runtime::{FunctionSpec, Running};
use crate::stats::Summary;
use crate::AnyError;

/// The simulated ERP call of the original: 100 ms per record.
pub const ERP_LATENCY_MS: u64 = 100;

/// Where the run's functions and tables are.
pub struct Setup<'a> {
    pub root: &'a Path,
    pub emulator: &'a str,
    pub users_table: &'a str,
    pub processed_table: &'a str,
    pub employees_table: &'a str,
    pub topic_arn: &'a str,
    pub logs: &'a Path,
}

/// One kind of AWS call per synced user, as counted.
#[derive(Debug, Clone, Serialize)]
pub struct CallRate {
    pub function: &'static str,
    pub operation: String,
    pub table: Option<&'static str>,
    pub per_user: f64,
    /// Write request units per call: the item's 1 KB units plus the index writes it makes.
    /// The largest request body bounds a put's item; an update is billed on the larger of
    /// the item before and after, which the bound assumes under 1 KB too (these items are).
    pub write_units: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    /// From cdk/lib/functions.ts, as deployed.
    pub memory_mb: f64,
    /// The event source's batch size (cdk/lib/functions.ts's BATCH_CONCURRENCY).
    pub batch_size: usize,
    pub users_posted: usize,
    pub post_ms: Option<Summary>,
    pub post_billed_ms: f64,
    pub post_log_bytes: f64,
    pub batches: usize,
    pub batch_ms: Option<Summary>,
    pub batch_billed_ms: f64,
    pub batch_log_bytes: f64,
    /// The same batches one record at a time (BATCH_CONCURRENCY=1): the original's shape.
    pub sequential_batch_ms: Option<Summary>,
    pub sequential_batch_billed_ms: f64,
    pub calls: Vec<CallRate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Design {
    pub usage: Usage,
    pub lines: Vec<Line>,
    pub total_usd: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub prices: prices::Prices,
    pub inputs: Inputs,
    pub designs: Vec<Design>,
}

pub async fn measure(setup: &Setup<'_>, users: usize, batches: usize, progress: &Progress) -> Result<Cost, AnyError> {
    let memory_mb = cdk_constant(setup.root, "MEMORY_MB")? as f64;
    let batch_size = cdk_constant(setup.root, "BATCH_CONCURRENCY")? as usize;
    if memory_mb == 0.0 || batch_size == 0 || users == 0 || batches == 0 {
        return Err("the cost run needs a memory size, a batch size, users and batches above 0".into());
    }
    let proxy = CountingProxy::start(setup.emulator).await?;

    let crm = spec(setup, "crm-api", &proxy, memory_mb).with(&[
        ("USERS_TABLE_NAME", setup.users_table),
        ("EVENTS_TOPIC_ARN", setup.topic_arn),
        ("ERP_EMPLOYEES_TABLE_NAME", setup.employees_table),
    ]);
    let (post_ms, post_log, crm_tally) = run(&crm, &proxy, users, events::post_user, |answer| {
        answer["statusCode"] == 201
    })
    .await?;
    progress.tick(1, 3);

    let latency = ERP_LATENCY_MS.to_string();
    // The deployed batch size, all in flight at once, as the CDK app configures it.
    let bound = batch_size.to_string();
    let processor = spec(setup, "erp-processor", &proxy, memory_mb).with(&[
        ("ERP_PROCESSED_TABLE_NAME", setup.processed_table),
        ("ERP_EMPLOYEES_TABLE_NAME", setup.employees_table),
        ("ERP_LATENCY_MS", &latency),
        ("BATCH_CONCURRENCY", &bound),
    ]);
    let batch = |_| events::sqs_batch(batch_size);
    let processed = |answer: &serde_json::Value| answer["batchItemFailures"] == serde_json::json!([]);
    let (batch_ms, batch_log, erp_tally) = run(&processor, &proxy, batches, batch, processed).await?;
    progress.tick(2, 3);
    let sequential = processor.clone().with(&[("BATCH_CONCURRENCY", "1")]);
    let (sequential_ms, _, _) = run(&sequential, &proxy, batches, batch, processed).await?;
    progress.tick(3, 3);

    let synced = (batches * batch_size) as f64;
    let role = |table: Option<&str>| match table {
        Some(t) if t == setup.users_table => Some("Users"),
        Some(t) if t == setup.processed_table => Some("ErpProcessedUsers"),
        Some(t) if t == setup.employees_table => Some("ErpEmployees"),
        Some(_) => Some("(other)"),
        None => None,
    };
    let mut calls = rates("crm-api", &crm_tally, users as f64, role);
    calls.extend(rates("erp-processor", &erp_tally, synced, role));
    let billed = |s: &[f64]| billed_ms(s).unwrap_or(f64::NAN);
    let inputs = Inputs {
        memory_mb,
        batch_size,
        users_posted: users,
        post_ms: summary(&post_ms),
        post_billed_ms: billed(&post_ms),
        post_log_bytes: post_log,
        batches,
        batch_ms: summary(&batch_ms),
        batch_billed_ms: billed(&batch_ms),
        batch_log_bytes: batch_log,
        sequential_batch_ms: summary(&sequential_ms),
        sequential_batch_billed_ms: billed(&sequential_ms),
        calls,
    };
    let prices = prices::US_EAST_1;
    let designs = [this_stack(&inputs), original(&inputs)]
        .into_iter()
        .map(|usage| {
            let lines = super::lines(&usage, &prices);
            Design {
                total_usd: super::total(&lines),
                usage,
                lines,
            }
        })
        .collect();
    Ok(Cost {
        prices,
        inputs,
        designs,
    })
}

/// Every write this stack makes per user, as counted: the index writes are the tables' own
/// (cdk/lib/tables.json): a `Users` put adds the pending mark to `PendingEvents` and clearing
/// it removes it again; an `ErpProcessedUsers` record adds its key to `ByUserId`, which a
/// duplicate's count (same `UserId`) leaves alone. `ErpEmployees` has no index.
fn index_writes(table: Option<&str>, operation: &str) -> f64 {
    match (table, operation) {
        (Some("Users"), "PutItem" | "UpdateItem") => 1.0,
        (Some("ErpProcessedUsers"), "PutItem") => 1.0,
        _ => 0.0,
    }
}

const WRITES: [&str; 3] = ["PutItem", "UpdateItem", "DeleteItem"];
const READS: [&str; 4] = ["GetItem", "Query", "Scan", "BatchGetItem"];
const QUEUE: [&str; 2] = ["SendMessage", "SendMessageBatch"];
const TOPIC: [&str; 2] = ["Publish", "PublishBatch"];

/// The queues subscribed to the events topic: SNS sends each event to every one of them.
/// Each consumer (erp-processor, crm-mirror) runs the same core, so the second one's calls,
/// writes and billed time per event are erp-processor's, measured once and counted twice.
const CONSUMERS: f64 = 2.0;

fn rates(
    function: &'static str,
    tally: &Tally,
    users: f64,
    role: impl Fn(Option<&str>) -> Option<&'static str>,
) -> Vec<CallRate> {
    tally
        .calls
        .iter()
        .map(|(call, &(n, largest_body))| {
            let table = role(call.table.as_deref());
            let write_units = if WRITES.contains(&call.operation.as_str()) {
                (largest_body as f64 / 1024.0).ceil().max(1.0) + index_writes(table, &call.operation)
            } else {
                0.0
            };
            CallRate {
                function,
                operation: call.operation.clone(),
                table,
                per_user: n as f64 / users,
                write_units,
            }
        })
        .collect()
}

fn this_stack(i: &Inputs) -> Usage {
    let per_batch = 1.0 / i.batch_size as f64;
    // The consumer side's calls happen once per consumer.
    let times = |c: &CallRate| if c.function == "erp-processor" { CONSUMERS } else { 1.0 };
    let sum = |f: &dyn Fn(&CallRate) -> f64| i.calls.iter().map(|c| f(c) * times(c)).sum::<f64>();
    let per_user_of = |operations: [&str; 2]| {
        sum(&|c| {
            if operations.contains(&c.operation.as_str()) {
                c.per_user
            } else {
                0.0
            }
        })
    };
    // A user's event, delivered by SNS to each consumer's queue (one request each, which
    // the emulator makes inside and the proxy cannot see); each consumer's event source
    // mapping receives each batch and deletes it: two requests per batch.
    let sqs = per_user_of(QUEUE) + CONSUMERS * (1.0 + 2.0 * per_batch);
    Usage {
        design: "this stack",
        api_requests: 1.0,
        functions: vec![
            FunctionUse {
                name: "crm-api",
                invocations_per_user: 1.0,
                billed_ms: i.post_billed_ms,
                memory_mb: i.memory_mb,
            },
            FunctionUse {
                name: "erp-processor",
                invocations_per_user: per_batch,
                billed_ms: i.batch_billed_ms,
                memory_mb: i.memory_mb,
            },
            FunctionUse {
                name: "crm-mirror",
                invocations_per_user: per_batch,
                billed_ms: i.batch_billed_ms,
                memory_mb: i.memory_mb,
            },
        ],
        sqs_requests: sqs,
        sns_requests: per_user_of(TOPIC),
        write_units: sum(&|c| c.per_user * c.write_units),
        // Strongly consistent reads of items under 4 KB: one unit each.
        read_units: sum(&|c| {
            if READS.contains(&c.operation.as_str()) {
                c.per_user
            } else {
                0.0
            }
        }),
        log_bytes: i.post_log_bytes
            + PLATFORM_LOG_BYTES
            + ACCESS_LOG_BYTES
            + CONSUMERS * (i.batch_log_bytes + PLATFORM_LOG_BYTES) * per_batch,
        // One trace per API request and one per consumer invocation.
        traces: (1.0 + CONSUMERS * per_batch) * TRACE_SAMPLING,
    }
}

/// The original's flow (CONTRACT.md) priced on the same services: one `Users` put and one
/// send per user, batches of the same size one record at a time at 100 ms each, one audit
/// put per record, no indexes and no tracing. Its API ran on a server, which has no price
/// per request: it is priced here as this stack's front, so the columns differ by the flow.
/// Its Salesforce call was a placeholder inside the API's request: no consumer of its own.
fn original(i: &Inputs) -> Usage {
    let mut usage = this_stack(i);
    let per_batch = 1.0 / i.batch_size as f64;
    usage.design = "original design";
    usage.functions.retain(|f| f.name != "crm-mirror");
    usage.functions[1].billed_ms = i.sequential_batch_billed_ms;
    usage.log_bytes =
        i.post_log_bytes + PLATFORM_LOG_BYTES + ACCESS_LOG_BYTES + (i.batch_log_bytes + PLATFORM_LOG_BYTES) * per_batch;
    usage.sqs_requests = 1.0 + 2.0 * per_batch;
    usage.sns_requests = 0.0;
    usage.write_units = 2.0;
    usage.read_units = 0.0;
    usage.traces = 0.0;
    usage
}

fn spec(setup: &Setup<'_>, name: &'static str, proxy: &CountingProxy, memory_mb: f64) -> FunctionSpec {
    let program: PathBuf = setup.root.join("target/lambda-x86_64").join(name).join("bootstrap");
    FunctionSpec {
        name,
        program,
        args: vec![],
        cwd: None,
        env: vec![],
        log: setup.logs.join(format!("cost-{name}.log")),
    }
    .with(&[
        ("AWS_ENDPOINT_URL", &proxy.endpoint),
        // What the CDK app's loggingFormat JSON and INFO levels set.
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &format!("{memory_mb:.0}")),
    ])
}

/// `n` warm invocations of one process (after an uncounted first one): their durations,
/// the log bytes each wrote, and the calls they made.
async fn run(
    spec: &FunctionSpec,
    proxy: &CountingProxy,
    n: usize,
    event: impl Fn(usize) -> bytes::Bytes,
    succeeded: impl Fn(&serde_json::Value) -> bool,
) -> Result<(Vec<f64>, f64, Tally), AnyError> {
    let mut running = Running::start(spec, &[]).await?;
    let result = async {
        running.invoke(spec, event(0)).await?;
        // Let the first invocation's log lines land before counting from here.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let logged_before = log_size(&spec.log);
        proxy.take();
        let mut ms = Vec::with_capacity(n);
        for i in 1..=n {
            let (sent, outcome) = running.invoke(spec, event(i)).await?;
            ms.push((outcome.at - sent).as_secs_f64() * 1000.0);
            let answer: serde_json::Value = serde_json::from_slice(&outcome.body)?;
            if !succeeded(&answer) {
                return Err(format!("{}: unexpected answer {answer}", spec.name).into());
            }
        }
        let tally = proxy.take();
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let log_bytes = log_size(&spec.log).saturating_sub(logged_before) as f64 / n as f64;
        Ok::<_, AnyError>((ms, log_bytes, tally))
    }
    .await;
    running.stop().await;
    result
}

fn log_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn summary(ms: &[f64]) -> Option<Summary> {
    let durations: Vec<std::time::Duration> = ms
        .iter()
        .map(|m| std::time::Duration::from_secs_f64(m / 1000.0))
        .collect();
    Summary::of(&durations)
}

/// `const NAME = 123;` from cdk/lib/functions.ts: the deployed figure, not a copy of it.
pub fn cdk_constant(root: &Path, name: &str) -> Result<u64, AnyError> {
    let path = root.join("cdk/lib/functions.ts");
    let source = std::fs::read_to_string(&path)?;
    constant_in(&source, name).ok_or_else(|| format!("no `const {name} = <number>;` in {}", path.display()).into())
}

fn constant_in(source: &str, name: &str) -> Option<u64> {
    source.lines().find_map(|line| {
        let rest = line.trim().trim_start_matches("export ").strip_prefix("const ")?;
        let value = rest.strip_prefix(name)?.trim_start().strip_prefix('=')?;
        value.trim().trim_end_matches(';').trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cdk_apps_constants() {
        let source = "const MEMORY_MB = 256;\nexport const BATCH_CONCURRENCY = 10;\nconst MEMORY_MB_MAX = 9;";
        assert_eq!(constant_in(source, "MEMORY_MB"), Some(256));
        assert_eq!(constant_in(source, "BATCH_CONCURRENCY"), Some(10));
        assert_eq!(constant_in(source, "TIMEOUT"), None);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert!(cdk_constant(&root, "MEMORY_MB").is_ok_and(|mb| mb >= 128));
        assert!(cdk_constant(&root, "BATCH_CONCURRENCY").is_ok_and(|n| n >= 1));
    }

    fn inputs(calls: Vec<CallRate>) -> Inputs {
        Inputs {
            memory_mb: 256.0,
            batch_size: 10,
            users_posted: 10,
            post_ms: None,
            post_billed_ms: 5.0,
            post_log_bytes: 400.0,
            batches: 1,
            batch_ms: None,
            batch_billed_ms: 110.0,
            batch_log_bytes: 3000.0,
            sequential_batch_ms: None,
            sequential_batch_billed_ms: 1020.0,
            calls,
        }
    }

    fn rate(
        function: &'static str,
        operation: &str,
        table: Option<&'static str>,
        per_user: f64,
        units: f64,
    ) -> CallRate {
        CallRate {
            function,
            operation: operation.into(),
            table,
            per_user,
            write_units: units,
        }
    }

    #[test]
    fn this_stacks_usage_is_the_counted_calls() {
        let i = inputs(vec![
            rate("crm-api", "PutItem", Some("Users"), 1.0, 2.0),
            rate("crm-api", "PublishBatch", None, 1.0, 0.0),
            rate("crm-api", "UpdateItem", Some("Users"), 1.0, 2.0),
            rate("erp-processor", "PutItem", Some("ErpProcessedUsers"), 1.0, 2.0),
            rate("erp-processor", "UpdateItem", Some("ErpProcessedUsers"), 1.0, 1.0),
            rate("erp-processor", "GetItem", Some("ErpProcessedUsers"), 0.5, 0.0),
        ]);
        let u = this_stack(&i);
        // crm-api's 4, and the consumer side's 3 once per consumer (the ERP, the CRM mirror).
        assert_eq!(u.write_units, 4.0 + 2.0 * 3.0);
        assert_eq!(u.read_units, 2.0 * 0.5);
        // The delivery to each consumer's queue, and each one's batch receive and delete.
        assert!((u.sqs_requests - 2.0 * 1.2).abs() < 1e-12);
        assert_eq!(u.sns_requests, 1.0);
        let names: Vec<&str> = u.functions.iter().map(|f| f.name).collect();
        assert_eq!(names, ["crm-api", "erp-processor", "crm-mirror"]);
        assert_eq!(u.functions[2].invocations_per_user, 0.1);
        assert!((u.log_bytes - (400.0 + 600.0 + 520.0 + 2.0 * 360.0)).abs() < 1e-9);
        let o = original(&i);
        assert_eq!((o.write_units, o.read_units, o.traces), (2.0, 0.0, 0.0));
        assert_eq!(o.functions.len(), 2, "the original's Salesforce call had no consumer");
        assert_eq!(o.functions[1].billed_ms, 1020.0);
        assert!((o.log_bytes - (400.0 + 600.0 + 520.0 + 360.0)).abs() < 1e-9);
        assert_eq!(o.functions[0].billed_ms, u.functions[0].billed_ms);
    }

    #[test]
    fn the_tables_show_a_function_one_design_lacks_as_a_dash() {
        let i = inputs(vec![rate(
            "erp-processor",
            "PutItem",
            Some("ErpProcessedUsers"),
            1.0,
            2.0,
        )]);
        let prices = prices::US_EAST_1;
        let designs = [this_stack(&i), original(&i)]
            .into_iter()
            .map(|usage| {
                let lines = super::super::lines(&usage, &prices);
                Design {
                    total_usd: super::super::total(&lines),
                    usage,
                    lines,
                }
            })
            .collect();
        let md = crate::report::cost_tables(&Cost {
            prices,
            inputs: i,
            designs,
        });
        let row = |start: &str| md.lines().find(|l| l.starts_with(start)).unwrap_or_default().to_owned();
        assert!(
            row("| crm-mirror: invocations").ends_with("| 1/10 × 110.0 | – |"),
            "{md}"
        );
        assert!(row("| Lambda crm-mirror duration").ends_with(" | – |"), "{md}");
        assert!(
            row("| Lambda erp-processor duration").matches(": $").count() == 2,
            "{md}"
        );
    }

    /// `index_writes` knows one index per table, `ByUserId` keyed by the `UserId` a record
    /// holds: what the deployed tables have.
    #[test]
    fn index_writes_match_the_deployed_tables() {
        let tables: serde_json::Value =
            serde_json::from_str(include_str!("../../../../cdk/lib/tables.json")).expect("valid JSON");
        assert_eq!(tables["Users"]["indexes"].as_array().map(Vec::len), Some(1));
        let by_user = &tables["ErpProcessedUsers"]["indexes"];
        assert_eq!(by_user.as_array().map(Vec::len), Some(1));
        assert_eq!(by_user[0]["partitionKey"]["name"], "UserId");
        assert_eq!(tables["ErpEmployees"]["indexes"].as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn a_write_costs_its_kilobytes_and_its_index_writes() {
        let mut tally = Tally::default();
        let call = |op: &str, table: &str| crate::counting::Call {
            operation: op.into(),
            table: Some(table.into()),
        };
        tally.calls.insert(call("PutItem", "users-t"), (20, 900));
        tally.calls.insert(call("UpdateItem", "processed-t"), (10, 2100));
        tally.calls.insert(call("GetItem", "users-t"), (10, 100));
        let role = |t: Option<&str>| match t {
            Some("users-t") => Some("Users"),
            Some("processed-t") => Some("ErpProcessedUsers"),
            _ => None,
        };
        let r = rates("crm-api", &tally, 10.0, role);
        let find = |op: &str| r.iter().find(|c| c.operation == op).unwrap();
        assert_eq!((find("PutItem").per_user, find("PutItem").write_units), (2.0, 2.0));
        assert_eq!(find("UpdateItem").write_units, 3.0);
        assert_eq!(find("GetItem").write_units, 0.0);
    }
}
