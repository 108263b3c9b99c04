//! The measured half of the cost estimate: crm-api creating users in either outbox delivery
//! (`stream`, then outbox-relay publishing each user's event from a stream record of its
//! write; and `request`), and erp-processor taking the deployed batch size, each with
//! Lambda's JSON log format and the deployed memory size, its AWS calls counted by a proxy
//! in front of the emulator; then the per-user usage of this stack in each delivery and of
//! the original design.

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
    pub dynamo: &'a aws_sdk_dynamodb::Client,
}

/// The calls' function names: crm-api in each delivery, and the relay's stream runs.
pub const CRM_STREAM: &str = "crm-api";
pub const CRM_REQUEST: &str = "crm-api (request delivery)";
pub const RELAY: &str = "outbox-relay";

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
    /// crm-api with `OUTBOX_DELIVERY=request`: it publishes and clears before it answers.
    pub request_post_ms: Option<Summary>,
    pub request_post_billed_ms: f64,
    pub request_post_log_bytes: f64,
    /// outbox-relay taking one user's stream record per invocation (a stream batch of one:
    /// at a low write rate each write is its own batch, the most invocations per user).
    pub relay_ms: Option<Summary>,
    pub relay_billed_ms: f64,
    pub relay_log_bytes: f64,
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
        ("OUTBOX_DELIVERY", "stream"),
    ]);
    let created = |answer: &serde_json::Value| answer["statusCode"] == 201;
    let (post_ms, post_log, crm_tally) = run(&crm, &proxy, users, events::post_user, created).await?;
    // What the table's stream would bring the relay: each write's record, one per invocation.
    let records = pending_records(setup).await?;
    if records.len() != users + 1 {
        return Err(format!("{} users pending after {} creations", records.len(), users + 1).into());
    }
    let relay = spec(setup, "outbox-relay", &proxy, memory_mb).with(&[
        ("USERS_TABLE_NAME", setup.users_table),
        ("EVENTS_TOPIC_ARN", setup.topic_arn),
    ]);
    let published = |answer: &serde_json::Value| answer["sent"] == 1 && answer["failed"] == 0;
    let (relay_ms, relay_log, relay_tally) = run(&relay, &proxy, users, |i| records[i].clone(), published).await?;
    let request = crm.clone().with(&[("OUTBOX_DELIVERY", "request")]);
    let (request_ms, request_log, request_tally) = run(&request, &proxy, users, events::post_user, created).await?;
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
    let mut calls = rates(CRM_STREAM, &crm_tally, users as f64, role);
    calls.extend(rates(RELAY, &relay_tally, users as f64, role));
    calls.extend(rates(CRM_REQUEST, &request_tally, users as f64, role));
    calls.extend(rates("erp-processor", &erp_tally, synced, role));
    let billed = |s: &[f64]| billed_ms(s).unwrap_or(f64::NAN);
    let inputs = Inputs {
        memory_mb,
        batch_size,
        users_posted: users,
        post_ms: summary(&post_ms),
        post_billed_ms: billed(&post_ms),
        post_log_bytes: post_log,
        request_post_ms: summary(&request_ms),
        request_post_billed_ms: billed(&request_ms),
        request_post_log_bytes: request_log,
        relay_ms: summary(&relay_ms),
        relay_billed_ms: billed(&relay_ms),
        relay_log_bytes: relay_log,
        batches,
        batch_ms: summary(&batch_ms),
        batch_billed_ms: billed(&batch_ms),
        batch_log_bytes: batch_log,
        sequential_batch_ms: summary(&sequential_ms),
        sequential_batch_billed_ms: billed(&sequential_ms),
        calls,
    };
    let prices = prices::US_EAST_1;
    let designs = [this_stack(&inputs), with_request_delivery(&inputs), original(&inputs)]
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

