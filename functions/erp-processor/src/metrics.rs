//! erp-processor's CloudWatch metrics: one EMF line per invocation (`user_sync::metrics`)
//! with what became of its events and every ERP call it made. The names are the ones the
//! CDK app's dashboard and alarms read (cdk/lib/metrics.ts).

use time::OffsetDateTime;
use user_sync::metrics::{MetricLine, Unit};

use crate::erp::CallSample;
use crate::process::Outcome;

/// The dimension that tells the consumers apart (`Downstream::service`).
pub const SERVICE: &str = "Service";
/// One sample per ERP call, 1 when it failed: the average over a period is the error rate,
/// which an alarm reads without metric math.
pub const ERP_CALL_FAILED: &str = "ErpCallFailed";
pub const ERP_CALL_LATENCY: &str = "ErpCallLatency";

/// What became of an invocation's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub applied: u32,
    pub duplicate: u32,
    pub superseded: u32,
    /// Refused for good: invalid, a conflicting id, refused by the ERP.
    pub failed_permanently: u32,
    /// Left for a retry: the ERP or the store unavailable, another delivery in progress.
    pub failed_transiently: u32,
}

impl Tally {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Applied => self.applied += 1,
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::Superseded => self.superseded += 1,
        }
    }

    pub fn count_failure(&mut self, permanent: bool) {
        if permanent {
            self.failed_permanently += 1;
        } else {
            self.failed_transiently += 1;
        }
    }
}

pub fn line(namespace: &str, service: &str, tally: &Tally, calls: &[CallSample]) -> MetricLine {
    MetricLine::new(namespace)
        .dimension(SERVICE, service)
        .dimension_set(&[SERVICE])
        .value("EventsApplied", Unit::Count, tally.applied.into())
        .value("EventsDuplicate", Unit::Count, tally.duplicate.into())
        .value("EventsSuperseded", Unit::Count, tally.superseded.into())
        .value("EventsFailedPermanently", Unit::Count, tally.failed_permanently.into())
        .value("EventsFailedTransiently", Unit::Count, tally.failed_transiently.into())
        .values(
            ERP_CALL_LATENCY,
            Unit::Milliseconds,
            calls.iter().map(|c| c.latency.as_secs_f64() * 1000.0).collect(),
        )
        .values(
            ERP_CALL_FAILED,
            Unit::None,
            calls.iter().map(|c| if c.failed { 1.0 } else { 0.0 }).collect(),
        )
}

/// Prints the invocation's line.
pub fn emit(namespace: &str, service: &str, tally: &Tally, calls: &[CallSample]) {
    line(namespace, service, tally, calls).emit(OffsetDateTime::now_utc());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_outcomes_and_every_call() {
        let mut tally = Tally::default();
        tally.count(Outcome::Applied);
        tally.count(Outcome::Applied);
        tally.count(Outcome::Duplicate);
        tally.count_failure(true);
        tally.count_failure(false);
        let calls = [
            CallSample {
                latency: Duration::from_millis(12),
                failed: false,
            },
            CallSample {
                latency: Duration::from_millis(30),
                failed: true,
            },
        ];
        let docs = line("CrmErp/test", "erp-processor", &tally, &calls).documents(OffsetDateTime::UNIX_EPOCH);
        let doc = &docs[0];
        assert_eq!(doc["EventsApplied"], 2.0);
        assert_eq!(doc["EventsDuplicate"], 1.0);
        assert_eq!(doc["EventsSuperseded"], 0.0);
        assert_eq!(doc["EventsFailedPermanently"], 1.0);
        assert_eq!(doc["EventsFailedTransiently"], 1.0);
        assert_eq!(doc[ERP_CALL_LATENCY], serde_json::json!([12.0, 30.0]));
        assert_eq!(doc[ERP_CALL_FAILED], serde_json::json!([0.0, 1.0]));
        assert_eq!(doc["Service"], "erp-processor");
    }

    #[test]
    fn no_calls_no_call_metrics() {
        let docs = line("N", "crm-mirror", &Tally::default(), &[]).documents(OffsetDateTime::UNIX_EPOCH);
        assert!(docs[0].get(ERP_CALL_FAILED).is_none());
        assert!(docs[0].get(ERP_CALL_LATENCY).is_none());
        assert_eq!(docs[0]["Service"], "crm-mirror");
    }
}
