//! The end-to-end suite: starts `scripts/dev` (MiniStack, `cdk deploy` of the real app) on
//! a free port and checks the system's promises from the outside, as a client of the
//! deployment and its operator would: signed requests through API Gateway's stage, the
//! queue's real event source mapping and redrive policy, the relay's real schedule, and the
//! tables and queues read through the AWS SDK. The emulator enforces what AWS does (SigV4
//! verified, IAM evaluated for every caller and every function's role, TLS-only policies);
//! after the scenarios, the calls each role made are compared with its grants (`grants`).

mod browser;
mod checks;
mod dev;
mod edges;
mod erp;
mod gateway;
mod grants;
mod proxy;
mod signing_proxy;
mod watch;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use dev::{DevStack, Peers, Settings};
use ops::Outputs;
use test_support::fake_erp::FakeErp;

/// Short local timings (`-c queueVisibilitySeconds`, `-c outboxGraceSeconds`), so retries
/// and redrive happen within seconds and the relay takes any event pending for 2 s.
pub const SETTINGS: Settings = Settings {
    visibility_timeout_s: 3,
    outbox_grace_s: 2,
};

pub async fn main(only: &[&str]) -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists");
    // Started first: the stack is deployed pointing at it (`-c erpEndpointUrl`).
    let erp = match FakeErp::start().await {
        Ok(erp) => erp,
        Err(e) => {
            eprintln!("e2e: cannot start the fake ERP: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("e2e: the fake ERP listens at {}", erp.url());
    println!("e2e: starting scripts/dev (log: target/e2e.dev.log)");
    let started = Instant::now();
    let erp_url = erp.url();
    let peers = Peers {
        erp_endpoint_url: &erp_url,
    };
    let mut dev = match DevStack::start(&root, &SETTINGS, &peers).await {
        Ok(dev) => dev,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("e2e: stack deployed in {:.0} s", started.elapsed().as_secs_f64());
    let (passed, failed) = match prepare(&root, &dev, erp).await {
        Ok(world) => {
            let since = std::time::SystemTime::now();
            let (passed, failed) = checks::run_all(&world, only).await;
            // After every scenario: the calls they made are what proves the grants.
            let name = "every call of each function's role has its grant, and every grant a call (but the AWS services' named uses)";
            match grants::compare(&world, since, only.is_empty()).await {
                Ok(()) => {
                    println!("PASS  {name}");
                    (passed + 1, failed)
                }
                Err(reason) => {
                    println!("FAIL  {name}: {reason}");
                    (passed, failed + 1)
                }
            }
        }
        Err(e) => {
            eprintln!("e2e: {e}");
            (0, 1)
        }
    };
    dev.stop().await;
    let left = std::net::TcpStream::connect(("127.0.0.1", dev.port)).is_ok();
    if left {
        eprintln!("e2e: scripts/dev left the emulator listening after it stopped");
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 && !left {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn prepare(root: &std::path::Path, dev: &DevStack, erp: FakeErp) -> Result<world::World, String> {
    let emulator = url::Url::parse(&format!("https://127.0.0.1:{}", dev.port)).expect("a valid URL");
    let outputs = Outputs::read(&dev.outputs_file())?;
    let proxy = proxy::FaultProxy::start(([127, 0, 0, 1], dev.port).into())
        .await
        .map_err(|e| format!("cannot start the fault proxy: {e}"))?;
    world::World::new(root, outputs, emulator, proxy, erp).await
}
