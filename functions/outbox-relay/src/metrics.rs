//! The relay's CloudWatch metrics, as an Embedded Metric Format (EMF) line on stdout:
//! Lambda ships stdout to CloudWatch Logs, which extracts the metrics, so the function
//! needs no `cloudwatch:PutMetricData` permission and no API call on its path.

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::RelayReport;

pub const OLDEST_PENDING_AGE: &str = "OldestPendingEventAgeSeconds";
pub const SERVICE_DIMENSION: (&str, &str) = ("Service", "outbox-relay");

pub fn emf(namespace: &str, report: &RelayReport, at: OffsetDateTime) -> Value {
    let (dimension, service) = SERVICE_DIMENSION;
    json!({
        "_aws": {
            "Timestamp": at.unix_timestamp_nanos() / 1_000_000,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[dimension]],
                "Metrics": [
                    {"Name": OLDEST_PENDING_AGE, "Unit": "Seconds"},
                    {"Name": "EventsRelayed", "Unit": "Count"},
                    {"Name": "EventsFailed", "Unit": "Count"}
                ]
            }]
        },
        dimension: service,
        OLDEST_PENDING_AGE: report.oldest_pending_age_seconds,
        "EventsRelayed": report.sent,
        "EventsFailed": report.failed
    })
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
        let doc = emf("CrmErp/test", &report, OffsetDateTime::UNIX_EPOCH);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "CrmErp/test");
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(doc[metric["Name"].as_str().unwrap()].is_number(), "{metric}");
        }
        assert_eq!(doc["Service"], "outbox-relay");
        assert_eq!(doc[OLDEST_PENDING_AGE], 42.5);
        assert_eq!(doc["_aws"]["Timestamp"], 0);
    }
}
