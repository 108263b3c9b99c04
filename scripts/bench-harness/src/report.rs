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
    need(
        "emulator processing calls".to_owned(),
        r.emulator_raw.process_event_ms.map(|s| s.p50),
    );
    for b in &r.batch {
        need(
            format!("{} 1-record batch at {} ms", b.function, b.erp_latency_ms),
            b.one_record_ms.map(|s| s.p50),
        );
        need(
            format!("{} 100-record batch at {} ms", b.function, b.erp_latency_ms),
            b.hundred_records_ms.map(|s| s.p50),
        );
    }
    need(
        "batches at 100 and 0 ms, and the peer's".to_owned(),
        (r.batch.len() == 3).then_some(1.0),
    );
    let designs = r.cost.as_ref().map_or(&[][..], |c| &c.designs[..]);
    need("cost".to_owned(), (designs.len() == 3).then_some(1.0));
    for d in designs {
        need(format!("{} cost", d.usage.design), Some(d.total_usd));
    }
    need(
        "cost: calls counted".to_owned(),
        r.cost.as_ref().filter(|c| !c.inputs.calls.is_empty()).map(|_| 1.0),
    );
    for a in &r.artifacts {
        need(format!("{} zip", a.function), a.zip_bytes.map(|b| b as f64));
        need(format!("{} binary", a.function), a.binary_bytes.map(|b| b as f64));
    }
    missing
}

/// One Markdown table row of `cells`.
fn table_row(md: &mut String, cells: &[String]) {
    let _ = writeln!(md, "| {} |", cells.join(" | "));
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
        "| batch (bound: records in flight) | 1 record p50 / p99, ms | 100 records p50 / p99, ms | records/s (100) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for b in &r.batch {
        let label = match b.function {
            "python" => format!(
                "python, no ERP call, bound {} (N={}/{})",
                b.bound, p.batch_one_reps, p.batch_hundred_reps
            ),
            function => format!(
                "{function} ERP_LATENCY_MS={}, bound {} (N={}/{})",
                b.erp_latency_ms, b.bound, p.batch_one_reps, p.batch_hundred_reps
            ),
        };
        let rate = b.records_per_second.map_or("–".to_owned(), |v| format!("{v:.0}"));
        table_row(
            &mut md,
            &[
                label,
                pair(b.one_record_ms, |s| s.p99),
                pair(b.hundred_records_ms, |s| s.p99),
                rate,
            ],
        );
    }
    let _ = writeln!(md, "\n| arm64 artifact | zip, MB | binary, MB |");
    let _ = writeln!(md, "|---|---:|---:|");
    for a in &r.artifacts {
        let mb = |b: Option<u64>| b.map_or("–".to_owned(), |b| format!("{:.2}", b as f64 / 1e6));
        let _ = writeln!(md, "| {} | {} | {} |", a.function, mb(a.zip_bytes), mb(a.binary_bytes));
    }
    if let Some(c) = &r.cost {
        let _ = writeln!(md, "\n{}", cost_tables(c));
    }
    if let Some(e) = &r.e2e {
        let _ = writeln!(md, "\n{}", e.table());
    }
    let _ = writeln!(md, "\n| target | measured | limit | holds |");
    let _ = writeln!(md, "|---|---:|---:|:---:|");
    for t in &r.targets {
        let holds = if t.holds { "yes" } else { "**no**" };
        let (measured, limit) = (
            format!("{:.2} {}", t.measured, t.unit),
            format!("{:.2} {}", t.limit, t.unit),
        );
        table_row(&mut md, &[t.name.clone(), measured, limit, holds.to_owned()]);
    }
    md
}

/// Invocations per user read better as a fraction: `0.1` → "1/10".
fn per_user(x: f64) -> String {
    if x >= 1.0 || x <= 0.0 {
        format!("{x}")
    } else {
        format!("1/{:.0}", 1.0 / x)
    }
}

/// `1234567.8` → "1,234,568".
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// A list price as published: at least cents, every digit it has (`$0.625`, `$3.50`).
fn unit_price(x: f64) -> String {
    let digits = format!("{x}");
    match digits.split_once('.') {
        Some((_, fraction)) if fraction.len() >= 2 => format!("${digits}"),
        _ => format!("${x:.2}"),
    }
}

