//! The run's CloudWatch metrics, one EMF line per run (`user_sync::metrics`).

use time::OffsetDateTime;
use user_sync::domain::Drift;
use user_sync::metrics::{MetricLine, Unit};

use crate::DriftReport;

/// Settled drifted users of every verdict: the alarm's metric.
pub const DRIFTED_USERS: &str = "DriftedUsers";
pub const SERVICE_DIMENSION: (&str, &str) = ("Service", "reconciler");
/// Whose view a run's line compares (`erp`, `crm-mirror`). The line is also kept under
/// `Service` alone, where the alarm reads the highest count of any consumer.
pub const CONSUMER_DIMENSION: &str = "Consumer";

/// The metric of one verdict's count.
pub fn verdict_metric(drift: Drift) -> &'static str {
    match drift {
        Drift::Missing => "DriftMissing",
        Drift::Behind => "DriftBehind",
        Drift::DeletedUpstream => "DriftDeletedUpstream",
        Drift::Ahead => "DriftAhead",
        Drift::Failed => "DriftFailed",
    }
}

pub fn emf(namespace: &str, consumer: &str, report: &DriftReport) -> MetricLine {
    let (dimension, service) = SERVICE_DIMENSION;
    let mut line = MetricLine::new(namespace)
        .dimension(dimension, service)
        .dimension(CONSUMER_DIMENSION, consumer)
        .dimension_set(&[dimension])
        .dimension_set(&[dimension, CONSUMER_DIMENSION])
        .value("UsersCompared", Unit::Count, report.users as f64)
        .value(DRIFTED_USERS, Unit::Count, report.drifted() as f64)
        .value("DriftRepairable", Unit::Count, report.repairable as f64)
        .value("DriftInFlight", Unit::Count, report.in_flight as f64);
    for drift in Drift::ALL {
        line = line.value(verdict_metric(drift), Unit::Count, report.count(drift) as f64);
    }
    line
}

/// Prints the run's line on stdout.
pub fn emit(namespace: &str, consumer: &str, report: &DriftReport, at: OffsetDateTime) {
    emf(namespace, consumer, report).emit(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_has_its_metric_and_the_total_is_their_sum() {
        let report = DriftReport {
            users: 10,
            settled: [("missing", 2), ("ahead", 1)].into_iter().collect(),
            repairable: 2,
            in_flight: 3,
            ..DriftReport::default()
        };
        let docs = emf("CrmErp/test", "crm-mirror", &report).documents(OffsetDateTime::UNIX_EPOCH);
        let doc = &docs[0];
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "CrmErp/test");
        assert_eq!(doc["Service"], "reconciler");
        assert_eq!(doc["Consumer"], "crm-mirror");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Service"], ["Service", "Consumer"]])
        );
        assert_eq!(doc[DRIFTED_USERS], 3.0);
        assert_eq!(doc["DriftMissing"], 2.0);
        assert_eq!(doc["DriftAhead"], 1.0);
        assert_eq!(doc["DriftBehind"], 0.0);
        assert_eq!(doc["DriftRepairable"], 2.0);
        assert_eq!(doc["DriftInFlight"], 3.0);
        let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 4 + Drift::ALL.len(), "{names:?}");
    }
}
