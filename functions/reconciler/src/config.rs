//! What `reconciler` reads from its environment at cold start.

use user_sync::config::{env_lookup, parsed_or, required, ConfigError};

/// What `reconciler` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcilerConfig {
    /// `USERS_TABLE_NAME` (required): the users, as the CRM holds them.
    pub users_table: String,
    /// `ERP_EMPLOYEES_TABLE_NAME` (required): the ERP's view of each user.
    pub employees_table: String,
    /// `MIRROR_CONTACTS_TABLE_NAME` (optional): the CRM mirror's view of each user, compared
    /// too when set.
    pub mirror_contacts_table: Option<String>,
    /// `RECONCILE_SETTLE_SECONDS` (default 900): a user changed more recently than this is
    /// not counted as drifted, since its event may still be on its way.
    pub settle: std::time::Duration,
    /// `METRICS_NAMESPACE` (default `CrmErp`): the CloudWatch namespace of the drift metrics.
    pub metrics_namespace: String,
}

impl ReconcilerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env_lookup)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            users_table: required(&lookup, "USERS_TABLE_NAME")?,
            employees_table: required(&lookup, "ERP_EMPLOYEES_TABLE_NAME")?,
            mirror_contacts_table: lookup("MIRROR_CONTACTS_TABLE_NAME")
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            settle: std::time::Duration::from_secs(parsed_or(&lookup, "RECONCILE_SETTLE_SECONDS", 900u64)?),
            metrics_namespace: user_sync::metrics::namespace_from(&lookup),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_are_required_and_the_settling_time_defaults() {
        let lookup = |name: &str| match name {
            "USERS_TABLE_NAME" => Some("Users".to_owned()),
            "ERP_EMPLOYEES_TABLE_NAME" => Some("ErpEmployees".to_owned()),
            _ => None,
        };
        let config = ReconcilerConfig::from_lookup(lookup).unwrap();
        assert_eq!(config.settle.as_secs(), 900);
        assert_eq!(config.employees_table, "ErpEmployees");
        assert_eq!(config.mirror_contacts_table, None);
        let with_mirror = ReconcilerConfig::from_lookup(|n| match n {
            "MIRROR_CONTACTS_TABLE_NAME" => Some("Contacts".to_owned()),
            _ => lookup(n),
        });
        assert_eq!(with_mirror.unwrap().mirror_contacts_table.as_deref(), Some("Contacts"));
        let err = ReconcilerConfig::from_lookup(|n| lookup(n).filter(|_| n != "ERP_EMPLOYEES_TABLE_NAME"));
        assert!(err.unwrap_err().to_string().contains("ERP_EMPLOYEES_TABLE_NAME"));
        let err = ReconcilerConfig::from_lookup(|n| match n {
            "RECONCILE_SETTLE_SECONDS" => Some("soon".to_owned()),
            _ => lookup(n),
        });
        assert!(err.unwrap_err().to_string().contains("RECONCILE_SETTLE_SECONDS"));
    }
}
