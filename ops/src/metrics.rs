//! `scripts/metrics`: the dashboard's figures from the functions' own EMF lines in
//! CloudWatch Logs (the local emulator keeps the logs but extracts no metrics; on AWS the
//! dashboard shows the same). One row per metric and dimension values, with the sum,
//! count and percentiles of its samples.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// The functions whose lines count, by the `binary` tag the template gives each.
pub const FUNCTIONS: [&str; 5] = ["crm-api", "erp-processor", "crm-mirror", "outbox-relay", "reconciler"];

/// Samples by (service, metric, the other dimensions' values).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Figures(pub BTreeMap<(String, String, String), Vec<f64>>);

impl Figures {
    /// Reads every EMF document among `lines` (other log lines are skipped). A document's
    /// dimensions are taken from its most specific dimension set, so a request is counted
    /// once, under its route and status class.
    pub fn collect<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut figures = Self::default();
        for line in lines {
            let Some(doc) = emf_document(line) else { continue };
            for directive in doc["_aws"]["CloudWatchMetrics"].as_array().into_iter().flatten() {
                let widest: Vec<&str> = directive["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_array)
                    .max_by_key(|set| set.len())
                    .map(|set| set.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let service = doc["Service"].as_str().unwrap_or("-").to_owned();
                let others: Vec<&str> = widest
                    .iter()
                    .filter(|d| **d != "Service")
                    .filter_map(|d| doc[*d].as_str())
                    .collect();
                for metric in directive["Metrics"].as_array().into_iter().flatten() {
                    let Some(name) = metric["Name"].as_str() else { continue };
                    let samples = match &doc[name] {
                        Value::Array(values) => values.iter().filter_map(Value::as_f64).collect(),
                        value => value.as_f64().into_iter().collect::<Vec<_>>(),
                    };
                    figures
                        .0
                        .entry((service.clone(), name.to_owned(), others.join(" ")))
                        .or_default()
                        .extend(samples);
                }
            }
        }
        figures
    }

    /// The sum of a metric's samples over every dimension value of a service.
    pub fn sum(&self, service: &str, metric: &str) -> f64 {
        self.samples(service, metric).iter().sum()
    }

    /// Every sample of a metric of a service, whatever its other dimensions.
    pub fn samples(&self, service: &str, metric: &str) -> Vec<f64> {
        self.0
            .iter()
            .filter(|((s, m, _), _)| s == service && m == metric)
            .flat_map(|(_, v)| v.iter().copied())
            .collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<14} {:<26} {:<28} {:>8} {:>12} {:>10} {:>10} {:>10}",
            "service", "metric", "dimensions", "samples", "sum", "avg", "p50", "p99"
        );
        for ((service, metric, dims), samples) in &self.0 {
            let sum: f64 = samples.iter().sum();
            let avg = if samples.is_empty() {
                0.0
            } else {
                sum / samples.len() as f64
            };
            let _ = writeln!(
                out,
                "{service:<14} {metric:<26} {:<28} {:>8} {sum:>12.1} {avg:>10.2} {:>10.1} {:>10.1}",
                if dims.is_empty() { "-" } else { dims },
                samples.len(),
                percentile(samples, 0.50),
                percentile(samples, 0.99),
            );
        }
        out
    }
}

/// The nearest-rank percentile; 0 without samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The EMF document a log line carries: the whole line, or its JSON part after Lambda's
/// text prefix.
fn emf_document(line: &str) -> Option<Value> {
    let start = line.find('{')?;
    let doc: Value = serde_json::from_str(line[start..].trim()).ok()?;
    doc.get("_aws")?.get("CloudWatchMetrics")?;
    Some(doc)
}

/// Every log line of `binary`'s deployed function since `since_ms` (ms since the epoch).
pub async fn log_lines(
    lambda: &aws_sdk_lambda::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    binary: &str,
    since_ms: i64,
) -> Result<Vec<String>, String> {
    let function = crate::functions::named(lambda, binary).await?;
    let config = lambda
        .get_function_configuration()
        .function_name(&function)
        .send()
        .await
        .map_err(|e| format!("configuration of {function}: {e}"))?;
    let group = config
        .logging_config()
        .and_then(|l| l.log_group())
        .map_or_else(|| format!("/aws/lambda/{function}"), str::to_owned);
    let mut lines = Vec::new();
    let mut next = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(&group)
            .start_time(since_ms)
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "the log group {group}: {}",
                    aws_sdk_cloudwatchlogs::error::DisplayErrorContext(e)
                )
            })?;
        lines.extend(page.events().iter().filter_map(|e| e.message().map(str::to_owned)));
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    // The emulator writes an invocation's output as one event: one line each.
    Ok(lines.iter().flat_map(|l| l.lines()).map(str::to_owned).collect())
}

/// The figures of every function since `since_ms`.
pub async fn gather(aws: &aws_config::SdkConfig, since_ms: i64) -> Result<Figures, String> {
    let lambda = aws_sdk_lambda::Client::new(aws);
    let logs = aws_sdk_cloudwatchlogs::Client::new(aws);
    let mut lines = Vec::new();
    for binary in FUNCTIONS {
        lines.extend(log_lines(&lambda, &logs, binary, since_ms).await?);
    }
    Ok(Figures::collect(lines.iter().map(String::as_str)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_emf_lines_by_their_widest_dimension_set() {
        let lines = [
            "START RequestId: 1 Version: $LATEST",
            r#"{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Service","Route","StatusClass"],["Service"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]},"Service":"crm-api","Route":"POST /api/crm","StatusClass":"2xx","Requests":1.0,"Latency":12.0}"#,
            r#"{"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Service","Route","StatusClass"],["Service"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}]},"Service":"crm-api","Route":"POST /api/crm","StatusClass":"2xx","Requests":1.0,"Latency":30.0}"#,
            r#"	 INFO {"_aws":{"Timestamp":0,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Service"]],"Metrics":[{"Name":"ErpCallFailed","Unit":"None"}]}]},"Service":"erp-processor","ErpCallFailed":[0.0,1.0,0.0,0.0]}"#,
            r#"{"message": "not a metric", "_aws": 3}"#,
        ];
        let figures = Figures::collect(lines);
        let key = |s: &str, m: &str, d: &str| (s.to_owned(), m.to_owned(), d.to_owned());
        assert_eq!(figures.0[&key("crm-api", "Requests", "POST /api/crm 2xx")], [1.0, 1.0]);
        assert_eq!(figures.0[&key("crm-api", "Latency", "POST /api/crm 2xx")], [12.0, 30.0]);
        assert_eq!(figures.sum("erp-processor", "ErpCallFailed"), 1.0);
        assert_eq!(figures.samples("erp-processor", "ErpCallFailed").len(), 4);
        assert_eq!(figures.0.len(), 3);
        let table = figures.render();
        assert!(table.contains("POST /api/crm 2xx"), "{table}");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 0.5), 50.0);
        assert_eq!(percentile(&samples, 0.99), 99.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
