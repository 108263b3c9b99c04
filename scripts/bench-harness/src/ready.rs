//! `scripts/bench --ready`: how long a newcomer waits, from clean clones of HEAD on this
//! machine. `scripts/dev` until it is ready with nothing of the project built (the package
//! caches as they are, as on a developer's machine after any other Rust project), then a
//! warm start of the same clone; then `scripts/test` in a second clean clone. Written to
//! target/bench/ready.md; the clones are removed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use stack::e2e::DevStack;
use tokio::process::Command;

use crate::progress::Progress;
use crate::AnyError;

/// The budgets of issue 28, in docs/local-stack.md ("Time to ready").
const COLD_DEV_TARGET: Duration = Duration::from_secs(300);
const WARM_DEV_TARGET: Duration = Duration::from_secs(20);
const TEST_TARGET: Duration = Duration::from_secs(30 * 60);

struct Ready {
    commit: String,
    cold_dev: Duration,
    warm_dev: Duration,
    test: Duration,
    test_passed: bool,
}

pub async fn run(root: &Path) -> Result<(), AnyError> {
    let commit = git(root, &["rev-parse", "--short", "HEAD"]).await?;
    if !git(root, &["status", "--porcelain", "--untracked-files=no"])
        .await?
        .is_empty()
    {
        eprintln!("bench: the working tree has uncommitted changes; the clones measure {commit} without them");
    }
    let work = root.join("target/ready");
    let clone = work.join("clone");
    let mut progress = Progress::new(3);

    progress.step(&format!("a clean clone of {commit}: scripts/dev until ready, cold"));
    fresh_clone(root, &clone).await?;
    // As on a fresh machine: none of this checkout's tools (its .venv) on the clones' PATH.
    let path = path_without(&std::env::var_os("PATH").unwrap_or_default(), root);
    let cold_dev = time_dev(&clone, &path).await?;
    progress.done(&format!("ready after {:.1} s", cold_dev.as_secs_f64()));

    progress.step("the same clone: scripts/dev until ready, warm");
    let warm_dev = time_dev(&clone, &path).await?;
    progress.done(&format!("ready after {:.1} s", warm_dev.as_secs_f64()));

    progress.step(&format!(
        "another clean clone of {commit}: scripts/test (half an hour or more)"
    ));
    fresh_clone(root, &clone).await?;
    let log = work.join("test.log");
    let (test, test_passed) = time_test(&clone, &path, &log).await?;
    progress.done(&format!(
        "{} after {} s; its output: {}",
        if test_passed { "passed" } else { "FAILED" },
        test.as_secs(),
        log.display()
    ));
    remove(&clone)?;

    let ready = Ready {
        commit,
        cold_dev,
        warm_dev,
        test,
        test_passed,
    };
    let table = ready.markdown();
    let out = root.join("target/bench/ready.md");
    std::fs::create_dir_all(out.parent().expect("target/bench"))?;
    std::fs::write(&out, &table)?;
    println!("\n{table}\nresults: {}", out.display());
    if !test_passed {
        return Err("scripts/test failed in the clean clone".into());
    }
    Ok(())
}

impl Ready {
    fn markdown(&self) -> String {
        let row = |what: &str, took: Duration, target: Duration, note: &str| {
            let met = if took <= target && note.is_empty() { "yes" } else { "no" };
            format!(
                "| {what} | {:.1} s{note} | {} s | {met} |\n",
                took.as_secs_f64(),
                target.as_secs()
            )
        };
        let test_note = if self.test_passed { "" } else { " (failed)" };
        format!(
            "| {} on this machine | measured | target | met |\n|---|---:|---:|:---:|\n{}{}{}",
            self.commit,
            row("`scripts/dev` to ready, cold", self.cold_dev, COLD_DEV_TARGET, ""),
            row("`scripts/dev` to ready, warm", self.warm_dev, WARM_DEV_TARGET, ""),
            row("`scripts/test`, clean clone", self.test, TEST_TARGET, test_note),
        )
    }
}

/// From `scripts/dev`'s start to its ready file; then stops it as Ctrl-C does.
async fn time_dev(clone: &Path, path: &str) -> Result<Duration, AnyError> {
    let started = Instant::now();
    let mut dev = DevStack::start_with(clone, &[("PATH", path.to_owned())])
        .await
        .map_err(|e| format!("{e} (in {})", clone.display()))?;
    let took = started.elapsed();
    dev.stop().await;
    Ok(took)
}

/// `scripts/test` as CI runs it, its output to `log`; the step it is at, once a minute.
async fn time_test(clone: &Path, path: &str, log: &Path) -> Result<(Duration, bool), AnyError> {
    let out = std::fs::File::create(log)?;
    let started = Instant::now();
    let mut child = Command::new(clone.join("scripts/test"))
        .current_dir(clone)
        .env("CI", "true")
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .kill_on_drop(true)
        .spawn()?;
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
            Ok(status) => break status?,
            Err(_) => eprintln!(
                "    {} min: {}",
                started.elapsed().as_secs() / 60,
                current_step(log).unwrap_or_default()
            ),
        }
    };
    Ok((started.elapsed(), status.success()))
}

/// The last `==> step` line scripts/test printed.
fn current_step(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains("==> "))?;
    Some(line.split("==> ").nth(1)?.trim_end_matches("\u{1b}[0m").to_owned())
}

/// `path` (a PATH) without the folders inside `root`.
fn path_without(path: &std::ffi::OsStr, root: &Path) -> String {
    let kept: Vec<PathBuf> = std::env::split_paths(path).filter(|p| !p.starts_with(root)).collect();
    std::env::join_paths(kept).map_or_else(
        |_| path.to_string_lossy().into_owned(),
        |p| p.to_string_lossy().into_owned(),
    )
}

async fn fresh_clone(root: &Path, clone: &Path) -> Result<(), AnyError> {
    remove(clone)?;
    let parent: PathBuf = clone.parent().expect("the clone's folder").to_owned();
    std::fs::create_dir_all(&parent)?;
    git(root, &["clone", "--quiet", ".", &clone.to_string_lossy()]).await?;
    Ok(())
}

fn remove(dir: &Path) -> Result<(), AnyError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", dir.display()).into()),
        _ => Ok(()),
    }
}

async fn git(root: &Path, args: &[&str]) -> Result<String, AnyError> {
    let out = Command::new("git").arg("-C").arg(root).args(args).output().await?;
    if !out.status.success() {
        return Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_figure_against_its_budget() {
        let ready = Ready {
            commit: "abc1234".to_owned(),
            cold_dev: Duration::from_secs(298),
            warm_dev: Duration::from_millis(20_700),
            test: Duration::from_secs(1800),
            test_passed: false,
        };
        let table = ready.markdown();
        assert!(table.starts_with("| abc1234 on this machine |"), "{table}");
        assert!(
            table.contains("| `scripts/dev` to ready, cold | 298.0 s | 300 s | yes |"),
            "{table}"
        );
        assert!(
            table.contains("| `scripts/dev` to ready, warm | 20.7 s | 20 s | no |"),
            "{table}"
        );
        // A failed run's time is no measure of the budget.
        assert!(
            table.contains("| `scripts/test`, clean clone | 1800.0 s (failed) | 1800 s | no |"),
            "{table}"
        );
    }

    #[test]
    fn the_clones_path_leaves_out_this_checkouts_tools() {
        let path = std::ffi::OsString::from("/repo/.venv/bin:/usr/bin:/repo-other/bin:/repo/x:/bin");
        assert_eq!(path_without(&path, Path::new("/repo")), "/usr/bin:/repo-other/bin:/bin");
    }
}
