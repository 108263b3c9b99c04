//! The end-to-end suite: starts `scripts/dev` (moto, `cargo lambda watch`, the local event
//! source and schedule) on free ports and checks the system's promises from the outside:
//! through HTTP, the queues and the tables, as a user and an operator would.

mod checks;
mod proxy;
mod stack;
mod world;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use stack::{free_port, DevStack, Settings};

/// Short periods, so retries, redrive and relay runs happen within seconds.
pub const SETTINGS: Settings = Settings {
    visibility_timeout_s: 2,
    relay_every_s: 5,
    outbox_grace_s: 2,
};

#[tokio::main]
async fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let moto_port = free_port();
    let proxy = match proxy::FaultProxy::start(([127, 0, 0, 1], moto_port).into()).await {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("e2e: cannot start the fault proxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("e2e: starting scripts/dev (log: target/e2e.dev.log)");
    let started = Instant::now();
    let mut dev = match DevStack::start(&root, moto_port, &SETTINGS, &format!("http://{}", proxy.addr)).await {
        Ok(dev) => dev,
        Err(e) => {
            eprintln!("e2e: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "e2e: local stack up in {:.0} s at {}",
        started.elapsed().as_secs_f64(),
        dev.api
    );

    let world = world::World::new(&root, &dev, proxy).await;
    let (passed, failed) = checks::run_all(&world).await;
    dev.stop().await;
    let leftovers = [moto_port]
        .iter()
        .filter(|p| std::net::TcpStream::connect(("127.0.0.1", **p)).is_ok())
        .count();
    if leftovers > 0 {
        eprintln!("e2e: scripts/dev left moto listening after it stopped");
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 && leftovers == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
