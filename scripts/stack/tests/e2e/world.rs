//! What the checks talk to: the deployed API through the emulator's API Gateway (signed,
//! as a client calls it), and the deployment's tables, queues and functions through the
//! AWS SDK, as an operator inspects them.

use std::collections::HashMap;

use aws_credential_types::Credentials;
use reqwest::{Method, Url};
use serde_json::{json, Value};

use ops::{LocalUrlForm, Outputs};
use stack::e2e::{CRM_PORT_VAR, EMULATOR_PORT_VAR, ERP_PORT_VAR, KEY, STATE_DIR_VAR};

/// Where scripts/dev writes the emulator's certificate, in its state directory.
const CA_BUNDLE: &str = "tls/server.crt";
use stack::smoke::{header, read};
use stack::SignedClient;
use test_support::fake_erp::FakeErp;

use crate::proxy::FaultProxy;

pub use stack::e2e::REGION;
pub use test_support::Item;

pub struct World {
    pub root: std::path::PathBuf,
    /// The outputs as `cdk deploy` wrote them (AWS's URLs).
    pub outputs: Outputs,
    pub emulator: Url,
    pub client: SignedClient,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub proxy: FaultProxy,
    /// The ERP the stack is deployed against.
    pub erp: FakeErp,
    /// The CRM the mirror is deployed against (the fake's `/crm` contacts).
    pub crm: FakeErp,
    pub aws: aws_config::SdkConfig,
    /// The emulator's certificate (PEM).
    pub ca: Vec<u8>,
    /// scripts/dev's state directory for the suite's stack: its outputs and certificate.
    pub state: std::path::PathBuf,
}

/// An answer: status, `Location` and `Link` headers, JSON body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub link: Option<String>,
    pub body: Value,
}

/// The CRM mirror's resources in the outputs.
pub struct MirrorOutputs<'a> {
    pub contacts: &'a str,
    pub processed: &'a str,
    pub dead_letters: &'a str,
}

