//! What `crm-api` reads from its environment at cold start.

use user_sync::config::{env_lookup, parsed_or, required, ConfigError};
use user_sync::crm::Delivery;

/// What `crm-api` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmApiConfig {
    pub users_table: String,
    pub events_topic_arn: String,
    /// `OUTBOX_DELIVERY` (default `request`): who publishes a change's event, crm-api before
    /// it answers (`request`), or the outbox relay from the table's stream (`stream`).
    pub delivery: Delivery,
    /// `ERP_EMPLOYEES_TABLE_NAME`: the ERP's view of each user, read for its sync status.
    pub employees_table: String,
    /// `MIRROR_CONTACTS_TABLE_NAME` (optional): the CRM mirror's view of each user, read for
    /// its sync status too. Unset, a user's sync names the ERP only.
    pub mirror_contacts_table: Option<String>,
    /// `METRICS_NAMESPACE` (default `CrmErp`): the CloudWatch namespace of its metrics.
    pub metrics_namespace: String,
}

impl CrmApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users_table: required(&lookup, "USERS_TABLE_NAME")?,
            events_topic_arn: required(&lookup, "EVENTS_TOPIC_ARN")?,
            delivery: parsed_or(&lookup, "OUTBOX_DELIVERY", Delivery::Writer)?,
            employees_table: required(&lookup, "ERP_EMPLOYEES_TABLE_NAME")?,
            mirror_contacts_table: lookup("MIRROR_CONTACTS_TABLE_NAME")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            metrics_namespace: user_sync::metrics::namespace_from(&lookup),
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
        assert_eq!(err, ConfigError::Missing("EVENTS_TOPIC_ARN"));
        assert!(err.to_string().contains("EVENTS_TOPIC_ARN"));
        let vars = HashMap::from([("USERS_TABLE_NAME", "Users"), ("EVENTS_TOPIC_ARN", "q")]);
        let err = CrmApiConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap_err();
        assert_eq!(err, ConfigError::Missing("ERP_EMPLOYEES_TABLE_NAME"));
    }

    #[test]
    fn the_delivery_is_the_request_unless_the_stream_is_named() {
        let with = |delivery: Option<&str>| {
            let mut vars = HashMap::from([
                ("USERS_TABLE_NAME", "Users"),
                ("EVENTS_TOPIC_ARN", "t"),
                ("ERP_EMPLOYEES_TABLE_NAME", "E"),
            ]);
            vars.extend(delivery.map(|d| ("OUTBOX_DELIVERY", d)));
            CrmApiConfig::from_lookup(|k| vars.get(k).map(|v| v.to_string())).map(|c| c.delivery)
        };
        assert_eq!(with(None), Ok(Delivery::Writer));
        assert_eq!(with(Some("request")), Ok(Delivery::Writer));
        assert_eq!(with(Some(" stream ")), Ok(Delivery::Stream));
        let err = with(Some("later")).unwrap_err();
        assert!(err.to_string().contains("OUTBOX_DELIVERY"), "{err}");
        assert!(err.to_string().contains("request or stream"), "{err}");
    }
}
