//! Starts `scripts/dev` on a free port, waits until it is ready, and stops it as Ctrl-C
//! would.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct DevStack {
    child: Child,
    /// Copies scripts/dev's output to its log, as `scripts/dev | tee log` would.
    tee: tokio::task::JoinHandle<()>,
    pub port: u16,
    pub state: PathBuf,
}

/// The local timings the suite deploys with (docs/local-stack.md, "Settings").
pub struct Settings {
    pub visibility_timeout_s: u64,
    pub outbox_grace_s: u64,
    pub reconcile_minutes: u64,
    pub reconcile_settle_s: u64,
}

/// What the suite connects the stack to.
pub struct Peers<'a> {
    /// The fake ERP's base URL (`-c erpEndpointUrl`).
    pub erp_endpoint_url: &'a str,
    /// The fake CRM's base URL, the mirror's (`-c mirrorEndpointUrl`).
    pub mirror_endpoint_url: &'a str,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A free loopback port below Linux's ephemeral range (32768 and up), for a server that
/// starts minutes after the port is chosen: no outgoing connection or `bind(0)` meanwhile
/// is given it.
pub fn free_port_to_keep() -> u16 {
    let start = 20_000 + u16::try_from(std::process::id() % 10_000).unwrap_or(0);
    (start..32_000)
        .chain(20_000..start)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free loopback port below 32000")
}

impl DevStack {
    /// The suite's stack: its short timings, pointed at its fake ERP.
    pub async fn start(root: &Path, settings: &Settings, peers: &Peers<'_>) -> Result<Self, String> {
        let env = [
            (
                "LOCAL_QUEUE_VISIBILITY_SECONDS",
                settings.visibility_timeout_s.to_string(),
            ),
            ("LOCAL_OUTBOX_GRACE_SECONDS", settings.outbox_grace_s.to_string()),
            ("LOCAL_RECONCILE_MINUTES", settings.reconcile_minutes.to_string()),
            (
                "LOCAL_RECONCILE_SETTLE_SECONDS",
                settings.reconcile_settle_s.to_string(),
            ),
            ("LOCAL_ERP_ENDPOINT_URL", peers.erp_endpoint_url.to_owned()),
            ("LOCAL_MIRROR_ENDPOINT_URL", peers.mirror_endpoint_url.to_owned()),
        ];
        Self::start_with(root, &env).await
    }

    /// `scripts/dev` of the checkout at `root` with `env` added (docs/local-stack.md,
    /// "Settings"), its state in `root`'s target/e2e and its output in target/e2e.dev.log.
    pub async fn start_with(root: &Path, env: &[(&str, String)]) -> Result<Self, String> {
        let port = free_port();
        let state = root.join("target/e2e");
        let ready = state.join("ready");
        std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&ready);
        // Both streams to one log, appending: stdout through the pipe, stderr directly.
        let log_path = state.with_extension("dev.log");
        let append = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .map_err(|e| format!("{}: {e}", log_path.display()))
        };
        std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let mut log = tokio::fs::File::from_std(append()?);
        let mut child = Command::new(root.join("scripts/dev"))
            .env("LOCAL_AWS_PORT", port.to_string())
            .env("LOCAL_STATE_DIR", &state)
            .env("DEV_READY_FILE", &ready)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(append()?)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start scripts/dev: {e}"))?;
        let mut output = child.stdout.take().expect("stdout is piped");
        let tee = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut output, &mut log).await;
        });
        let mut stack = Self {
            child,
            tee,
            port,
            state,
        };
        let started = Instant::now();
        while !ready.exists() {
            if let Ok(Some(status)) = stack.child.try_wait() {
                return Err(format!("scripts/dev exited ({status}); see target/e2e.dev.log"));
            }
            if started.elapsed() > Duration::from_secs(1800) {
                stack.stop().await;
                return Err("scripts/dev was not ready within 30 minutes; see target/e2e.dev.log".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(stack)
    }

    /// Stops scripts/dev the way Ctrl-C stops `scripts/dev | tee log`: the reader of its
    /// output goes first, then scripts/dev gets SIGINT; waits for it to clean up.
    pub async fn stop(&mut self) {
        self.tee.abort();
        let _ = (&mut self.tee).await;
        if let Some(pid) = self.child.id() {
            // SIGINT to scripts/dev only: its trap stops the processes it started.
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
