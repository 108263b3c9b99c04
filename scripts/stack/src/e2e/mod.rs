//! `stack e2e`: the end-to-end suite's runner. It deploys the stack with `scripts/dev` on a
//! free port, runs the scenarios (`tests/e2e`, an integration-test target built only with
//! the `e2e` feature) against it as libtest tests, then the checks that need every
//! scenario's calls first (the call-versus-grant comparison, `after_the_suite::`), and stops
//! the stack. libtest filters (`stack e2e WORD…`: the tests whose name contains a WORD) and
//! reports; the scenarios share one deployment and some take a service down for everyone,
//! so they run one at a time.

mod dev;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use dev::{free_port, free_port_to_keep, DevStack, Peers, Settings};

/// Short local timings (`-c queueVisibilitySeconds`, `-c outboxGraceSeconds`,
/// `-c reconcileMinutes`, `-c reconcileSettleSeconds`), so retries and redrive happen
/// within seconds, the relay takes any event pending for 2 s, and the reconciler reports
/// every drift each minute. The visibility timeout is also the consumers' timeout, and
/// each keeps 2 s of it back from its ERP calls for the writes after them: at 3 s, the 1 s
/// left was too little under 50 clients (the emulator answers one call at a time), and
/// records failed five times on "no time left" into the dead-letter queue (396 and 383 of
/// 400 processed in two runs).
pub const SETTINGS: Settings = Settings {
    visibility_timeout_s: 6,
    outbox_grace_s: 2,
    reconcile_minutes: 1,
    reconcile_settle_s: 0,
};

/// The emulator's region, and the account root's dummy key id and secret scripts/dev exports.
pub const REGION: &str = "us-east-1";
pub const KEY: &str = "test";

/// What the runner tells the test process: where the emulator and the fake ERP listen,
/// where scripts/dev keeps the stack's outputs and certificate, when the scenarios began,
/// and whether every scenario ran ("1") or a filtered few ("0").
pub const EMULATOR_PORT_VAR: &str = "E2E_EMULATOR_PORT";
pub const STATE_DIR_VAR: &str = "E2E_STATE_DIR";
pub const ERP_PORT_VAR: &str = "E2E_ERP_PORT";
pub const CRM_PORT_VAR: &str = "E2E_CRM_PORT";
pub const SINCE_VAR: &str = "E2E_SINCE_MS";
pub const WHOLE_SUITE_VAR: &str = "E2E_WHOLE_SUITE";

/// The module of the checks that run once every scenario has.
const AFTER_THE_SUITE: &str = "after_the_suite::";

pub async fn main(words: &[&str]) -> ExitCode {
    let root = workspace_root();
    let mut scenarios = vec!["--skip", AFTER_THE_SUITE];
    scenarios.extend_from_slice(words);
    // libtest's options (`--exact`, `--nocapture`) do not make a run a filtered one.
    let filtered = words.iter().any(|w| !w.starts_with('-'));
    // A filter that selects nothing would pass with "0 passed": a typo is a failure, found
    // before the deployment.
    if filtered && selected_tests(&root, &scenarios).await == Some(0) {
        eprintln!(
            "e2e: no test's name contains any of {words:?}; list them with \
             `cargo test -p stack --features e2e --test e2e -- --list`"
        );
        return ExitCode::FAILURE;
    }
    // The fake ERP and the mirror's fake CRM run inside the test process, which starts after
    // the deployment; the stack is deployed pointing at the ports they will take
    // (`-c erpEndpointUrl`, `-c mirrorEndpointUrl`). Two servers, so one can be down alone.
    let erp_port = free_port_to_keep();
    let erp_url = test_support::fake_erp::FakeErp::url_on(erp_port);
    let crm_port = (erp_port + 1..32_000)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .unwrap_or_else(free_port_to_keep);
    let crm_url = test_support::fake_erp::FakeErp::crm_url_on(crm_port);
    println!("e2e: starting scripts/dev (log: target/e2e.dev.log)");
    let started = Instant::now();
    let peers = Peers {
        erp_endpoint_url: &erp_url,
        mirror_endpoint_url: &crm_url,
    };
    let mut dev = match DevStack::start(&root, &SETTINGS, &peers).await {
        Ok(dev) => dev,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("e2e: stack deployed in {:.0} s", started.elapsed().as_secs_f64());
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let env = [
        (EMULATOR_PORT_VAR, dev.port.to_string()),
        (ERP_PORT_VAR, erp_port.to_string()),
        (CRM_PORT_VAR, crm_port.to_string()),
        (STATE_DIR_VAR, dev.state.display().to_string()),
        (SINCE_VAR, since.as_millis().to_string()),
        (WHOLE_SUITE_VAR, u8::from(!filtered).to_string()),
    ];
    let scenarios_passed = libtest(&root, &env, &scenarios).await;
    // After every scenario, whether or not each passed: their calls prove the grants.
    let after_passed = libtest(&root, &env, &[AFTER_THE_SUITE]).await;
    dev.stop().await;
    let left = std::net::TcpStream::connect(("127.0.0.1", dev.port)).is_ok();
    if left {
        eprintln!("e2e: scripts/dev left the emulator listening after it stopped");
    }
    if scenarios_passed && after_passed && !left {
        ExitCode::SUCCESS
    } else {
        eprintln!("e2e: failed (scripts/dev's log: target/e2e.dev.log)");
        ExitCode::FAILURE
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// How many tests libtest's `args` select (`--list`); `None` when it could not say.
async fn selected_tests(root: &Path, args: &[&str]) -> Option<usize> {
    let out = suite(root)
        .args(args)
        .args(["--list", "--format", "terse"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .ok()
        .filter(|out| out.status.success())?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|line| line.ends_with(": test"))
            .count(),
    )
}

/// Runs the suite's test target with libtest's `args`, one test at a time.
async fn libtest(root: &Path, env: &[(&str, String)], args: &[&str]) -> bool {
    let status = suite(root)
        .arg("--test-threads=1")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .await;
    match status {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("e2e: cannot run cargo test: {e}");
            false
        }
    }
}

/// `cargo test` of the suite's target, up to libtest's arguments.
fn suite(root: &Path) -> tokio::process::Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = tokio::process::Command::new(cargo);
    command
        .args([
            "test",
            "--locked",
            "-p",
            "stack",
            "--features",
            "e2e",
            "--test",
            "e2e",
            "--",
        ])
        .current_dir(root);
    command
}
