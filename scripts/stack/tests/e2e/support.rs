//! What every scenario shares: the one deployment's `World`, reached through one runtime
//! (the SDK's and the fake servers' connections live on it, whichever test thread asks),
//! and the small helpers the scenarios poll and build events with.

use std::future::Future;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;
use tokio::time::sleep;

use stack::smoke::expect;

use crate::world::World;

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
});

static WORLD: OnceCell<World> = OnceCell::const_new();

/// Runs one scenario against the deployed stack. Its `Err` is the broken promise: the
/// test fails with it, printed as written (libtest would print a returned `Err` on one line,
/// with its newlines escaped).
pub fn run<F, Fut>(scenario: F) -> Result<(), String>
where
    F: FnOnce(&'static World) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let outcome = RUNTIME.block_on(async {
        let world = WORLD.get_or_try_init(World::from_runner).await?;
        scenario(world).await
    });
    if let Err(reason) = outcome {
        panic!("{reason}");
    }
    Ok(())
}

/// Now, in milliseconds since the epoch: where a read of the functions' logs starts.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// None of `users` reached `server` (`system`, as a failure names it) while it was down.
pub fn none_reached(server: &test_support::fake_erp::FakeErp, system: &str, users: &[String]) -> Result<(), String> {
    let reached: Vec<&String> = users.iter().filter(|u| server.employee(u).is_some()).collect();
    stack::smoke::expect(reached.is_empty(), || {
        format!("{system} was down, yet {reached:?} reached it")
    })
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// Polls `probe` until it yields `Some`, or fails after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = probe().await {
            return Ok(found);
        }
        if started.elapsed() > limit {
            return Err(format!("{what} not within {limit:?}"));
        }
        sleep(Duration::from_millis(200)).await;
    }
}

pub fn user_id(body: &Value) -> Result<String, String> {
    body["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no id in {body}"))
}

pub fn envelope(event_id: &str, user_id: &str) -> Value {
    json!({"eventId": event_id, "eventType": "UserCreated", "timestamp": "2025-10-16T12:00:00.0000000Z",
           "user": {"id": user_id, "name": "Test User", "email": "test@example.com"}})
}

/// Runs a script as a client of this stack; its output is the failure's reason, and its
/// standard output the result.
pub async fn run_script(world: &World, script: &str, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(world.root.join(script))
        .args(args)
        .envs(world.client_env())
        .env("LOCAL_STATE_DIR", &world.state)
        .output()
        .await
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    // The end of each stream: a build's progress lines come first and would bury the reason.
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    expect(out.status.success(), || {
        format!(
            "{script} exited with {}\n--- stdout (end) ---\n{}\n--- stderr (end) ---\n{}",
            out.status,
            tail(&out.stdout),
            tail(&out.stderr)
        )
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `scenario` while `binary`'s calls to one AWS service (`variable`, such as
/// `AWS_ENDPOINT_URL_SNS`, set in its environment: an operator's change to the deployed
/// function) go to the switched-off fault proxy; restores both afterwards, whatever the
/// outcome.
pub async fn with_service_down<T>(
    world: &World,
    binary: &str,
    variable: &str,
    scenario: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let function = world.function_named(binary).await?;
    // TLS passes through the proxy: the emulator's certificate names 127.0.0.1.
    let proxy = format!("https://{}", world.proxy.addr);
    world.proxy.set_up(false);
    world.set_function_env(&function, variable, Some(&proxy)).await?;
    let outcome = scenario.await;
    world.proxy.set_up(true);
    world.set_function_env(&function, variable, None).await?;
    outcome
}