fn usd(x: f64) -> String {
    if x != 0.0 && x.abs() < 0.01 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}

/// The per-user usage, then the priced table of a million users, for each design.
pub fn cost_tables(c: &crate::cost::measured::Cost) -> String {
    let mut md = String::new();
    let i = &c.inputs;
    let designs: Vec<&str> = c.designs.iter().map(|d| d.usage.design).collect();
    let _ = writeln!(md, "| per user synced | {} |", designs.join(" | "));
    let _ = writeln!(md, "|---|{}", "---:|".repeat(designs.len()));
    let mut row = |label: String, cell: &dyn Fn(&crate::cost::Usage) -> String| {
        let cells: Vec<String> = c.designs.iter().map(|d| cell(&d.usage)).collect();
        let _ = writeln!(md, "| {label} | {} |", cells.join(" | "));
    };
    // By name: a design may lack a function (the original had no CRM mirror).
    for f in &c.designs[0].usage.functions {
        row(
            format!("{}: invocations × mean billed ms ({:.0} MB)", f.name, f.memory_mb),
            &|u| match u.functions.iter().find(|g| g.name == f.name) {
                Some(f) => format!("{} × {:.1}", per_user(f.invocations_per_user), f.billed_ms),
                None => "–".to_owned(),
            },
        );
    }
    row("SQS requests".into(), &|u| format!("{:.2}", u.sqs_requests));
    row("DynamoDB write / read units".into(), &|u| {
        format!("{:.2} / {:.2}", u.write_units, u.read_units)
    });
    row("log bytes".into(), &|u| thousands(u.log_bytes));
    row("X-Ray traces".into(), &|u| format!("{:.3}", u.traces));

    let p = &c.prices;
    let _ = writeln!(
        md,
        "\n| {} users, {} {} | unit price | {} |",
        thousands(crate::cost::USERS),
        p.region,
        p.as_of,
        designs.join(" | ")
    );
    let _ = writeln!(md, "|---|---:|{}", "---:|".repeat(designs.len()));
    for line in &c.designs[0].lines {
        let dollars = unit_price(line.price.usd);
        let price = match line.price.per {
            1.0 => format!("{dollars} per {}", line.price.unit),
            1e6 => format!("{dollars} per million {}", line.price.unit),
            per => format!("{dollars} per {} {}", thousands(per), line.price.unit),
        };
        let cells: Vec<String> = c
            .designs
            .iter()
            .map(|d| {
                let Some(l) = d.lines.iter().find(|l| l.item == line.item) else {
                    return "–".to_owned();
                };
                let quantity = if l.quantity >= 1000.0 || l.quantity == 0.0 {
                    thousands(l.quantity)
                } else {
                    format!("{:.2}", l.quantity)
                };
                format!("{quantity}: {}", usd(l.usd))
            })
            .collect();
        let _ = writeln!(md, "| {} | {price} | {} |", line.item, cells.join(" | "));
    }
    let totals: Vec<String> = c.designs.iter().map(|d| format!("**{}**", usd(d.total_usd))).collect();
    let _ = writeln!(md, "| **total** | | {} |", totals.join(" | "));
    let counted: Vec<String> = i
        .calls
        .iter()
        .map(|r| {
            format!(
                "{} {}{} {:.2}",
                r.function,
                r.operation,
                r.table.map_or(String::new(), |t| format!(" {t}")),
                r.per_user
            )
        })
        .collect();
    let _ = writeln!(
        md,
        "\nCalls counted per user ({} users created, {} batches of {}): {}.",
        i.users_posted,
        i.batches,
        i.batch_size,
        counted.join(", ")
    );
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_published() {
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(0.0), "0");
        assert_eq!(unit_price(3.5), "$3.50");
        assert_eq!(unit_price(0.625), "$0.625");
        assert_eq!(unit_price(5.0), "$5.00");
        assert_eq!(unit_price(0.000_013_333_4), "$0.0000133334");
        assert_eq!(usd(0.004), "$0.0040");
        assert_eq!(usd(10.468), "$10.47");
        assert_eq!(per_user(0.1), "1/10");
        assert_eq!(per_user(1.0), "1");
    }
}
