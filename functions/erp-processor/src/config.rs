//! What a consumer (`erp-processor`, `crm-mirror`) reads from its environment at cold
//! start: the variables of its `Downstream`, and the ones every consumer shares.

use std::time::Duration;

use crate::downstream::{Downstream, Vars, ERP};

use url::Url;
use user_sync::config::{env_lookup, parsed_or, required, ConfigError};

/// The ERP adapter and its settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErpConnector {
    /// The original's simulation. `ERP_LATENCY_MS` (default 0): its latency per event, for
    /// benchmarks only (the original slept 100 ms per event).
    Simulated { latency: Duration },
    /// `ERP_ENDPOINT_URL`: https, or http to a loopback address only (a local fake ERP).
    Http {
        endpoint: Url,
        /// `ERP_CREDENTIALS_SECRET_ARN` (required with an endpoint): the bearer token's secret.
        credentials_secret_arn: String,
        /// `ERP_CALL_TIMEOUT_MS` (default 5000, at least 1): one attempt's timeout.
        call_timeout: Duration,
        /// `ERP_MAX_ATTEMPTS` (default 3, 1–10): attempts per delivery.
        max_attempts: u32,
    },
}

impl ErpConnector {
    pub const DEFAULT_CALL_TIMEOUT_MS: u64 = 5000;
    pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

    fn from_lookup(vars: &Vars, lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let Some(raw) = lookup(vars.endpoint).filter(|v| !v.trim().is_empty()) else {
            return Ok(Self::Simulated {
                latency: Duration::from_millis(parsed_or(lookup, vars.latency, 0u64)?),
            });
        };
        let invalid = |name: &'static str, reason: &str| ConfigError::Invalid {
            name,
            reason: reason.to_owned(),
        };
        let endpoint = Url::parse(raw.trim()).map_err(|e| invalid(vars.endpoint, &e.to_string()))?;
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            return Err(invalid(
                vars.endpoint,
                &format!(
                    "must not hold credentials (the token is in {}'s secret)",
                    vars.credentials
                ),
            ));
        }
        if !endpoint_allowed(&endpoint) {
            return Err(invalid(
                vars.endpoint,
                "must be https (http only to a loopback address)",
            ));
        }
        let call_timeout: u64 = parsed_or(lookup, vars.call_timeout, Self::DEFAULT_CALL_TIMEOUT_MS)?;
        if call_timeout == 0 {
            return Err(invalid(vars.call_timeout, "must be at least 1"));
        }
        let max_attempts: u32 = parsed_or(lookup, vars.max_attempts, Self::DEFAULT_MAX_ATTEMPTS)?;
        if !(1..=10).contains(&max_attempts) {
            return Err(invalid(vars.max_attempts, "must be between 1 and 10"));
        }
        Ok(Self::Http {
            endpoint,
            credentials_secret_arn: required(lookup, vars.credentials)?,
            call_timeout: Duration::from_millis(call_timeout),
            max_attempts,
        })
    }
}

/// https anywhere; http only where nothing crosses a network (a fake ERP on this host).
pub fn endpoint_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

