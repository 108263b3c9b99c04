//! Configuration read once at cold start. A missing variable fails the cold start with a
//! message naming it, rather than surfacing as an obscure SDK error on the first request.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Reads a variable from `lookup`; blank counts as missing.
pub fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing(name))
}

/// Reads an optional variable and parses it, falling back to `default` when unset.
pub fn parsed_or<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        }),
    }
}

/// The process environment, for `from_lookup`.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What `crm-api` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmApiConfig {
    pub users_table: String,
    pub events_queue_url: String,
}

impl CrmApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users_table: required(&lookup, "USERS_TABLE_NAME")?,
            events_queue_url: required(&lookup, "EVENTS_QUEUE_URL")?,
        })
    }
}

/// What `erp-processor` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErpProcessorConfig {
    /// `ERP_PROCESSED_TABLE_NAME` (required): the `ErpProcessedUsers` table.
    pub processed_table: String,
    /// `ERP_SYSTEM_NAME` (default `OracleFusion`): recorded as each event's `ErpSystem`.
    pub erp_system: String,
    /// `BATCH_CONCURRENCY` (default 10, 1–100): how many records of one SQS batch are in
    /// flight at once. Bounds the DynamoDB writes a batch bursts into the table.
    pub batch_concurrency: usize,
    /// `ERP_LATENCY_MS` (default 0): a simulated ERP call latency per event, for benchmarks
    /// only (the original slept 100 ms per event). Production leaves it unset.
    pub erp_latency: std::time::Duration,
    /// `CLAIM_TIMEOUT_SECONDS` (default 60, at least 1): how long a delivery's claim on an
    /// event holds before another delivery may take it over. Longer than the function's
    /// timeout, so only a dead invocation's claim expires (the CDK app sets it so).
    pub claim_timeout: std::time::Duration,
}

impl ErpProcessorConfig {
    pub const DEFAULT_BATCH_CONCURRENCY: usize = 10;
    pub const DEFAULT_CLAIM_TIMEOUT_SECONDS: u64 = 60;
    pub const BATCH_CONCURRENCY_RANGE: std::ops::RangeInclusive<usize> = 1..=100;

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let processed_table = required(&lookup, "ERP_PROCESSED_TABLE_NAME")?;
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
            processed_table,
            erp_system: lookup("ERP_SYSTEM_NAME")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| crate::domain::erp::DEFAULT_ERP_SYSTEM.to_owned()),
            batch_concurrency,
            erp_latency: std::time::Duration::from_millis(parsed_or(&lookup, "ERP_LATENCY_MS", 0u64)?),
            claim_timeout: std::time::Duration::from_secs(claim_timeout),
        })
    }
}

/// What `outbox-relay` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRelayConfig {
    /// `USERS_TABLE_NAME` (required): the table that holds the outbox.
    pub users_table: String,
    /// `EVENTS_QUEUE_URL` (required).
    pub events_queue_url: String,
    /// `OUTBOX_GRACE_SECONDS` (default 30): how old a pending event must be before the relay
    /// sends it, so it does not race the API's own send of a fresh event.
    pub grace: std::time::Duration,
    /// `OUTBOX_MAX_EVENTS_PER_RUN` (default 1000): bounds one run well inside its timeout;
    /// the rest wait for the next run, oldest first.
    pub max_events_per_run: usize,
    /// `METRICS_NAMESPACE` (default `CrmErp`): the CloudWatch namespace of the
    /// `OldestPendingEventAgeSeconds` metric.
    pub metrics_namespace: String,
}

impl OutboxRelayConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let max_events_per_run = parsed_or(&lookup, "OUTBOX_MAX_EVENTS_PER_RUN", 1000usize)?;
        if max_events_per_run == 0 {
            return Err(ConfigError::Invalid {
                name: "OUTBOX_MAX_EVENTS_PER_RUN",
                reason: "must be at least 1".to_owned(),
            });
        }
        Ok(Self {
            users_table: required(&lookup, "USERS_TABLE_NAME")?,
            events_queue_url: required(&lookup, "EVENTS_QUEUE_URL")?,
            grace: std::time::Duration::from_secs(parsed_or(&lookup, "OUTBOX_GRACE_SECONDS", 30u64)?),
            max_events_per_run,
            metrics_namespace: lookup("METRICS_NAMESPACE")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "CrmErp".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn missing_variable_is_named() {
        let vars = HashMap::from([("USERS_TABLE_NAME", "Users")]);
        let err = CrmApiConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, ConfigError::Missing("EVENTS_QUEUE_URL"));
        assert!(err.to_string().contains("EVENTS_QUEUE_URL"));
    }

    #[test]
    fn blank_counts_as_missing_and_numbers_are_checked() {
        let vars = HashMap::from([("USERS_TABLE_NAME", " "), ("N", "x")]);
        let lookup = |k: &str| vars.get(k).map(|v| v.to_string());
        assert_eq!(
            required(&lookup, "USERS_TABLE_NAME"),
            Err(ConfigError::Missing("USERS_TABLE_NAME"))
        );
        assert!(matches!(
            parsed_or(&lookup, "N", 3usize),
            Err(ConfigError::Invalid { name: "N", .. })
        ));
        assert_eq!(parsed_or(&lookup, "UNSET", 3usize), Ok(3));
    }

    #[test]
    fn erp_processor_defaults() {
        let vars = HashMap::from([("ERP_PROCESSED_TABLE_NAME", "ErpProcessedUsers")]);
        let config = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(
            config,
            ErpProcessorConfig {
                processed_table: "ErpProcessedUsers".to_owned(),
                erp_system: "OracleFusion".to_owned(),
                batch_concurrency: 10,
                erp_latency: std::time::Duration::ZERO,
                claim_timeout: std::time::Duration::from_secs(60),
            }
        );
    }

    #[test]
    fn erp_processor_reads_every_variable() {
        let vars = HashMap::from([
            ("ERP_PROCESSED_TABLE_NAME", "T"),
            ("ERP_SYSTEM_NAME", " PeopleSoft "),
            ("BATCH_CONCURRENCY", "100"),
            ("ERP_LATENCY_MS", "100"),
            ("CLAIM_TIMEOUT_SECONDS", "35"),
        ]);
        let config = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(config.erp_system, "PeopleSoft");
        assert_eq!(config.batch_concurrency, 100);
        assert_eq!(config.erp_latency, std::time::Duration::from_millis(100));
        assert_eq!(config.claim_timeout, std::time::Duration::from_secs(35));
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
            let mut vars = HashMap::from([("ERP_PROCESSED_TABLE_NAME", "T")]);
            vars.insert(name, value);
            let result = ErpProcessorConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string()));
            assert_eq!(result, Err(expected), "{name}={value}");
        }
    }

    fn invalid(name: &'static str, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            name,
            reason: reason.to_owned(),
        }
    }
}
