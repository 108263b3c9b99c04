//! A deployment of the stack as its clients know it: the outputs `cdk deploy
//! --outputs-file` writes, the same keys on AWS and in the local emulator.

use std::path::Path;

use serde::Deserialize;
use url::Url;

/// The stack's outputs (`CrmErpStack` in `cdk/lib/stack.ts` names them).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Outputs {
    pub crm_api_url: Url,
    pub events_url: Url,
    pub users_table_name: String,
    pub erp_processed_users_table_name: String,
    pub erp_employees_table_name: String,
    /// The topic every event is published to once; each consumer's queue subscribes to it.
    pub events_topic_arn: String,
    /// The ERP consumer's queue (subscribed to the topic) and its dead-letter queue.
    pub events_queue_url: String,
    pub dead_letter_queue_url: String,
    /// The CRM mirror's queue, dead-letter queue and view (absent from a stack deployed
    /// before it had the mirror).
    #[serde(default)]
    pub mirror_queue_url: Option<String>,
    #[serde(default)]
    pub mirror_dead_letter_queue_url: Option<String>,
    #[serde(default)]
    pub crm_mirror_contacts_table_name: Option<String>,
    #[serde(default)]
    pub crm_mirror_processed_events_table_name: Option<String>,
    /// With `-c erpEndpointUrl` only: the secret holding the ERP's bearer token.
    #[serde(default)]
    pub erp_credentials_secret_arn: Option<String>,
    /// With `-c mirrorEndpointUrl` only: the secret holding the CRM mirror's bearer token.
    #[serde(default)]
    pub crm_mirror_credentials_secret_arn: Option<String>,
    #[serde(default)]
    pub dashboard_name: Option<String>,
}

impl Outputs {
    /// Reads an outputs file, which holds one object per deployed stack; it must hold one.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let stacks: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| format!("not a cdk outputs file: {e}"))?;
        let mut stacks = stacks.into_iter();
        let (Some((name, outputs)), None) = (stacks.next(), stacks.next()) else {
            return Err("expected the outputs of exactly one stack".to_owned());
        };
        serde_json::from_value(outputs).map_err(|e| format!("stack {name}: {e}"))
    }

    /// The same deployment with its API URLs as the local emulator serves them, in `form`.
    /// URLs that are not API Gateway's stay as they are.
    pub fn through_emulator(&self, emulator: &Url, form: LocalUrlForm) -> Self {
        Self {
            crm_api_url: form.rewrite(&self.crm_api_url, emulator),
            events_url: form.rewrite(&self.events_url, emulator),
            ..self.clone()
        }
    }
}

/// The two URLs at which the emulator (MiniStack) answers for a REST API's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalUrlForm {
    /// `https://API_ID.execute-api.localhost:PORT/STAGE/…`: AWS's shape, on loopback.
    Host,
    /// `https://HOST:PORT/restapis/API_ID/STAGE/_user_request_/…`.
    Path,
}

impl LocalUrlForm {
    pub const ALL: [Self; 2] = [Self::Host, Self::Path];

    /// `https://API_ID.execute-api.REGION.amazonaws.com/STAGE/REST` in this form, or `url`
    /// unchanged when it is not an API Gateway URL.
    pub fn rewrite(self, url: &Url, emulator: &Url) -> Url {
        let Some(api_id) = url
            .host_str()
            .and_then(|h| h.split_once(".execute-api."))
            .map(|(id, _)| id.to_owned())
        else {
            return url.clone();
        };
        let mut segments = url.path().trim_start_matches('/').splitn(2, '/');
        let stage = segments.next().unwrap_or_default();
        let rest = segments.next().unwrap_or_default();
        let port = emulator.port_or_known_default().unwrap_or(80);
        let text = match self {
            // The emulator's scheme: https when it enforces TLS (scripts/dev), its certificate
            // naming `*.execute-api.localhost` (stack local-cert).
            Self::Host => format!(
                "{}://{api_id}.execute-api.localhost:{port}/{stage}/{rest}",
                emulator.scheme()
            ),
            Self::Path => format!(
                "{}/restapis/{api_id}/{stage}/_user_request_/{rest}",
                emulator.as_str().trim_end_matches('/')
            ),
        };
        let mut local = Url::parse(&text).expect("built from a valid URL");
        local.set_query(url.query());
        local
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Host => "host form",
            Self::Path => "path form",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUTS: &str = r#"{"CrmErp-dev": {
        "CrmApiUrl": "https://a1b2c3.execute-api.us-east-1.amazonaws.com/prod/api/crm",
        "EventsUrl": "https://a1b2c3.execute-api.us-east-1.amazonaws.com/prod/events",
        "UsersTableName": "CrmErp-dev-TablesUsers-X",
        "ErpProcessedUsersTableName": "CrmErp-dev-TablesErp-Y",
        "ErpEmployeesTableName": "CrmErp-dev-TablesEmployees-Z",
        "EventsTopicArn": "arn:aws:sns:us-east-1:000000000000:Events",
        "EventsQueueUrl": "http://127.0.0.1:4566/000000000000/Queue",
        "DeadLetterQueueUrl": "http://127.0.0.1:4566/000000000000/Dead"}}"#;

    #[test]
    fn reads_the_outputs_of_one_stack() {
        let outputs = Outputs::parse(OUTPUTS).unwrap();
        assert_eq!(outputs.users_table_name, "CrmErp-dev-TablesUsers-X");
        assert_eq!(outputs.events_url.path(), "/prod/events");
        assert!(Outputs::parse("{}").unwrap_err().contains("exactly one stack"));
        assert!(Outputs::parse(r#"{"A": {}}"#).unwrap_err().contains("stack A"));
    }

    #[test]
    fn rewrites_api_urls_to_both_local_forms() {
        let outputs = Outputs::parse(OUTPUTS).unwrap();
        let emulator = Url::parse("http://127.0.0.1:4566").unwrap();
        let host = outputs.through_emulator(&emulator, LocalUrlForm::Host);
        assert_eq!(
            host.crm_api_url.as_str(),
            "http://a1b2c3.execute-api.localhost:4566/prod/api/crm"
        );
        let tls = Url::parse("https://127.0.0.1:4566").unwrap();
        assert_eq!(
            outputs.through_emulator(&tls, LocalUrlForm::Host).crm_api_url.as_str(),
            "https://a1b2c3.execute-api.localhost:4566/prod/api/crm"
        );
        let path = outputs.through_emulator(&emulator, LocalUrlForm::Path);
        assert_eq!(
            path.events_url.as_str(),
            "http://127.0.0.1:4566/restapis/a1b2c3/prod/_user_request_/events"
        );
        assert_eq!(path.events_queue_url, outputs.events_queue_url);
        let other = Url::parse("https://crm.example.com/v1/api/crm").unwrap();
        assert_eq!(LocalUrlForm::Host.rewrite(&other, &emulator), other);
    }
}