impl World {
    /// The stack `stack e2e` deployed: its emulator's port, the port the stack expects the
    /// fake ERP on and scripts/dev's state directory, from the runner's environment.
    pub async fn from_runner() -> Result<Self, String> {
        let port = |name: &str| -> Result<u16, String> {
            std::env::var(name).ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
                format!("{name} is not set: run the suite with scripts/e2e, which deploys the stack first")
            })
        };
        let (emulator_port, erp_port, crm_port) = (port(EMULATOR_PORT_VAR)?, port(ERP_PORT_VAR)?, port(CRM_PORT_VAR)?);
        let state = std::env::var_os(STATE_DIR_VAR)
            .map(std::path::PathBuf::from)
            .ok_or_else(|| format!("{STATE_DIR_VAR} is not set: run the suite with scripts/e2e"))?;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .canonicalize()
            .map_err(|e| e.to_string())?;
        let emulator = Url::parse(&format!("https://127.0.0.1:{emulator_port}")).map_err(|e| e.to_string())?;
        let outputs = Outputs::read(&state.join("outputs.json"))?;
        let proxy = FaultProxy::start(([127, 0, 0, 1], emulator_port).into())
            .await
            .map_err(|e| format!("cannot start the fault proxy: {e}"))?;
        let erp = FakeErp::start_on(erp_port)
            .await
            .map_err(|e| format!("cannot start the fake ERP on port {erp_port}: {e}"))?;
        let crm = FakeErp::start_on(crm_port)
            .await
            .map_err(|e| format!("cannot start the fake CRM on port {crm_port}: {e}"))?;
        Self::new(&root, state, outputs, emulator, proxy, [erp, crm]).await
    }

    async fn new(
        root: &std::path::Path,
        state: std::path::PathBuf,
        outputs: Outputs,
        emulator: Url,
        proxy: FaultProxy,
        [erp, crm]: [FakeErp; 2],
    ) -> Result<Self, String> {
        let credentials = Credentials::new(KEY, KEY, None, None, "e2e");
        // As scripts/dev deployed it: the emulator's endpoint and certificate, the account
        // root's dummy key. The certificate is scripts/dev's, made after this process
        // started: passed explicitly, not through this process's AWS_CA_BUNDLE.
        let ca_bundle = state.join(CA_BUNDLE);
        let ca = std::fs::read(&ca_bundle).map_err(|e| format!("{}: {e}", ca_bundle.display()))?;
        let aws = ops::trust::sdk_loader_trusting(Some(ca.clone()))
            .endpoint_url(emulator.as_str())
            .region(aws_config::Region::new(REGION))
            .credentials_provider(credentials.clone())
            .load()
            .await;
        // The tokens the CDK app generated: neither fake takes a call without its own.
        erp.require_token(&token(&aws, outputs.erp_credentials_secret_arn.as_deref()).await?);
        crm.require_token(&token(&aws, outputs.crm_mirror_credentials_secret_arn.as_deref()).await?);
        Ok(Self {
            root: root.to_owned(),
            outputs,
            emulator,
            client: signed_client(credentials, &ca),
            ca,
            dynamo: aws_sdk_dynamodb::Client::new(&aws),
            sqs: aws_sdk_sqs::Client::new(&aws),
            lambda: aws_sdk_lambda::Client::new(&aws),
            proxy,
            erp,
            crm,
            aws,
            state,
        })
    }

    /// The deployment's API URLs in one of the emulator's forms.
    pub fn api(&self, form: LocalUrlForm) -> Outputs {
        self.outputs.through_emulator(&self.emulator, form)
    }

    /// The users endpoint in the emulator's host form, the shape of AWS's URL.
    pub fn users_url(&self) -> Url {
        self.api(LocalUrlForm::Host).crm_api_url
    }

    pub async fn call(&self, method: Method, url: &Url, body: Option<&Value>) -> Result<Answer, String> {
        let response = self.client.send(method, url, body).await?;
        let (location, link) = (header(&response, "location"), header(&response, "link"));
        let (status, body) = read(response).await?;
        Ok(Answer {
            status,
            location,
            link,
            body,
        })
    }

    /// `POST /api/crm` through the stage; the new user's id on a 201.
    pub async fn post_user(&self, name: &str, email: &str) -> Result<Answer, String> {
        let body = json!({"name": name, "email": email});
        self.call(Method::POST, &self.users_url(), Some(&body)).await
    }

    /// Writes a row straight into the deployed `Users` table, as another writer (the
    /// original system, a seed) would, attribute by attribute as text but `Version`.
    pub async fn put_users_row(&self, row: &[(&str, &str)]) -> Result<(), String> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let item: Item = row
            .iter()
            .map(|(name, value)| {
                let value = if *name == "Version" {
                    AttributeValue::N((*value).to_owned())
                } else {
                    AttributeValue::S((*value).to_owned())
                };
                ((*name).to_owned(), value)
            })
            .collect();
        self.dynamo
            .put_item()
            .table_name(&self.outputs.users_table_name)
            .set_item(Some(item))
            .send()
            .await
            .map(drop)
            .map_err(|e| format!("write a Users row: {e}"))
    }

    /// Every item of a table.
    pub async fn scan(&self, table: &str) -> Vec<Item> {
        test_support::scan_all(&self.dynamo, table).await
    }

    /// The audit records, grouped by user id.
    pub async fn processed_by_user(&self) -> HashMap<String, Vec<Item>> {
        test_support::processed_by_user(&self.dynamo, &self.outputs.erp_processed_users_table_name).await
    }

    /// The ERP's view of one user, if any of its events was applied.
    pub async fn erp_view(&self, user_id: &str) -> Option<user_sync::domain::EmployeeView> {
        self.view(&self.outputs.erp_employees_table_name, user_id).await
    }

    /// The CRM mirror's view of one user, if any of its events was applied.
    pub async fn mirror_view(&self, user_id: &str) -> Option<user_sync::domain::EmployeeView> {
        self.view(self.mirror().contacts, user_id).await
    }

    async fn view(&self, table: &str, user_id: &str) -> Option<user_sync::domain::EmployeeView> {
        user_sync::store::ErpEmployeesTable::new(self.dynamo.clone(), table)
            .get(user_id)
            .await
            .expect("read a consumer's view")
    }

    /// The mirror's tables and queues, which the suite's stack always has.
    pub fn mirror(&self) -> MirrorOutputs<'_> {
        let o = &self.outputs;
        fn named(v: &Option<String>) -> &str {
            v.as_deref().expect("the stack outputs the CRM mirror's resources")
        }
        MirrorOutputs {
            contacts: named(&o.crm_mirror_contacts_table_name),
            processed: named(&o.crm_mirror_processed_events_table_name),
            dead_letters: named(&o.mirror_dead_letter_queue_url),
        }
    }

    /// The mirror's audit records, grouped by user id.
    pub async fn mirror_processed_by_user(&self) -> HashMap<String, Vec<Item>> {
        test_support::processed_by_user(&self.dynamo, self.mirror().processed).await
    }

    /// The environment of a command that is a client of this stack (scripts/smoke,
    /// scripts/watch), as scripts/dev exports it.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS_ENDPOINT_URL",
                self.emulator.as_str().trim_end_matches('/').to_owned(),
            ),
            ("LOCAL_AWS_PORT", self.emulator.port().unwrap_or(443).to_string()),
            ("AWS_CA_BUNDLE", self.ca_bundle().display().to_string()),
            ("AWS_ACCESS_KEY_ID", KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", KEY.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
        ]
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.aws)
    }

    /// The account the stack is deployed in: the events queue's URL names it
    /// (`…/ACCOUNT/QUEUE`, on AWS as in the emulator).
    pub fn account(&self) -> Result<String, String> {
        let url = reqwest::Url::parse(&self.outputs.events_queue_url).map_err(|e| e.to_string())?;
        url.path_segments()
            .and_then(|mut s| s.next())
            .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_owned)
            .ok_or_else(|| format!("no account in the queue URL {url}"))
    }

    /// The emulator's certificate, as scripts/dev wrote it and exported it.
    pub fn ca_bundle(&self) -> std::path::PathBuf {
        self.state.join(CA_BUNDLE)
    }

    /// A client signing with `credentials`, trusting the emulator.
    pub fn signed_client(&self, credentials: Credentials) -> SignedClient {
        signed_client(credentials, &self.ca)
    }

    /// Sends a message straight onto the ERP consumer's queue, bypassing the topic, as a
    /// producer with the queue's URL could.
    pub async fn send_raw(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.outputs.events_queue_url)
            .message_body(body)
            .send()
            .await
            .expect("send to the emulator's queue");
    }

    /// Bodies in the dead-letter queue, read without keeping them invisible.
    pub async fn dead_letters(&self) -> Vec<String> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.outputs.dead_letter_queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive from the emulator's queue");
        out.messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    /// Messages visible or in flight on the events queue.
    pub async fn queue_depth(&self) -> u64 {
        ops::redrive::depth(&self.sqs, &self.outputs.events_queue_url)
            .await
            .expect("queue attributes")
    }

    /// One user's URL under the users endpoint (host form), as `Location` names it.
    pub fn user_url(&self, id: &str) -> Result<Url, String> {
        self.users_url().join(&format!("crm/{id}")).map_err(|e| e.to_string())
    }

    /// The deployed configuration of the function built from `binary`.
    pub async fn function_configuration(
        &self,
        binary: &str,
    ) -> Result<aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput, String> {
        let function = self.function_named(binary).await?;
        self.lambda
            .get_function_configuration()
            .function_name(&function)
            .send()
            .await
            .map_err(|e| format!("configuration of {function}: {e}"))
    }

    /// The deployed function built from `binary` (the template tags each with it).
    pub async fn function_named(&self, binary: &str) -> Result<String, String> {
        ops::functions::named(&self.lambda, binary).await
    }

    pub fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::new(&self.aws)
    }

    /// The ERP's bearer token, as the CDK app generated it into the secret.
    pub async fn erp_token(&self) -> Result<String, String> {
        token(&self.aws, self.outputs.erp_credentials_secret_arn.as_deref()).await
    }

    /// Adds (`Some`) or removes (`None`) one variable of a function's environment.
    pub async fn set_function_env(&self, function: &str, key: &str, value: Option<&str>) -> Result<(), String> {
        let config = self
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| format!("configuration of {function}: {e}"))?;
        let mut vars = config
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        match value {
            Some(v) => vars.insert(key.to_owned(), v.to_owned()),
            None => vars.remove(key),
        };
        let environment = aws_sdk_lambda::types::Environment::builder()
            .set_variables(Some(vars))
            .build();
        self.lambda
            .update_function_configuration()
            .function_name(function)
            .environment(environment)
            .send()
            .await
            .map_err(|e| format!("update {function}: {e}"))?;
        Ok(())
    }
}

/// A client signing with `credentials` in the emulator's region, trusting its certificate.
fn signed_client(credentials: Credentials, ca: &[u8]) -> SignedClient {
    SignedClient::trusting(
        credentials,
        REGION.to_owned(),
        stack::trust::http_client_trusting(Some(ca)),
    )
}

/// The bearer token in a credentials secret, as the CDK app generated it.
async fn token(aws: &aws_config::SdkConfig, secret: Option<&str>) -> Result<String, String> {
    let secret = secret.ok_or(
        "the stack has no credentials secret: was it deployed with -c erpEndpointUrl and -c mirrorEndpointUrl?",
    )?;
    let value = aws_sdk_secretsmanager::Client::new(aws)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| format!("read {secret}: {e}"))?;
    value
        .secret_string()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("{secret} holds no token"))
}

pub use test_support::text as s;
