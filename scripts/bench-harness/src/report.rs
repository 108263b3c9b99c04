//! `results.json`, `results.md`, the terminal table, and the check that every figure is
//! there.

use std::fmt::Write as _;
use std::path::Path;

use crate::measure::Results;
use crate::stats::Summary;
use crate::AnyError;

pub fn write(dir: &Path, results: &Results) -> Result<(), AnyError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(results)? + "\n")?;
    std::fs::write(dir.join("results.md"), markdown(results))?;
    Ok(())
}

/// Every figure a run must produce; names the missing ones.
pub fn missing_figures(r: &Results) -> Vec<String> {
    let mut missing = Vec::new();
    let mut need = |name: String, value: Option<f64>| {
        if !value.is_some_and(f64::is_finite) {
            missing.push(name);
        }
    };
    for f in &r.functions {
        need(format!("{} cold init", f.name), f.cold_init_ms.map(|s| s.p50));
        need(
            format!("{} cold first response", f.name),
            f.cold_first_response_ms.map(|s| s.p50),
        );
        need(format!("{} warm", f.name), f.warm_ms.map(|s| s.p50));
        need(format!("{} peak RSS", f.name), f.peak_rss_mb);
        if f.raw_call.is_some() {
            need(format!("{} warm net", f.name), f.warm_net_ms);
        }
    }
    need("emulator GetItem".to_owned(), r.emulator_raw.get_item_ms.map(|s| s.p50));
    need("emulator PutItem".to_owned(), r.emulator_raw.put_item_ms.map(|s| s.p50));
    for b in &r.batch {
        need(
            format!("1-record batch at {} ms", b.erp_latency_ms),
            b.one_record_ms.map(|s| s.p50),
        );
        need(
            format!("100-record batch at {} ms", b.erp_latency_ms),
            b.hundred_records_ms.map(|s| s.p50),
        );
    }
    need(
        "batches at 100 and 0 ms".to_owned(),
        (r.batch.len() == 2).then_some(1.0),
    );
    for a in &r.artifacts {
        need(format!("{} zip", a.function), a.zip_bytes.map(|b| b as f64));
        need(format!("{} binary", a.function), a.binary_bytes.map(|b| b as f64));
    }
    missing
}

fn pair(s: Option<Summary>, hi: fn(&Summary) -> f64) -> String {
    s.map_or("–".to_owned(), |s| format!("{:.2} / {:.2}", s.p50, hi(&s)))
}

pub fn markdown(r: &Results) -> String {
    let mut md = String::new();
    let p = &r.plan;
    let _ = writeln!(
        md,
        "Machine: {} ({} cores); commit {}; {} run.\n",
        r.machine.cpu, r.machine.cores, r.git_commit, r.mode
    );
    let names: Vec<&str> = r.functions.iter().map(|f| f.name).collect();
    let _ = writeln!(md, "| | {} |", names.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(names.len()));
    let mut row = |label: String, cells: Vec<String>| {
        let _ = writeln!(md, "| {label} | {} |", cells.join(" | "));
    };
    row(
        format!("cold init p50 / p90, ms (N={})", p.cold_starts),
        r.functions.iter().map(|f| pair(f.cold_init_ms, |s| s.p90)).collect(),
    );
    row(
        format!("cold first response p50 / p90, ms (N={})", p.cold_starts),
        r.functions
            .iter()
            .map(|f| pair(f.cold_first_response_ms, |s| s.p90))
            .collect(),
    );
    row(
        format!("warm p50 / p99, ms (N={})", p.warm_invocations),
        r.functions.iter().map(|f| pair(f.warm_ms, |s| s.p99)).collect(),
    );
    row(
        "warm p50 − floor − raw emulator call, ms".to_owned(),
        r.functions
            .iter()
            .map(|f| f.warm_net_ms.map_or("–".to_owned(), |v| format!("{v:.2}")))
            .collect(),
    );
    row(
        "peak RSS (VmHWM), MB".to_owned(),
        r.functions
            .iter()
            .map(|f| f.peak_rss_mb.map_or("–".to_owned(), |v| format!("{v:.1}")))
            .collect(),
    );
    row(
        "raw emulator call after each warm invocation p50 / p99, ms".to_owned(),
        r.functions
            .iter()
            .map(|f| match f.raw_call {
                Some(call) => format!("{call} {}", pair(f.raw_call_ms, |s| s.p99)),
                None => "–".to_owned(),
            })
            .collect(),
    );
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "| erp-processor batch (bound = BATCH_CONCURRENCY) | 1 record p50 / p99, ms | 100 records p50 / p99, ms | records/s (100) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for b in &r.batch {
        let _ = writeln!(
            md,
            "| ERP_LATENCY_MS={}, bound {} (N={}/{}) | {} | {} | {} |",
            b.erp_latency_ms,
            b.bound,
            p.batch_one_reps,
            p.batch_hundred_reps,
            pair(b.one_record_ms, |s| s.p99),
            pair(b.hundred_records_ms, |s| s.p99),
            b.records_per_second.map_or("–".to_owned(), |v| format!("{v:.0}"))
        );
    }
    let _ = writeln!(md, "\n| arm64 artifact | zip, MB | binary, MB |");
    let _ = writeln!(md, "|---|---:|---:|");
    for a in &r.artifacts {
        let mb = |b: Option<u64>| b.map_or("–".to_owned(), |b| format!("{:.2}", b as f64 / 1e6));
        let _ = writeln!(md, "| {} | {} | {} |", a.function, mb(a.zip_bytes), mb(a.binary_bytes));
    }
    if let Some(e) = &r.e2e {
        let _ = writeln!(md, "\n{}", e2e_table(e));
    }
    let _ = writeln!(md, "\n| target | measured | limit | holds |");
    let _ = writeln!(md, "|---|---:|---:|:---:|");
    for t in &r.targets {
        let _ = writeln!(
            md,
            "| {} | {:.2} {} | {:.2} {} | {} |",
            t.name,
            t.measured,
            t.unit,
            t.limit,
            t.unit,
            if t.holds { "yes" } else { "**no**" }
        );
    }
    md
}

/// Starts the end-to-end table in results.md (a rerun of `--e2e` replaces what follows it).
pub const E2E_HEADING: &str = "| end to end through the deployed local stack";

pub fn e2e_table(e: &crate::e2e::E2e) -> String {
    let mut md = format!(
        "{E2E_HEADING} | users | users/s | POST answered → record, p50 / p95 / p99, ms |\n|---|---:|---:|---:|\n"
    );
    for l in &e.levels {
        let lag = l.lag_ms.map_or("–".to_owned(), |s| {
            format!("{:.0} / {:.0} / {:.0}", s.p50, s.p95, s.p99)
        });
        let _ = writeln!(
            md,
            "| {} concurrent client(s) | {} | {:.0} | {lag} |",
            l.clients, l.users, l.posts_per_s
        );
    }
    let _ = writeln!(
        md,
        "\nOne look into the table (BatchGetItem of up to 100 event ids) takes p50 {:.1} ms: the lag's resolution.",
        e.poll_ms.map_or(f64::NAN, |s| s.p50)
    );
    md
}
