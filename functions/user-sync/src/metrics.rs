//! CloudWatch metrics as Embedded Metric Format (EMF) lines on stdout. Lambda ships stdout
//! to CloudWatch Logs, which extracts the metrics: no `cloudwatch:PutMetricData`
//! permission and no API call on a request's path. The crates that do this
//! (`metrics_cloudwatch_embedded`) bring the `metrics` facade and its global recorder for
//! what is, here, one JSON object per invocation.
//!
//! The format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// EMF's limit on the values one metric carries in one line.
pub const MAX_VALUES_PER_METRIC: usize = 100;

/// The env variable each function reads its namespace from (the CDK app sets it per stage).
pub const NAMESPACE_VARIABLE: &str = "METRICS_NAMESPACE";
/// The namespace when `METRICS_NAMESPACE` is unset (a binary run by hand).
pub const DEFAULT_NAMESPACE: &str = "CrmErp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
    /// A ratio or flag: `ErpCallFailed` is 0 or 1 per call, so its average is a rate.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
            Self::None => "None",
        }
    }
}

/// One EMF document: dimensions, the sets CloudWatch aggregates them by, and metrics each
/// with one or more values.
#[derive(Debug, Clone)]
pub struct MetricLine {
    namespace: String,
    dimensions: Vec<(&'static str, String)>,
    dimension_sets: Vec<Vec<&'static str>>,
    metrics: Vec<(&'static str, Unit, Vec<f64>)>,
}

impl MetricLine {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            dimensions: Vec::new(),
            dimension_sets: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// A dimension's value. Every dimension a set names must have one.
    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    /// A combination of dimensions CloudWatch keeps a metric series for.
    pub fn dimension_set(mut self, names: &[&'static str]) -> Self {
        self.dimension_sets.push(names.to_vec());
        self
    }

    pub fn value(self, name: &'static str, unit: Unit, value: f64) -> Self {
        self.values(name, unit, vec![value])
    }

    /// Several samples of one metric (each counts in its statistics: an average of them,
    /// not of their sum). A metric without samples is left out: EMF has no empty metric.
    pub fn values(mut self, name: &'static str, unit: Unit, values: Vec<f64>) -> Self {
        if !values.is_empty() {
            self.metrics.push((name, unit, values));
        }
        self
    }

    /// The documents to print: one, or more when a metric has over 100 values (EMF's limit).
    /// None when no metric has a value.
    pub fn documents(&self, at: OffsetDateTime) -> Vec<Value> {
        let chunks = self
            .metrics
            .iter()
            .map(|(_, _, values)| values.len().div_ceil(MAX_VALUES_PER_METRIC))
            .max()
            .unwrap_or(0);
        (0..chunks).map(|chunk| self.document(at, chunk)).collect()
    }

    fn document(&self, at: OffsetDateTime, chunk: usize) -> Value {
        let mut doc = Map::new();
        let mut declared = Vec::new();
        for (name, unit, values) in &self.metrics {
            let start = chunk * MAX_VALUES_PER_METRIC;
            let part = &values[start.min(values.len())..(start + MAX_VALUES_PER_METRIC).min(values.len())];
            let value = match part {
                [] => continue,
                [one] => json!(one),
                many => json!(many),
            };
            declared.push(json!({"Name": name, "Unit": unit.as_str()}));
            doc.insert((*name).to_owned(), value);
        }
        for (name, value) in &self.dimensions {
            doc.insert((*name).to_owned(), json!(value));
        }
        doc.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": at.unix_timestamp_nanos() / 1_000_000,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": self.dimension_sets,
                    "Metrics": declared,
                }]
            }),
        );
        Value::Object(doc)
    }

    /// Prints the documents, one line each, on stdout, where Lambda's log capture takes
    /// them (the log subscriber writes its lines there too, whole lines each).
    pub fn emit(&self, at: OffsetDateTime) {
        for doc in self.documents(at) {
            println!("{doc}");
        }
    }
}

/// The namespace from `METRICS_NAMESPACE`, else `CrmErp`.
pub fn namespace_from(lookup: impl Fn(&str) -> Option<String>) -> String {
    lookup(NAMESPACE_VARIABLE)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declares_every_metric_it_carries_and_its_dimensions() {
        let line = MetricLine::new("CrmErp/test")
            .dimension("Service", "crm-api")
            .dimension("Route", "GET /api/crm")
            .dimension_set(&["Service", "Route"])
            .dimension_set(&["Service"])
            .value("Requests", Unit::Count, 1.0)
            .values("Latency", Unit::Milliseconds, vec![]);
        let docs = line.documents(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "CrmErp/test");
        assert_eq!(directive["Dimensions"], json!([["Service", "Route"], ["Service"]]));
        assert_eq!(directive["Metrics"], json!([{"Name": "Requests", "Unit": "Count"}]));
        assert_eq!(doc["Requests"], 1.0);
        assert!(doc.get("Latency").is_none(), "a metric without values is left out");
        assert_eq!(doc["Route"], "GET /api/crm");
        assert_eq!(doc["_aws"]["Timestamp"], 0);
    }

    #[test]
    fn splits_over_a_hundred_values_across_documents() {
        let samples: Vec<f64> = (0..250).map(f64::from).collect();
        let docs = MetricLine::new("N")
            .dimension("Service", "erp-processor")
            .dimension_set(&["Service"])
            .values("ErpCallLatency", Unit::Milliseconds, samples.clone())
            .value("EventsApplied", Unit::Count, 7.0)
            .documents(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(docs.len(), 3);
        let mut seen = Vec::new();
        for doc in &docs {
            let part = doc["ErpCallLatency"].as_array().unwrap();
            assert!(part.len() <= MAX_VALUES_PER_METRIC);
            seen.extend(part.iter().map(|v| v.as_f64().unwrap()));
            assert_eq!(doc["Service"], "erp-processor");
        }
        assert_eq!(seen, samples);
        // The single-valued count is in the first document only, so it is not counted thrice.
        let counted: Vec<&Value> = docs.iter().filter_map(|d| d.get("EventsApplied")).collect();
        assert_eq!(counted, [&json!(7.0)]);
    }

    #[test]
    fn no_values_no_document() {
        let line = MetricLine::new("N").dimension_set(&[]).values("X", Unit::Count, vec![]);
        assert!(line.documents(OffsetDateTime::UNIX_EPOCH).is_empty());
    }

    #[test]
    fn namespace_defaults_when_unset_or_blank() {
        assert_eq!(namespace_from(|_| None), "CrmErp");
        assert_eq!(namespace_from(|_| Some("  ".to_owned())), "CrmErp");
        assert_eq!(namespace_from(|_| Some("CrmErp/prod".to_owned())), "CrmErp/prod");
    }
}
