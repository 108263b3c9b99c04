//! crm-api's CloudWatch metrics: one EMF line per request (`user_sync::metrics`), counted
//! by route and by status class, with its latency. The names are the ones the CDK app's
//! dashboard reads (cdk/lib/metrics.ts).

use std::time::Duration;

use lambda_http::http::{Method, StatusCode};
use user_sync::metrics::{MetricLine, Unit};

pub const SERVICE: (&str, &str) = ("Service", "crm-api");

/// `Requests` and `Latency` by route and status class, by status class, and for the
/// service as a whole (the dashboard's latency percentiles).
pub fn request(
    namespace: &str,
    method: &Method,
    route: Option<&str>,
    status: StatusCode,
    elapsed: Duration,
) -> MetricLine {
    let (dimension, service) = SERVICE;
    let route = route.map_or_else(|| "unmatched".to_owned(), |template| format!("{method} {template}"));
    MetricLine::new(namespace)
        .dimension(dimension, service)
        .dimension("Route", route)
        .dimension("StatusClass", format!("{}xx", status.as_u16() / 100))
        .dimension_set(&[dimension, "Route", "StatusClass"])
        .dimension_set(&[dimension, "StatusClass"])
        .dimension_set(&[dimension])
        .value("Requests", Unit::Count, 1.0)
        .value("Latency", Unit::Milliseconds, elapsed.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    #[test]
    fn names_the_route_template_and_the_status_class() {
        let line = request(
            "CrmErp/test",
            &Method::GET,
            Some("/api/crm/{id}"),
            StatusCode::NOT_FOUND,
            Duration::from_millis(12),
        );
        let doc = &line.documents(OffsetDateTime::UNIX_EPOCH)[0];
        assert_eq!(doc["Route"], "GET /api/crm/{id}");
        assert_eq!(doc["StatusClass"], "4xx");
        assert_eq!(doc["Service"], "crm-api");
        assert_eq!(doc["Requests"], 1.0);
        assert_eq!(doc["Latency"], 12.0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([
                ["Service", "Route", "StatusClass"],
                ["Service", "StatusClass"],
                ["Service"]
            ])
        );
        let unmatched = request(
            "N",
            &Method::POST,
            None,
            StatusCode::INTERNAL_SERVER_ERROR,
            Duration::ZERO,
        );
        let doc = &unmatched.documents(OffsetDateTime::UNIX_EPOCH)[0];
        assert_eq!(doc["Route"], "unmatched");
        assert_eq!(doc["StatusClass"], "5xx");
    }
}
