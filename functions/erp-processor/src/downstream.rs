//! The downstream systems one consumer core keeps in step with the users: the ERP
//! (`erp-processor`) and the CRM mirror (`crm-mirror`), a Salesforce-style CRM. Each is a
//! function of its own, with its own queue, tables and role; the claim, the lease, version
//! order, erasure and the metrics are the same code. What differs is named here.

/// One downstream system and what its deployment reads.
#[derive(Debug, PartialEq, Eq)]
pub struct Downstream {
    /// Its binary, the `Service` dimension of its metrics and its HTTP user agent.
    pub service: &'static str,
    /// Recorded as each event's system when `vars.system` is unset.
    pub default_system: &'static str,
    pub vars: Vars,
    /// What its HTTP connector sends (the simulated one sends nothing).
    pub record: RecordShape,
}

/// The environment variables that name a downstream's own resources and connector. The
/// rest (`BATCH_CONCURRENCY`, `CLAIM_TIMEOUT_SECONDS`, `MAX_RECEIVE_COUNT`,
/// `EVENTS_QUEUE_URL`, `METRICS_NAMESPACE`) are the same for every downstream.
#[derive(Debug, PartialEq, Eq)]
pub struct Vars {
    /// The table of its processed events (the audit record, claimed once per event id).
    pub processed_table: &'static str,
    /// The table of its view of each user (the version it holds, the lease).
    pub view_table: &'static str,
    pub system: &'static str,
    pub latency: &'static str,
    pub endpoint: &'static str,
    pub credentials: &'static str,
    pub call_timeout: &'static str,
    pub max_attempts: &'static str,
}

/// How the HTTP connector addresses and writes a user's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordShape {
    /// The ERP contract (docs/erp-contract.md): `PUT /employees/{userId}` with the version,
    /// refused with a 412 when stale; `DELETE /employees/{userId}?version=…`.
    Employee,
    /// A Salesforce-style upsert by external id: `PATCH /sobjects/Contact/CrmUserId__c/{userId}`
    /// with the contact's fields, `DELETE` at the same path. It keeps no version: the
    /// consumer's lease and view keep the order.
    Contact,
}

impl RecordShape {
    /// The id of the user's record downstream, as the view and the audit records keep it:
    /// the ERP's employee id (`EMP-` and 8 characters, as the original), or the contact's
    /// external id, which is the user id itself.
    pub fn record_id(self, user_id: &str) -> String {
        match self {
            Self::Employee => user_sync::domain::erp::employee_record_id(user_id),
            Self::Contact => user_id.to_owned(),
        }
    }
}

pub const ERP: Downstream = Downstream {
    service: "erp-processor",
    default_system: user_sync::domain::erp::DEFAULT_ERP_SYSTEM,
    vars: Vars {
        processed_table: "ERP_PROCESSED_TABLE_NAME",
        view_table: "ERP_EMPLOYEES_TABLE_NAME",
        system: "ERP_SYSTEM_NAME",
        latency: "ERP_LATENCY_MS",
        endpoint: "ERP_ENDPOINT_URL",
        credentials: "ERP_CREDENTIALS_SECRET_ARN",
        call_timeout: "ERP_CALL_TIMEOUT_MS",
        max_attempts: "ERP_MAX_ATTEMPTS",
    },
    record: RecordShape::Employee,
};

pub const CRM_MIRROR: Downstream = Downstream {
    service: "crm-mirror",
    default_system: "Salesforce",
    vars: Vars {
        processed_table: "MIRROR_PROCESSED_TABLE_NAME",
        view_table: "MIRROR_CONTACTS_TABLE_NAME",
        system: "MIRROR_SYSTEM_NAME",
        latency: "MIRROR_LATENCY_MS",
        endpoint: "MIRROR_ENDPOINT_URL",
        credentials: "MIRROR_CREDENTIALS_SECRET_ARN",
        call_timeout: "MIRROR_CALL_TIMEOUT_MS",
        max_attempts: "MIRROR_MAX_ATTEMPTS",
    },
    record: RecordShape::Contact,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_employee_is_emp_and_8_characters_a_contact_the_user_id() {
        let user = "3f2b8c1a-9d4e-4f6a-8b7c-0e1d2f3a4b5c";
        assert_eq!(ERP.record.record_id(user), "EMP-3f2b8c1a");
        assert_eq!(CRM_MIRROR.record.record_id(user), user);
    }
}
