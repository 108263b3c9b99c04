//! What syncing one million users costs on AWS: the measured figures of a bench run (billed
//! durations, memory size, calls counted per user, log bytes) times the unit prices of
//! `prices`, for this stack and for the original design (sequential batches, 100 ms per
//! record).

pub mod measured;
pub mod prices;

use serde::Serialize;

use prices::Prices;

pub const USERS: f64 = 1e6;

/// Lambda's platform lines per invocation in the JSON log format (`platform.start`,
/// `platform.report` with its X-Ray fields): not written locally, so estimated from their
/// documented shape.
pub const PLATFORM_LOG_BYTES: f64 = 600.0;
/// One access-log line of the stage (rest-api.ts's JSON format: 15 fields, ids and
/// latencies), estimated at typical values.
pub const ACCESS_LOG_BYTES: f64 = 520.0;
/// X-Ray's default sampling rule records the first request of each second and 5 % of the
/// rest: 5 % holds for a sustained sync (above ~20 requests per second); a trickle of a
/// million users over a month would have nearly every request traced (about $5.50).
pub const TRACE_SAMPLING: f64 = 0.05;

/// One function's part of syncing one user.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FunctionUse {
    pub name: &'static str,
    pub invocations_per_user: f64,
    /// Mean billed duration of one invocation: each rounded up to the millisecond.
    pub billed_ms: f64,
    pub memory_mb: f64,
}

/// Everything one user's sync uses, per user.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub design: &'static str,
    pub api_requests: f64,
    pub functions: Vec<FunctionUse>,
    pub sqs_requests: f64,
    pub sns_requests: f64,
    pub write_units: f64,
    pub read_units: f64,
    pub log_bytes: f64,
    pub traces: f64,
}

/// One priced line of the table: the quantity for a million users and what it costs.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub item: String,
    pub quantity: f64,
    pub price: prices::Price,
    pub usd: f64,
}

/// Mean of durations each rounded up to the next whole millisecond, as Lambda bills them.
pub fn billed_ms(samples_ms: &[f64]) -> Option<f64> {
    (!samples_ms.is_empty())
        .then(|| samples_ms.iter().map(|ms| ms.ceil().max(1.0)).sum::<f64>() / samples_ms.len() as f64)
}

/// The priced lines of `USERS` users' syncs.
pub fn lines(usage: &Usage, prices: &Prices) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut add = |item: String, per_user: f64, price: prices::Price| {
        let quantity = per_user * USERS;
        lines.push(Line {
            item,
            quantity,
            price,
            usd: price.of(quantity),
        });
    };
    add(
        "API Gateway requests".into(),
        usage.api_requests,
        prices.rest_api_requests,
    );
    for f in &usage.functions {
        add(
            format!("Lambda {} duration", f.name),
            f.invocations_per_user * f.billed_ms / 1000.0 * f.memory_mb / 1024.0,
            prices.lambda_duration,
        );
    }
    let invocations: f64 = usage.functions.iter().map(|f| f.invocations_per_user).sum();
    add("Lambda requests".into(), invocations, prices.lambda_requests);
    add("SQS requests".into(), usage.sqs_requests, prices.sqs_requests);
    add("SNS publishes".into(), usage.sns_requests, prices.sns_requests);
    add("DynamoDB writes".into(), usage.write_units, prices.dynamodb_writes);
    add("DynamoDB reads".into(), usage.read_units, prices.dynamodb_reads);
    add("CloudWatch Logs".into(), usage.log_bytes / 1e9, prices.logs_ingested);
    add("X-Ray traces".into(), usage.traces, prices.xray_traces);
    lines
}

pub fn total(lines: &[Line]) -> f64 {
    lines.iter().map(|l| l.usd).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        Usage {
            design: "test",
            api_requests: 1.0,
            functions: vec![
                FunctionUse {
                    name: "api",
                    invocations_per_user: 1.0,
                    billed_ms: 10.0,
                    memory_mb: 1024.0,
                },
                FunctionUse {
                    name: "processor",
                    invocations_per_user: 0.1,
                    billed_ms: 1000.0,
                    memory_mb: 512.0,
                },
            ],
            sqs_requests: 1.2,
            sns_requests: 1.0,
            write_units: 4.0,
            read_units: 0.0,
            log_bytes: 2000.0,
            traces: 0.1,
        }
    }

    fn usd(lines: &[Line], item: &str) -> f64 {
        lines.iter().find(|l| l.item.starts_with(item)).map(|l| l.usd).unwrap()
    }

    #[test]
    fn prices_a_million_users() {
        let lines = lines(&usage(), &prices::US_EAST_1);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(usd(&lines, "API Gateway"), 3.50));
        // 1M × 10 ms × 1 GB = 10,000 GB-s; 100k × 1 s × 0.5 GB = 50,000 GB-s.
        assert!(close(usd(&lines, "Lambda api"), 10_000.0 * 0.000_013_333_4));
        assert!(close(usd(&lines, "Lambda processor"), 50_000.0 * 0.000_013_333_4));
        assert!(close(usd(&lines, "Lambda requests"), 1.1 * 0.20));
        assert!(close(usd(&lines, "SQS"), 1.2 * 0.40));
        assert!(close(usd(&lines, "DynamoDB writes"), 4.0 * 0.625));
        assert!(close(usd(&lines, "DynamoDB reads"), 0.0));
        assert!(close(usd(&lines, "CloudWatch"), 2.0 * 0.50));
        assert!(close(usd(&lines, "X-Ray"), 0.1 * 5.0));
        assert!(close(total(&lines), lines.iter().map(|l| l.usd).sum()));
    }

    #[test]
    fn bills_each_invocation_rounded_up_to_the_millisecond() {
        assert_eq!(billed_ms(&[0.2, 1.0, 1.01, 2.5]), Some((1.0 + 1.0 + 2.0 + 3.0) / 4.0));
        assert_eq!(billed_ms(&[]), None);
    }
}
