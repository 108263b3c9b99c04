//! Waits for the emulator scripts/dev started: its health endpoint answers, or the process
//! is gone (then its log says why), or two minutes pass.

use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(120);

pub async fn wait(endpoint: &str, pid: &str) -> Result<(), String> {
    let health = format!("{}/_ministack/health", endpoint.trim_end_matches('/'));
    let client = stack::trust::http_client().build().map_err(|e| e.to_string())?;
    let started = Instant::now();
    loop {
        let answered = client.get(&health).timeout(Duration::from_secs(2)).send().await;
        if answered.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if !alive(pid) {
            return Err(format!("the emulator (pid {pid}) exited before answering {health}"));
        }
        if started.elapsed() > LIMIT {
            return Err(format!("the emulator did not answer {health} within {LIMIT:?}"));
        }
        // It starts in about a second: a short poll is what a start waits for it.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `kill -0`: whether the process exists, on Linux and macOS alike.
fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_gone_process_is_reported_not_waited_for() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        let pid = child.id().to_string();
        let error = wait("http://127.0.0.1:9", &pid).await.unwrap_err();
        assert!(error.contains("exited"), "{error}");
    }
}
