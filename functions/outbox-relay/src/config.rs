//! What `outbox-relay` reads from its environment at cold start.

use user_sync::config::{env_lookup, parsed_or, required, ConfigError};

/// What `outbox-relay` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRelayConfig {
    /// `USERS_TABLE_NAME` (required): the table that holds the outbox.
    pub users_table: String,
    /// `EVENTS_TOPIC_ARN` (required): the topic every event is published to once.
    pub events_topic_arn: String,
    /// `OUTBOX_GRACE_SECONDS` (default 30): how old a pending event must be before a scheduled
    /// run sends it, so it does not race the send of a fresh event (the relay's on its stream
    /// record, or crm-api's with request delivery).
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
            events_topic_arn: required(&lookup, "EVENTS_TOPIC_ARN")?,
            grace: std::time::Duration::from_secs(parsed_or(&lookup, "OUTBOX_GRACE_SECONDS", 30u64)?),
            max_events_per_run,
            metrics_namespace: user_sync::metrics::namespace_from(&lookup),
        })
    }
}