/// The events' writes as the stream's records show them, one stream event each, in the
/// shape Lambda sends: every `Users` item with a pending event.
async fn pending_records(setup: &Setup<'_>) -> Result<Vec<bytes::Bytes>, AnyError> {
    let mut records = Vec::new();
    let mut start = None;
    loop {
        let page = setup
            .dynamo
            .scan()
            .table_name(setup.users_table)
            .filter_expression("attribute_exists(Outbox)")
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in page.items() {
            let keys: serde_dynamo::Item = item
                .iter()
                .filter(|(k, _)| *k == "Id")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<std::collections::HashMap<_, _>>()
                .into();
            let image: serde_dynamo::Item = item.clone().into();
            let record = serde_json::json!({
                "eventID": records.len().to_string(), "eventName": "INSERT", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1.8e9, "Keys": keys, "NewImage": image,
                    "SequenceNumber": format!("{:021}", records.len() + 1), "SizeBytes": 512,
                    "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            });
            records.push(bytes::Bytes::from(serde_json::json!({"Records": [record]}).to_string()));
        }
        start = page.last_evaluated_key.filter(|k| !k.is_empty());
        if start.is_none() {
            return Ok(records);
        }
    }
}

/// This stack as deployed: `stream` delivery, crm-api's one write, then a relay run per
/// user's stream record.
fn this_stack(i: &Inputs) -> Usage {
    let crm = (CRM_STREAM, i.post_billed_ms, i.post_log_bytes);
    stack_usage(i, "this stack", crm, Some(i.relay_billed_ms))
}

/// This stack with `-c outboxDelivery=request`: crm-api publishes and clears itself.
fn with_request_delivery(i: &Inputs) -> Usage {
    let crm = (CRM_REQUEST, i.request_post_billed_ms, i.request_post_log_bytes);
    stack_usage(i, "request delivery", crm, None)
}

/// `crm`: crm-api's calls' name, its billed ms and log bytes per `POST`.
fn stack_usage(i: &Inputs, design: &'static str, crm: (&str, f64, f64), relay_billed_ms: Option<f64>) -> Usage {
    let (crm, post_billed_ms, post_log_bytes) = crm;
    let per_batch = 1.0 / i.batch_size as f64;
    // The consumer side's calls happen once per consumer; the other design's producer
    // calls not at all.
    let times = |c: &CallRate| match c.function {
        "erp-processor" => CONSUMERS,
        f if f == crm || (f == RELAY && relay_billed_ms.is_some()) => 1.0,
        _ => 0.0,
    };
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
    let relay = relay_billed_ms.map(|billed_ms| FunctionUse {
        name: "outbox-relay",
        invocations_per_user: 1.0,
        billed_ms,
        memory_mb: i.memory_mb,
    });
    Usage {
        design,
        api_requests: 1.0,
        functions: [FunctionUse {
            name: "crm-api",
            invocations_per_user: 1.0,
            billed_ms: post_billed_ms,
            memory_mb: i.memory_mb,
        }]
        .into_iter()
        .chain(relay)
        .chain([
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
        ])
        .collect(),
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
        log_bytes: post_log_bytes
            + relay_billed_ms.map_or(0.0, |_| i.relay_log_bytes + PLATFORM_LOG_BYTES)
            + PLATFORM_LOG_BYTES
            + ACCESS_LOG_BYTES
            + CONSUMERS * (i.batch_log_bytes + PLATFORM_LOG_BYTES) * per_batch,
        // One trace per API request, per relay invocation and per consumer invocation.
        traces: (1.0 + relay_billed_ms.map_or(0.0, |_| 1.0) + CONSUMERS * per_batch) * TRACE_SAMPLING,
    }
}

/// The original's flow (CONTRACT.md) priced on the same services: one `Users` put and one
/// send per user, batches of the same size one record at a time at 100 ms each, one audit
/// put per record, no indexes and no tracing. Its API ran on a server, which has no price
/// per request: it is priced here as this stack's front, so the columns differ by the flow.
/// Its Salesforce call was a placeholder inside the API's request: no consumer of its own.
fn original(i: &Inputs) -> Usage {
    let mut usage = with_request_delivery(i);
    let per_batch = 1.0 / i.batch_size as f64;
    usage.design = "original design";
    usage.functions.retain(|f| f.name != "crm-mirror");
    usage.functions[1].billed_ms = i.sequential_batch_billed_ms;
    usage.log_bytes = i.request_post_log_bytes
        + PLATFORM_LOG_BYTES
        + ACCESS_LOG_BYTES
        + (i.batch_log_bytes + PLATFORM_LOG_BYTES) * per_batch;
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
            request_post_ms: None,
            request_post_billed_ms: 7.0,
            request_post_log_bytes: 450.0,
            relay_ms: None,
            relay_billed_ms: 3.0,
            relay_log_bytes: 300.0,
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
    fn each_designs_usage_is_its_own_counted_calls() {
        let i = inputs(vec![
            rate(CRM_STREAM, "PutItem", Some("Users"), 1.0, 2.0),
            rate(RELAY, "PublishBatch", None, 1.0, 0.0),
            rate(RELAY, "UpdateItem", Some("Users"), 1.0, 2.0),
            rate(CRM_REQUEST, "PutItem", Some("Users"), 1.0, 2.0),
            rate(CRM_REQUEST, "PublishBatch", None, 1.0, 0.0),
            rate(CRM_REQUEST, "UpdateItem", Some("Users"), 1.0, 2.0),
            rate(CRM_REQUEST, "GetItem", Some("Users"), 0.25, 0.0),
            rate("erp-processor", "PutItem", Some("ErpProcessedUsers"), 1.0, 2.0),
            rate("erp-processor", "UpdateItem", Some("ErpProcessedUsers"), 1.0, 1.0),
            rate("erp-processor", "GetItem", Some("ErpProcessedUsers"), 0.5, 0.0),
        ]);
        let u = this_stack(&i);
        // crm-api's 2 and the relay's 2, and the consumer side's 3 once per consumer (the
        // ERP, the CRM mirror); nothing of the request delivery's crm-api.
        assert_eq!(u.write_units, 2.0 + 2.0 + 2.0 * 3.0);
        assert_eq!(u.read_units, 2.0 * 0.5);
        // The delivery to each consumer's queue, and each one's batch receive and delete.
        assert!((u.sqs_requests - 2.0 * 1.2).abs() < 1e-12);
        assert_eq!(u.sns_requests, 1.0);
        let names: Vec<&str> = u.functions.iter().map(|f| f.name).collect();
        assert_eq!(names, ["crm-api", "outbox-relay", "erp-processor", "crm-mirror"]);
        assert_eq!((u.functions[0].billed_ms, u.functions[1].billed_ms), (5.0, 3.0));
        assert_eq!(u.functions[3].invocations_per_user, 0.1);
        assert!((u.log_bytes - (400.0 + 300.0 + 2.0 * 600.0 + 520.0 + 2.0 * 360.0)).abs() < 1e-9);
        let r = with_request_delivery(&i);
        assert_eq!(r.write_units, 4.0 + 2.0 * 3.0);
        assert_eq!(r.read_units, 0.25 + 2.0 * 0.5);
        let names: Vec<&str> = r.functions.iter().map(|f| f.name).collect();
        assert_eq!(names, ["crm-api", "erp-processor", "crm-mirror"]);
        assert_eq!(r.functions[0].billed_ms, 7.0);
        assert!((r.log_bytes - (450.0 + 600.0 + 520.0 + 2.0 * 360.0)).abs() < 1e-9);
        let o = original(&i);
        assert_eq!((o.write_units, o.read_units, o.traces), (2.0, 0.0, 0.0));
        assert_eq!(o.functions.len(), 2, "the original's Salesforce call had no consumer");
        assert_eq!(o.functions[1].billed_ms, 1020.0);
        assert!((o.log_bytes - (450.0 + 600.0 + 520.0 + 360.0)).abs() < 1e-9);
        assert_eq!(o.functions[0].billed_ms, r.functions[0].billed_ms);
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
        let designs = [this_stack(&i), with_request_delivery(&i), original(&i)]
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
            row("| crm-mirror: invocations").ends_with("| 1/10 × 110.0 | 1/10 × 110.0 | – |"),
            "{md}"
        );
        assert!(row("| Lambda crm-mirror duration").ends_with(" | – |"), "{md}");
        assert!(
            row("| outbox-relay: invocations").ends_with("| 1 × 3.0 | – | – |"),
            "{md}"
        );
        assert!(
            row("| Lambda erp-processor duration").matches(": $").count() == 3,
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
