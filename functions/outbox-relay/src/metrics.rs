//! The relay's CloudWatch metrics, one EMF line per run (`user_sync::metrics`).

use time::OffsetDateTime;
use user_sync::metrics::{MetricLine, Unit};

use crate::RelayReport;

pub const OLDEST_PENDING_AGE: &str = "OldestPendingEventAgeSeconds";
pub const SERVICE_DIMENSION: (&str, &str) = ("Service", "outbox-relay");

pub fn emf(namespace: &str, report: &RelayReport) -> MetricLine {
    let (dimension, service) = SERVICE_DIMENSION;
    MetricLine::new(namespace)
        .dimension(dimension, service)
        .dimension_set(&[dimension])
        .value(OLDEST_PENDING_AGE, Unit::Seconds, report.oldest_pending_age_seconds)
        .value("EventsRelayed", Unit::Count, report.sent as f64)
        .value("EventsFailed", Unit::Count, report.failed as f64)
}

/// Prints the run's line on stdout.
pub fn emit(namespace: &str, report: &RelayReport, at: OffsetDateTime) {
    emf(namespace, report).emit(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_metric_and_dimension_has_a_value() {
        let report = RelayReport {
            sent: 3,
            failed: 1,
            oldest_pending_age_seconds: 42.5,
            ..Default::default()
        };
        let docs = emf("CrmErp/test", &report).documents(OffsetDateTime::UNIX_EPOCH);
        let doc = &docs[0];
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "CrmErp/test");
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, [OLDEST_PENDING_AGE, "EventsRelayed", "EventsFailed"]);
        assert_eq!(doc["Service"], "outbox-relay");
        assert_eq!(doc[OLDEST_PENDING_AGE], 42.5);
        assert_eq!(doc["EventsRelayed"], 3.0);
    }
}