/// What a consumer needs. The variable names are the ERP's (`downstream::ERP`); the CRM
/// mirror's are `downstream::CRM_MIRROR`'s (`MIRROR_…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErpProcessorConfig {
    /// The system the events go to.
    pub downstream: &'static Downstream,
    /// `ERP_PROCESSED_TABLE_NAME` (required): the `ErpProcessedUsers` table.
    pub processed_table: String,
    /// `ERP_EMPLOYEES_TABLE_NAME` (required): the `ErpEmployees` table, the ERP's view of
    /// each user.
    pub employees_table: String,
    /// `ERP_SYSTEM_NAME` (default `OracleFusion`; the mirror's `Salesforce`): recorded as
    /// each event's `ErpSystem`.
    pub erp_system: String,
    /// `BATCH_CONCURRENCY` (default 10, 1–100): how many records of one SQS batch are in
    /// flight at once. Bounds the DynamoDB writes a batch bursts into the table.
    pub batch_concurrency: usize,
    /// Which ERP the events go to: `ERP_ENDPOINT_URL` and what goes with it, else the
    /// simulated one.
    pub erp: ErpConnector,
    /// `METRICS_NAMESPACE` (default `CrmErp`): the CloudWatch namespace of its metrics.
    pub metrics_namespace: String,
    /// `CLAIM_TIMEOUT_SECONDS` (default 60, at least 1): how long a delivery's lease on an
    /// event's user holds before another delivery may take it over. Longer than the
    /// function's timeout, so only a dead invocation's lease expires (the CDK app sets it so).
    pub claim_timeout: std::time::Duration,
    /// `MAX_RECEIVE_COUNT` (default 5, at least 1): the events queue's redrive policy, so a
    /// record failing on that receive is known to be bound for the dead-letter queue and
    /// its user's sync status says `failed`.
    pub max_receive_count: u32,
    /// `EVENTS_QUEUE_URL` (optional; the CDK app sets it): where a record whose user another
    /// delivery holds, or whose invocation had no time left for its ERP call, is sent again,
    /// delayed (`deferral`). Unset, such a record fails and SQS retries it after the
    /// visibility timeout.
    pub events_queue_url: Option<String>,
}

impl ErpProcessorConfig {
    pub const DEFAULT_BATCH_CONCURRENCY: usize = 10;
    pub const DEFAULT_CLAIM_TIMEOUT_SECONDS: u64 = 60;
    pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;
    pub const BATCH_CONCURRENCY_RANGE: std::ops::RangeInclusive<usize> = 1..=100;

    pub fn from_env(downstream: &'static Downstream) -> Result<Self, ConfigError> {
        Self::for_downstream(downstream, env_lookup)
    }

