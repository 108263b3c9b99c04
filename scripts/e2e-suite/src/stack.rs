//! Starts `scripts/dev` on free ports, waits until it is ready, and stops it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

pub struct DevStack {
    child: Child,
    pub api: String,
    pub moto: SocketAddr,
    pub state: PathBuf,
}

pub struct Settings {
    pub visibility_timeout_s: u64,
    pub relay_every_s: u64,
    pub outbox_grace_s: u64,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl DevStack {
    /// `function_sqs_endpoint`: where the functions (not the local event source) reach SQS.
    pub async fn start(
        root: &Path,
        moto_port: u16,
        settings: &Settings,
        function_sqs_endpoint: &str,
    ) -> Result<Self, String> {
        let lambda_port = free_port();
        let state = root.join("target/e2e");
        let ready = state.join("ready");
        std::fs::create_dir_all(&state).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::File::create(state.with_extension("dev.log")).map_err(|e| e.to_string())?;
        let child = Command::new(root.join("scripts/dev"))
            .env("MOTO_PORT", moto_port.to_string())
            .env("LAMBDA_PORT", lambda_port.to_string())
            .env("LOCAL_STATE_DIR", &state)
            .env("DEV_READY_FILE", &ready)
            .env("LOCAL_VISIBILITY_TIMEOUT", settings.visibility_timeout_s.to_string())
            .env("LOCAL_RELAY_EVERY", settings.relay_every_s.to_string())
            .env(
                "LOCAL_FUNCTION_ENV",
                format!(
                    "OUTBOX_GRACE_SECONDS={} AWS_ENDPOINT_URL_SQS={function_sqs_endpoint}",
                    settings.outbox_grace_s
                ),
            )
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start scripts/dev: {e}"))?;
        let mut stack = Self {
            child,
            api: format!("http://127.0.0.1:{lambda_port}"),
            moto: SocketAddr::from(([127, 0, 0, 1], moto_port)),
            state,
        };
        let started = Instant::now();
        while !ready.exists() {
            if let Ok(Some(status)) = stack.child.try_wait() {
                return Err(format!("scripts/dev exited ({status}); see target/e2e.dev.log"));
            }
            if started.elapsed() > Duration::from_secs(1200) {
                stack.stop().await;
                return Err("scripts/dev was not ready within 20 minutes; see target/e2e.dev.log".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(stack)
    }

    pub fn local_json(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state.join("local.json")).expect("provision wrote local.json");
        serde_json::from_str(&text).expect("local.json is JSON")
    }

    /// Stops scripts/dev the way Ctrl-C would, and waits for it to clean up.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM to scripts/dev only: its trap stops the processes it started.
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
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
