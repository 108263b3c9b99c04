//! The run: the emulator and its tables, then each measurement in turn, interleaving the
//! functions where the order could favour one of them.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use erp_processor::config::ErpProcessorConfig;
use serde::Serialize;
use uuid::Uuid;

use crate::events;
use crate::progress::Progress;
use crate::runtime::{FunctionSpec, Running};
use crate::stats::Summary;
use crate::{AnyError, Plan};

/// Functions deployed as zips; their artifact sizes are reported.
pub const DEPLOYED: [&str; 5] = ["crm-api", "erp-processor", "crm-mirror", "outbox-relay", "reconciler"];

#[derive(Debug, Serialize)]
pub struct Results {
    pub mode: &'static str,
    pub machine: Machine,
    pub git_commit: String,
    pub unix_time: u64,
    pub plan: Plan,
    pub functions: Vec<FunctionResult>,
    pub emulator_raw: EmulatorRaw,
    pub batch: Vec<BatchResult>,
    pub artifacts: Vec<Artifact>,
    pub targets: Vec<Target>,
    pub e2e: Option<crate::e2e::E2e>,
    pub cost: Option<crate::cost::measured::Cost>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
}

#[derive(Debug, Serialize)]
pub struct FunctionResult {
    pub name: &'static str,
    pub cold_init_ms: Option<Summary>,
    pub cold_first_response_ms: Option<Summary>,
    pub warm_ms: Option<Summary>,
    pub peak_rss_mb: Option<f64>,
    /// The AWS call its invocation makes, made raw by the harness after each warm
    /// invocation (same moment, same emulator), and its time.
    pub raw_call: Option<&'static str>,
    pub raw_call_ms: Option<Summary>,
    /// Warm p50 minus the floor's p50 minus the raw call's p50.
    pub warm_net_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct EmulatorRaw {
    /// All raw calls of the run, by kind.
    /// `GetItem` of the seeded user (consistent read), what `GET /api/crm/{id}` makes.
    pub get_item_ms: Option<Summary>,
    /// Conditional `PutItem` of a new event, what the Python peer (the original's shape)
    /// makes per record.
    pub put_item_ms: Option<Summary>,
    /// What erp-processor makes per record: the user's lease with the event's look-up, then
    /// the event's record with the user's view.
    pub process_event_ms: Option<Summary>,
}

#[derive(Debug, Serialize)]
pub struct BatchResult {
    /// erp-processor, or the Python peer (which calls no ERP).
    pub function: &'static str,
    pub erp_latency_ms: u64,
    /// Records of one batch in flight at once: erp-processor's BATCH_CONCURRENCY; 1 for the
    /// peer, which takes them one after the other.
    pub bound: usize,
    pub one_record_ms: Option<Summary>,
    pub hundred_records_ms: Option<Summary>,
    /// 100 records / the 100-record batch's p50.
    pub records_per_second: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Artifact {
    pub function: &'static str,
    pub zip_bytes: Option<u64>,
    pub binary_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub name: String,
    pub measured: f64,
    pub limit: f64,
    pub unit: &'static str,
    pub holds: bool,
}

struct Subject {
    spec: FunctionSpec,
    event: fn(&Ctx, usize) -> Bytes,
    raw_call: Option<RawCall>,
}

/// The AWS call one invocation makes, as the harness makes it directly.
#[derive(Debug, Clone, Copy)]
enum RawCall {
    /// What crm-api reads for one user: the user, and the ERP side's state of it.
    GetItem,
    PutItem,
    /// What erp-processor makes per event: the user's lease and the event's look-up at once,
    /// then its record and the user's view (which ends the lease) at once.
    ProcessEvent,
}

impl RawCall {
    fn name(self) -> &'static str {
        match self {
            Self::GetItem => "2 GetItem",
            Self::PutItem => "PutItem",
            Self::ProcessEvent => "(UpdateItem ∥ GetItem) + (PutItem ∥ UpdateItem)",
        }
    }
}

/// The emulator's tables and events topic (a queue subscribed to it), and the harness's own
/// client of them.
struct Raw {
    dynamo: aws_sdk_dynamodb::Client,
    users_table: String,
    processed_table: String,
    employees_table: String,
    topic_arn: String,
    user_id: String,
}

struct Warm {
    latency: Vec<Duration>,
    raw: Vec<Duration>,
    peak_rss_mb: f64,
}

struct Ctx {
    user_id: String,
}

pub async fn run(root: &Path, plan: Plan, smoke: bool) -> Result<Results, AnyError> {
    let mut progress = Progress::new(6);
    let logs = root.join("target/bench/logs");
    std::fs::create_dir_all(&logs)?;

    progress.step("MiniStack server, tables, a seeded user");
    let emulator = tokio::task::spawn_blocking(test_support::emulator).await?;
    let raw = Raw::prepare(emulator).await?;
    let ctx = Ctx {
        user_id: raw.user_id.clone(),
    };
    let subjects = subjects(root, &logs, &emulator.endpoint, &raw);
    progress.done(&format!("MiniStack at {}", emulator.endpoint));

    progress.step(&format!(
        "cold starts: {} fresh processes per function, interleaved",
        plan.cold_starts
    ));
    let cold = cold_starts(&subjects, &ctx, plan, &progress).await?;
    let p50 = |samples: &[Duration]| Summary::of(samples).map_or(f64::NAN, |s| s.p50);
    progress.done(&format!(
        "init p50: {}",
        listed(subjects.iter().zip(&cold.init), |(s, d)| format!(
            "{} {:.2} ms",
            s.spec.name,
            p50(d)
        ))
    ));

    progress.step(&format!(
        "warm: {} sequential invocations per function, each followed by its AWS call made raw; peak RSS",
        plan.warm_invocations
    ));
    let (functions, emulator_raw) = warm_all(&subjects, &ctx, &raw, &cold, plan, &progress).await?;
    progress.done(&format!(
        "p50: {}",
        listed(&functions, |f| format!(
            "{} {:.2} ms",
            f.name,
            f.warm_ms.map_or(f64::NAN, |s| s.p50)
        ))
    ));

    progress.step("batches: 100 records against 1, erp-processor at ERP_LATENCY_MS 100 and 0, the Python peer");
    let mut batch = Vec::new();
    for latency in [100u64, 0] {
        let bound = ErpProcessorConfig::DEFAULT_BATCH_CONCURRENCY;
        batch.push(batches(&subjects[2], bound, latency, plan, &progress).await?);
    }
    batch.push(batches(&subjects[3], 1, 0, plan, &progress).await?);
    progress.done(&format!(
        "100 records at 100 ms: p50 {:.0} ms; at 0 ms: {:.0} records/s; the Python peer: {:.0} records/s",
        batch[0].hundred_records_ms.map_or(f64::NAN, |s| s.p50),
        batch[1].records_per_second.unwrap_or(f64::NAN),
        batch[2].records_per_second.unwrap_or(f64::NAN)
    ));

    progress.step("artifacts: cargo lambda build --release --arm64 --output-format zip");
    let artifacts = artifacts(root);
    progress.done(&listed(&artifacts, |a| {
        format!("{} {:.2} MB", a.function, a.zip_bytes.unwrap_or(0) as f64 / 1e6)
    }));

    progress.step(&format!(
        "cost inputs: {} users created, {} batches of the deployed size (at {} ms per ERP call, concurrent and sequential); AWS calls counted",
        plan.cost_users,
        plan.cost_batches,
        crate::cost::measured::ERP_LATENCY_MS
    ));
    let setup = crate::cost::measured::Setup {
        root,
        emulator: &emulator.endpoint,
        users_table: &raw.users_table,
        processed_table: &raw.processed_table,
        employees_table: &raw.employees_table,
        topic_arn: &raw.topic_arn,
        logs: &logs,
        dynamo: &raw.dynamo,
    };
    let cost = crate::cost::measured::measure(&setup, plan.cost_users, plan.cost_batches, &progress).await?;
    progress.done(&listed(&cost.designs, |d| {
        format!("{}: ${:.2} per million users", d.usage.design, d.total_usd)
    }));

    let targets = targets(&functions, &batch, &artifacts);
    Ok(Results {
        mode: if smoke { "smoke" } else { "full" },
        machine: machine(),
        git_commit: git_commit(root),
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        plan,
        functions,
        emulator_raw,
        batch,
        artifacts,
        targets,
        e2e: None,
        cost: Some(cost),
    })
}

/// `items` one per `show`, comma-separated: a step's summary line.
fn listed<I: IntoIterator>(items: I, show: impl FnMut(I::Item) -> String) -> String {
    items.into_iter().map(show).collect::<Vec<_>>().join(", ")
}

impl Raw {
    /// The tables and the queue the functions are pointed at, and one user to read.
    async fn prepare(emulator: &test_support::Emulator) -> Result<Self, AnyError> {
        let aws = emulator.sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let sqs = aws_sdk_sqs::Client::new(&aws);
        let users_table = test_support::create_users_table(&dynamo).await;
        let processed_table = test_support::create_processed_table(&dynamo).await;
        let employees_table = test_support::create_employees_table(&dynamo).await;
        // crm-api publishes to the topic; a queue is subscribed as the ERP consumer's is.
        let events = test_support::create_topic_with_queue(&aws_sdk_sns::Client::new(&aws), &sqs, "Events").await;
        let user_id = Uuid::new_v4().to_string();
        dynamo
            .put_item()
            .table_name(&users_table)
            .set_item(Some(HashMap::from([
                ("Id".to_owned(), s(&user_id)),
                ("Name".to_owned(), s("Bench User")),
                ("Email".to_owned(), s("bench@example.com")),
                ("CreatedAt".to_owned(), s("2026-03-02T09:15:27.418Z")),
                ("EventId".to_owned(), s(&Uuid::new_v4().to_string())),
            ])))
            .send()
            .await?;
        Ok(Self {
            dynamo,
            users_table,
            processed_table,
            employees_table,
            topic_arn: events.topic_arn,
            user_id,
        })
    }
}

/// The four processes measured, in the tables' order: the floor, crm-api, erp-processor
/// and the Python peer.
fn subjects(root: &Path, logs: &Path, endpoint: &str, raw: &Raw) -> [Subject; 4] {
    let mut base_env = vec![("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned())];
    // Experiments: extra KEY=VALUE words for every function's environment.
    let extra = std::env::var("BENCH_FUNCTION_ENV").unwrap_or_default();
    base_env.extend(
        extra
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let with = |extra: &[(&str, &str)]| {
        let mut env = base_env.clone();
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        env
    };
    // scripts/bench builds the functions as the CDK app bundles them (cargo lambda, x86_64),
    // and the floor in the harness's own profile, beside it.
    let harness = std::env::current_exe().unwrap_or_default();
    let program = |name: &str| match name {
        "floor" => harness.with_file_name("bench-floor"),
        function => root.join("target/lambda-x86_64").join(function).join("bootstrap"),
    };
    let spec = |name: &'static str, env: Vec<(String, String)>| FunctionSpec {
        name,
        program: program(name),
        args: vec![],
        cwd: None,
        env,
        log: logs.join(format!("{name}.log")),
    };
    [
        Subject {
            spec: spec("floor", base_env.clone()),
            event: |_, n| events::hello(n),
            raw_call: None,
        },
        Subject {
            spec: spec(
                "crm-api",
                with(&[
                    ("USERS_TABLE_NAME", &raw.users_table),
                    ("EVENTS_TOPIC_ARN", &raw.topic_arn),
                    ("ERP_EMPLOYEES_TABLE_NAME", &raw.employees_table),
                ]),
            ),
            event: |ctx, _| events::get_user(&ctx.user_id),
            raw_call: Some(RawCall::GetItem),
        },
        Subject {
            spec: spec(
                "erp-processor",
                with(&[
                    ("ERP_PROCESSED_TABLE_NAME", &raw.processed_table),
                    ("ERP_EMPLOYEES_TABLE_NAME", &raw.employees_table),
                ]),
            ),
            event: |_, _| events::sqs_batch(1),
            raw_call: Some(RawCall::ProcessEvent),
        },
        Subject {
            spec: FunctionSpec {
                name: "python",
                program: root.join("target/bench/pyvenv/bin/python"),
                args: vec!["-m".into(), "awslambdaric".into(), "handler.handler".into()],
                cwd: Some(root.join("scripts/bench-python")),
                env: with(&[
                    ("ERP_PROCESSED_TABLE_NAME", &raw.processed_table),
                    ("LAMBDA_TASK_ROOT", &root.join("scripts/bench-python").to_string_lossy()),
                    ("_HANDLER", "handler.handler"),
                ]),
                log: logs.join("python.log"),
            },
            event: |_, _| events::sqs_batch(1),
            raw_call: Some(RawCall::PutItem),
        },
    ]
}

/// Per subject, the cold starts' init and first-response times.
struct Cold {
    init: Vec<Vec<Duration>>,
    first: Vec<Vec<Duration>>,
}

/// `plan.cold_starts` fresh processes per subject, the subjects interleaved in each round.
async fn cold_starts(subjects: &[Subject], ctx: &Ctx, plan: Plan, progress: &Progress) -> Result<Cold, AnyError> {
    let mut cold = Cold {
        init: vec![vec![]; subjects.len()],
        first: vec![vec![]; subjects.len()],
    };
    let rounds = plan.cold_starts + 1;
    for round in 0..rounds {
        for (i, subject) in subjects.iter().enumerate() {
            let (cold_init, cold_first) = cold_start(subject, ctx).await?;
            // Round 0 warms the page cache (and Python's bytecode cache) for every function.
            if round > 0 {
                cold.init[i].push(cold_init);
                cold.first[i].push(cold_first);
            }
        }
        progress.tick(round, rounds - 1);
    }
    Ok(cold)
}

/// Each subject warm, with its raw AWS call timed alongside; the net figure is the warm p50
/// less the floor's and the raw call's.
async fn warm_all(
    subjects: &[Subject],
    ctx: &Ctx,
    raw: &Raw,
    cold: &Cold,
    plan: Plan,
    progress: &Progress,
) -> Result<(Vec<FunctionResult>, EmulatorRaw), AnyError> {
    let mut functions = Vec::new();
    let (mut raw_get, mut raw_put, mut raw_process) = (Vec::new(), Vec::new(), Vec::new());
    for (i, subject) in subjects.iter().enumerate() {
        let warm = warm(subject, ctx, raw, plan.warm_invocations, progress).await?;
        match subject.raw_call {
            Some(RawCall::GetItem) => raw_get.extend(&warm.raw),
            Some(RawCall::PutItem) => raw_put.extend(&warm.raw),
            Some(RawCall::ProcessEvent) => raw_process.extend(&warm.raw),
            None => {}
        }
        functions.push(FunctionResult {
            name: subject.spec.name,
            cold_init_ms: Summary::of(&cold.init[i]),
            cold_first_response_ms: Summary::of(&cold.first[i]),
            warm_ms: Summary::of(&warm.latency),
            peak_rss_mb: Some(warm.peak_rss_mb),
            raw_call: subject.raw_call.map(RawCall::name),
            raw_call_ms: Summary::of(&warm.raw),
            warm_net_ms: None,
        });
    }
    let floor_p50 = functions[0].warm_ms.map(|s| s.p50);
    for f in functions.iter_mut().skip(1) {
        f.warm_net_ms = match (f.warm_ms, floor_p50, f.raw_call_ms) {
            (Some(w), Some(floor), Some(raw)) => Some(w.p50 - floor - raw.p50),
            _ => None,
        };
    }
    let emulator_raw = EmulatorRaw {
        get_item_ms: Summary::of(&raw_get),
        put_item_ms: Summary::of(&raw_put),
        process_event_ms: Summary::of(&raw_process),
    };
    Ok((functions, emulator_raw))
}

/// The deployed functions' arm64 zips and binaries, as `cargo lambda build` left them.
fn artifacts(root: &Path) -> Vec<Artifact> {
    let size = |path: std::path::PathBuf| std::fs::metadata(path).ok().map(|m| m.len());
    DEPLOYED
        .iter()
        .map(|&function| Artifact {
            function,
            zip_bytes: size(root.join("target/lambda").join(function).join("bootstrap.zip")),
            binary_bytes: size(root.join("target/aarch64-unknown-linux-gnu/release").join(function)),
        })
        .collect()
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// One raw call, timed from send to answer (the request is built before).
async fn raw_call(raw: &Raw, call: RawCall) -> Result<Duration, AnyError> {
    match call {
        RawCall::GetItem => {
            let request = raw
                .dynamo
                .get_item()
                .table_name(&raw.users_table)
                .key("Id", s(&raw.user_id))
                .consistent_read(true);
            let sync = raw
                .dynamo
                .get_item()
                .table_name(&raw.employees_table)
                .key("UserId", s(&raw.user_id))
                .consistent_read(true);
            let started = Instant::now();
            let out = request.send().await?;
            let took = started.elapsed();
            out.item.ok_or("the seeded user is missing")?;
            let started = Instant::now();
            sync.send().await?;
            Ok(took + started.elapsed())
        }
        RawCall::PutItem => {
            let request = raw
                .dynamo
                .put_item()
                .table_name(&raw.processed_table)
                .set_item(Some(HashMap::from([
                    ("EventId".to_owned(), s(&Uuid::new_v4().to_string())),
                    ("UserId".to_owned(), s(&raw.user_id)),
                    ("UserName".to_owned(), s("Bench User")),
                    ("UserEmail".to_owned(), s("bench@example.com")),
                    ("ProcessedAt".to_owned(), s("2026-03-02T09:15:28.001Z")),
                    ("EventType".to_owned(), s("UserCreated")),
                    ("Status".to_owned(), s("Processed")),
                    ("EventTimestamp".to_owned(), s("2026-03-02T09:15:27.418Z")),
                    ("ErpRecordId".to_owned(), s("EMP-00000000")),
                    ("ErpSystem".to_owned(), s("OracleFusion")),
                ])))
                .condition_expression("attribute_not_exists(EventId)");
            let started = Instant::now();
            request.send().await?;
            Ok(started.elapsed())
        }
        RawCall::ProcessEvent => {
            let event_id = Uuid::new_v4().to_string();
            let user_id = Uuid::new_v4().to_string();
            let lease = raw
                .dynamo
                .update_item()
                .table_name(&raw.employees_table)
                .key("UserId", s(&user_id))
                .update_expression("SET LeaseToken = :token, LeaseExpiresAt = :expires")
                .condition_expression("attribute_not_exists(LeaseToken) OR LeaseExpiresAt < :now")
                .expression_attribute_values(":token", s("bench"))
                .expression_attribute_values(":expires", AttributeValue::N("1772442987418".to_owned()))
                .expression_attribute_values(":now", AttributeValue::N("1772442927418".to_owned()))
                .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
            let apply = raw
                .dynamo
                .update_item()
                .table_name(&raw.employees_table)
                .key("UserId", s(&user_id))
                .update_expression(
                    "SET Version = :version, #state = :state, ErpRecordId = :record, ErpSystem = :system, \
                     EventId = :event, SyncedAt = :at ADD PiiEventIds :pii REMOVE LeaseToken, LeaseExpiresAt",
                )
                .condition_expression("LeaseToken = :token")
                .expression_attribute_names("#state", "State")
                .expression_attribute_values(":version", AttributeValue::N("1".to_owned()))
                .expression_attribute_values(":state", s("Active"))
                .expression_attribute_values(":record", s("EMP-00000000"))
                .expression_attribute_values(":system", s("OracleFusion"))
                .expression_attribute_values(":event", s(&event_id))
                .expression_attribute_values(":at", s("2026-03-02T09:15:28.001Z"))
                .expression_attribute_values(":pii", AttributeValue::Ss(vec![event_id.clone()]))
                .expression_attribute_values(":token", s("bench"));
            let find = raw
                .dynamo
                .get_item()
                .table_name(&raw.processed_table)
                .key("EventId", s(&event_id))
                .projection_expression("#status, UserId, PayloadHash, ProcessedAt, UserName, UserEmail")
                .expression_attribute_names("#status", "Status")
                .consistent_read(true);
            let record = raw
                .dynamo
                .put_item()
                .table_name(&raw.processed_table)
                .set_item(Some(HashMap::from([
                    ("EventId".to_owned(), s(&event_id)),
                    ("UserId".to_owned(), s(&raw.user_id)),
                    ("UserName".to_owned(), s("Bench User")),
                    ("UserEmail".to_owned(), s("bench@example.com")),
                    ("ProcessedAt".to_owned(), s("2026-03-02T09:15:28.001Z")),
                    ("EventType".to_owned(), s("UserCreated")),
                    ("Status".to_owned(), s("Processed")),
                    ("EventTimestamp".to_owned(), s("2026-03-02T09:15:27.418Z")),
                    ("Version".to_owned(), AttributeValue::N("1".to_owned())),
                    ("PayloadHash".to_owned(), s(&"0".repeat(64))),
                    ("ErpRecordId".to_owned(), s("EMP-00000000")),
                    ("ErpSystem".to_owned(), s("OracleFusion")),
                ])))
                .condition_expression("attribute_not_exists(EventId) OR #status = :in_progress")
                .expression_attribute_names("#status", "Status")
                .expression_attribute_values(":in_progress", s("InProgress"));
            // Two round trips, as erp-processor makes them: the lease with the look-up,
            // then the record with the view.
            let started = Instant::now();
            let (leased, found) = tokio::join!(lease.send(), find.send());
            leased?;
            found?;
            let (recorded, applied) = tokio::join!(record.send(), apply.send());
            recorded?;
            applied?;
            Ok(started.elapsed())
        }
    }
}
/// Spawn → first `invocation/next` (init), and spawn → response posted (first response).
async fn cold_start(subject: &Subject, ctx: &Ctx) -> Result<(Duration, Duration), AnyError> {
    let event = (subject.event)(ctx, 0);
    let mut running = Running::start(&subject.spec, &[]).await?;
    let outcome = running.invoke(&subject.spec, event.clone()).await;
    let init = running.api.first_next();
    let spawned = running.spawned;
    running.stop().await;
    let (_, outcome) = outcome?;
    events::check(subject.spec.name, &event, &outcome.body)?;
    let init = init.ok_or("no invocation/next before the response")? - spawned;
    Ok((init, outcome.at - spawned))
}

/// `n` sequential invocations of one warm process (after its cold one), each followed by
/// the raw call it makes, and the process's peak RSS.
async fn warm(subject: &Subject, ctx: &Ctx, raw: &Raw, n: usize, progress: &Progress) -> Result<Warm, AnyError> {
    let mut running = Running::start(&subject.spec, &[]).await?;
    let result = async {
        running.invoke(&subject.spec, (subject.event)(ctx, 0)).await?;
        if let Some(call) = subject.raw_call {
            // The harness's client pays its own first-use costs here, uncounted.
            raw_call(raw, call).await?;
        }
        let mut latency = Vec::with_capacity(n);
        let mut raw_times = Vec::with_capacity(n);
        for i in 1..=n {
            let event = (subject.event)(ctx, i);
            let (sent, outcome) = running.invoke(&subject.spec, event.clone()).await?;
            latency.push(outcome.at - sent);
            events::check(subject.spec.name, &event, &outcome.body)?;
            if let Some(call) = subject.raw_call {
                raw_times.push(raw_call(raw, call).await?);
            }
            if i % 50 == 0 || i == n {
                progress.tick(i, n);
            }
        }
        Ok::<_, AnyError>(Warm {
            latency,
            raw: raw_times,
            peak_rss_mb: running.peak_rss_mb()?,
        })
    }
    .await;
    running.stop().await;
    result
}

async fn batches(
    processor: &Subject,
    bound: usize,
    latency_ms: u64,
    plan: Plan,
    progress: &Progress,
) -> Result<BatchResult, AnyError> {
    let latency = latency_ms.to_string();
    let mut running = Running::start(&processor.spec, &[("ERP_LATENCY_MS", &latency)]).await?;
    let result = async {
        running.invoke(&processor.spec, events::sqs_batch(1)).await?;
        let (mut one, mut hundred) = (Vec::new(), Vec::new());
        for (records, reps, samples) in [
            (1, plan.batch_one_reps, &mut one),
            (100, plan.batch_hundred_reps, &mut hundred),
        ] {
            for i in 0..reps {
                let event = events::sqs_batch(records);
                let (sent, outcome) = running.invoke(&processor.spec, event.clone()).await?;
                samples.push(outcome.at - sent);
                events::check(processor.spec.name, &event, &outcome.body)?;
                progress.tick(i + 1, reps);
            }
        }
        Ok::<_, AnyError>((one, hundred))
    }
    .await;
    running.stop().await;
    let (one, hundred) = result?;
    let hundred = Summary::of(&hundred);
    Ok(BatchResult {
        function: processor.spec.name,
        erp_latency_ms: latency_ms,
        bound,
        one_record_ms: Summary::of(&one),
        hundred_records_ms: hundred,
        records_per_second: hundred.map(|h| 100.0 / (h.p50 / 1000.0)),
    })
}

/// The targets, each with the measured figure it is judged on.
fn targets(functions: &[FunctionResult], batch: &[BatchResult], artifacts: &[Artifact]) -> Vec<Target> {
    let by_name = |name: &str| functions.iter().find(|f| f.name == name);
    let mut targets = Vec::new();
    let mut add = |name: String, measured: Option<f64>, limit: Option<f64>, unit: &'static str| {
        if let (Some(measured), Some(limit)) = (measured, limit) {
            targets.push(Target {
                name,
                measured,
                limit,
                unit,
                holds: measured <= limit,
            });
        }
    };
    let floor_init = by_name("floor").and_then(|f| f.cold_init_ms).map(|s| s.p50 * 1.5);
    for name in ["crm-api", "erp-processor"] {
        let f = by_name(name);
        add(
            format!("{name}: cold init p50 ≤ 1.5 × floor's"),
            f.and_then(|f| f.cold_init_ms).map(|s| s.p50),
            floor_init,
            "ms",
        );
    }
    add(
        "erp-processor: cold first response p50 ≥ 15× faster than the Python peer's".to_owned(),
        by_name("erp-processor")
            .and_then(|f| f.cold_first_response_ms)
            .map(|s| s.p50),
        by_name("python")
            .and_then(|f| f.cold_first_response_ms)
            .map(|s| s.p50 / 15.0),
        "ms",
    );
    for name in ["crm-api", "erp-processor"] {
        let f = by_name(name);
        add(
            format!("{name}: warm p50 − floor p50 − raw emulator p50 ≤ 1 ms"),
            f.and_then(|f| f.warm_net_ms),
            Some(1.0),
            "ms",
        );
        add(
            format!("{name}: peak RSS ≤ 40 MB"),
            f.and_then(|f| f.peak_rss_mb),
            Some(40.0),
            "MB",
        );
    }
    let hundred = |function: &str, latency: u64| {
        batch
            .iter()
            .find(|b| b.function == function && b.erp_latency_ms == latency)
            .and_then(|b| b.hundred_records_ms)
            .map(|s| s.p50)
    };
    add(
        "erp-processor: 100-record batch at 0 ms ERP latency p50 ≤ 2.5 × the Python peer's".to_owned(),
        hundred("erp-processor", 0),
        hundred("python", 0).map(|peer| 2.5 * peer),
        "ms",
    );
    if let Some(b) = batch
        .iter()
        .find(|b| b.function == "erp-processor" && b.erp_latency_ms == 100)
    {
        let limit = 1.25 * 100usize.div_ceil(b.bound) as f64 * 100.0;
        add(
            format!(
                "100-record batch at 100 ms ERP latency p50 ≤ 1.25 × ⌈100/{}⌉ × 100 ms",
                b.bound
            ),
            b.hundred_records_ms.map(|s| s.p50),
            Some(limit),
            "ms",
        );
    }
    for a in artifacts {
        add(
            format!("{}: arm64 zip ≤ 4 MB", a.function),
            a.zip_bytes.map(|b| b as f64 / 1e6),
            Some(4.0),
            "MB",
        );
    }
    targets
}

fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
    }
}

fn git_commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    }
}