    /// The ERP's configuration.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::for_downstream(&ERP, lookup)
    }

    pub fn for_downstream(
        downstream: &'static Downstream,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let vars = &downstream.vars;
        let processed_table = required(&lookup, vars.processed_table)?;
        let employees_table = required(&lookup, vars.view_table)?;
        let claim_timeout: u64 = parsed_or(&lookup, "CLAIM_TIMEOUT_SECONDS", Self::DEFAULT_CLAIM_TIMEOUT_SECONDS)?;
        if claim_timeout == 0 {
            return Err(ConfigError::Invalid {
                name: "CLAIM_TIMEOUT_SECONDS",
                reason: "must be at least 1".to_owned(),
            });
        }
        let batch_concurrency = parsed_or(&lookup, "BATCH_CONCURRENCY", Self::DEFAULT_BATCH_CONCURRENCY)?;
        if !Self::BATCH_CONCURRENCY_RANGE.contains(&batch_concurrency) {
            return Err(ConfigError::Invalid {
                name: "BATCH_CONCURRENCY",
                reason: format!(
                    "must be between {} and {}",
                    Self::BATCH_CONCURRENCY_RANGE.start(),
                    Self::BATCH_CONCURRENCY_RANGE.end()
                ),
            });
        }
        Ok(Self {
            downstream,
            processed_table,
            employees_table,
            erp_system: lookup(vars.system)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| downstream.default_system.to_owned()),
            batch_concurrency,
            erp: ErpConnector::from_lookup(vars, &lookup)?,
            metrics_namespace: user_sync::metrics::namespace_from(&lookup),
            claim_timeout: std::time::Duration::from_secs(claim_timeout),
            max_receive_count: parsed_or(&lookup, "MAX_RECEIVE_COUNT", Self::DEFAULT_MAX_RECEIVE_COUNT)?.max(1),
            events_queue_url: lookup("EVENTS_QUEUE_URL")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downstream::CRM_MIRROR;
    use std::collections::HashMap;

    #[test]
    fn erp_processor_defaults() {
        let vars = HashMap::from([
            ("ERP_PROCESSED_TABLE_NAME", "ErpProcessedUsers"),
            ("ERP_EMPLOYEES_TABLE_NAME", "ErpEmployees"),
        ]);
        let config = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            config,
            ErpProcessorConfig {
                downstream: &ERP,
                processed_table: "ErpProcessedUsers".to_owned(),
                employees_table: "ErpEmployees".to_owned(),
                erp_system: "OracleFusion".to_owned(),
                batch_concurrency: 10,
                erp: ErpConnector::Simulated {
                    latency: Duration::ZERO
                },
                metrics_namespace: "CrmErp".to_owned(),
                claim_timeout: std::time::Duration::from_secs(60),
                max_receive_count: 5,
                events_queue_url: None,
            }
        );
    }

    #[test]
    fn erp_processor_reads_every_variable() {
        let vars = HashMap::from([
            ("ERP_PROCESSED_TABLE_NAME", "T"),
            ("ERP_EMPLOYEES_TABLE_NAME", "E"),
            ("ERP_SYSTEM_NAME", " PeopleSoft "),
            ("BATCH_CONCURRENCY", "100"),
            ("ERP_LATENCY_MS", "100"),
            ("CLAIM_TIMEOUT_SECONDS", "35"),
            ("MAX_RECEIVE_COUNT", "3"),
            (
                "EVENTS_QUEUE_URL",
                "https://sqs.eu-west-1.amazonaws.com/123456789012/events",
            ),
        ]);
        let config = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.erp_system, "PeopleSoft");
        assert_eq!(config.batch_concurrency, 100);
        assert_eq!(
            config.erp,
            ErpConnector::Simulated {
                latency: Duration::from_millis(100)
            }
        );
        assert_eq!(config.claim_timeout, std::time::Duration::from_secs(35));
        assert_eq!(config.max_receive_count, 3);
    }

    #[test]
    fn erp_processor_rejects_bad_values() {
        for (name, value, expected) in [
            (
                "ERP_PROCESSED_TABLE_NAME",
                "",
                ConfigError::Missing("ERP_PROCESSED_TABLE_NAME"),
            ),
            (
                "ERP_EMPLOYEES_TABLE_NAME",
                "",
                ConfigError::Missing("ERP_EMPLOYEES_TABLE_NAME"),
            ),
            (
                "BATCH_CONCURRENCY",
                "0",
                invalid("BATCH_CONCURRENCY", "must be between 1 and 100"),
            ),
            (
                "BATCH_CONCURRENCY",
                "101",
                invalid("BATCH_CONCURRENCY", "must be between 1 and 100"),
            ),
            (
                "BATCH_CONCURRENCY",
                "-1",
                invalid("BATCH_CONCURRENCY", "invalid digit found in string"),
            ),
            (
                "ERP_LATENCY_MS",
                "soon",
                invalid("ERP_LATENCY_MS", "invalid digit found in string"),
            ),
        ] {
            let mut vars = HashMap::from([("ERP_PROCESSED_TABLE_NAME", "T"), ("ERP_EMPLOYEES_TABLE_NAME", "E")]);
            vars.insert(name, value);
            let result = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string()));
            assert_eq!(result, Err(expected), "{name}={value}");
        }
    }

    #[test]
    fn an_endpoint_brings_the_http_connector() {
        let vars = HashMap::from([
            ("ERP_PROCESSED_TABLE_NAME", "T"),
            ("ERP_EMPLOYEES_TABLE_NAME", "E"),
            ("ERP_ENDPOINT_URL", "https://erp.example.com/api/"),
            (
                "ERP_CREDENTIALS_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:erp",
            ),
            ("ERP_LATENCY_MS", "100"),
            ("ERP_MAX_ATTEMPTS", "4"),
        ]);
        let config = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            config.erp,
            ErpConnector::Http {
                endpoint: Url::parse("https://erp.example.com/api/").unwrap(),
                credentials_secret_arn: "arn:aws:secretsmanager:us-east-1:1:secret:erp".to_owned(),
                call_timeout: Duration::from_millis(5000),
                max_attempts: 4,
            }
        );
    }

    #[test]
    fn plain_http_only_to_this_host_and_never_without_the_secret() {
        for (url, allowed) in [
            ("http://127.0.0.1:8080", true),
            ("http://localhost:8080/erp", true),
            ("http://[::1]:8080", true),
            ("http://erp.example.com", false),
            ("http://10.0.0.1", false),
            ("ftp://127.0.0.1", false),
        ] {
            assert_eq!(endpoint_allowed(&Url::parse(url).unwrap()), allowed, "{url}");
        }
        let lookup = |extra: &'static [(&'static str, &'static str)]| {
            let mut vars = HashMap::from([("ERP_PROCESSED_TABLE_NAME", "T"), ("ERP_EMPLOYEES_TABLE_NAME", "E")]);
            vars.extend(extra.iter().copied());
            ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string()))
        };
        assert_eq!(
            lookup(&[("ERP_ENDPOINT_URL", "http://erp.example.com")]),
            Err(invalid(
                "ERP_ENDPOINT_URL",
                "must be https (http only to a loopback address)"
            ))
        );
        assert_eq!(
            lookup(&[("ERP_ENDPOINT_URL", "https://erp.example.com")]),
            Err(ConfigError::Missing("ERP_CREDENTIALS_SECRET_ARN"))
        );
        assert_eq!(
            lookup(&[
                ("ERP_ENDPOINT_URL", "https://user:pw@erp.example.com"),
                ("ERP_CREDENTIALS_SECRET_ARN", "a")
            ]),
            Err(invalid(
                "ERP_ENDPOINT_URL",
                "must not hold credentials (the token is in ERP_CREDENTIALS_SECRET_ARN's secret)"
            ))
        );
        assert_eq!(
            lookup(&[
                ("ERP_ENDPOINT_URL", "https://e"),
                ("ERP_CREDENTIALS_SECRET_ARN", "a"),
                ("ERP_MAX_ATTEMPTS", "0")
            ]),
            Err(invalid("ERP_MAX_ATTEMPTS", "must be between 1 and 10"))
        );
        assert_eq!(
            lookup(&[
                ("ERP_ENDPOINT_URL", "https://e"),
                ("ERP_CREDENTIALS_SECRET_ARN", "a"),
                ("ERP_CALL_TIMEOUT_MS", "0")
            ]),
            Err(invalid("ERP_CALL_TIMEOUT_MS", "must be at least 1"))
        );
    }

    #[test]
    fn the_mirror_reads_its_own_variables() {
        let vars = HashMap::from([
            ("MIRROR_PROCESSED_TABLE_NAME", "MirrorProcessed"),
            ("MIRROR_CONTACTS_TABLE_NAME", "MirrorContacts"),
            // The ERP's, set in the same environment by mistake: never read by the mirror.
            ("ERP_ENDPOINT_URL", "https://erp.example.com"),
            ("MIRROR_ENDPOINT_URL", "https://crm.example.com/services/data/v60.0"),
            (
                "MIRROR_CREDENTIALS_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:crm",
            ),
            ("MIRROR_MAX_ATTEMPTS", "2"),
        ]);
        let config = ErpProcessorConfig::for_downstream(&CRM_MIRROR, |k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.downstream, &CRM_MIRROR);
        assert_eq!(config.processed_table, "MirrorProcessed");
        assert_eq!(config.employees_table, "MirrorContacts");
        assert_eq!(config.erp_system, "Salesforce");
        assert_eq!(
            config.erp,
            ErpConnector::Http {
                endpoint: Url::parse("https://crm.example.com/services/data/v60.0").unwrap(),
                credentials_secret_arn: "arn:aws:secretsmanager:us-east-1:1:secret:crm".to_owned(),
                call_timeout: Duration::from_millis(5000),
                max_attempts: 2,
            }
        );
        let only_erp = HashMap::from([("ERP_PROCESSED_TABLE_NAME", "T"), ("ERP_EMPLOYEES_TABLE_NAME", "E")]);
        assert_eq!(
            ErpProcessorConfig::for_downstream(&CRM_MIRROR, |k| only_erp.get(k).map(|v| v.to_string())),
            Err(ConfigError::Missing("MIRROR_PROCESSED_TABLE_NAME"))
        );
    }

    fn invalid(name: &'static str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            name,
            reason: reason.to_owned(),
        }
    }
}
