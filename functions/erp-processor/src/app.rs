use std::sync::Arc;

use aws_config::SdkConfig;
use user_sync::store::{ErpEmployeesTable, ProcessedUsersTable};

use crate::config::{ErpConnector, ErpProcessorConfig};
use crate::deferral::Deferral;
use crate::erp::{credentials, Budget, CallLog, Erp, HttpErp, HttpErpSettings, SimulatedErp, RESERVE};
use crate::process::Processor;

/// What every invocation needs, built once at cold start and borrowed by each invocation.
#[derive(Debug, Clone)]
pub struct App {
    pub processor: Processor,
    /// How many records of one SQS batch are processed at once.
    pub batch_concurrency: usize,
    /// The receive on which a failing record moves to the dead-letter queue.
    pub max_receive_count: u32,
    /// The ERP calls of the running invocation, for its metrics.
    pub erp_calls: Arc<CallLog>,
    pub metrics_namespace: String,
    /// How long the ERP calls may take when the invocation's deadline is unknown.
    pub erp_fallback_budget: std::time::Duration,
    /// Where a record whose user is busy goes back to, delayed (`EVENTS_QUEUE_URL`).
    pub deferral: Option<Deferral>,
    /// The consumer's binary, its metrics' `Service` dimension.
    pub service: &'static str,
}

/// How long the ERP calls of a `POST /events` may take: API Gateway's integration timeout
/// (29 s) less a margin for the rest of the request (a cold start, about a second; the lease
/// and the look-up before the call; the audit record and the view after, each a few ms), so a
/// slow ERP is answered with a 503 the client can act on, never a gateway timeout.
pub const MAX_REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialsError),
    #[error("the ERP's HTTP client could not be built")]
    Client(#[from] reqwest::Error),
}

impl App {
    /// With the HTTP connector, reads the ERP's token from Secrets Manager: a cold start
    /// that cannot fails, and SQS keeps the events until one can.
    pub async fn new(aws: &SdkConfig, config: &ErpProcessorConfig) -> Result<Self, StartError> {
        let erp_calls = Arc::new(CallLog::default());
        let (erp, erp_fallback_budget): (Arc<dyn Erp>, _) = match &config.erp {
            ErpConnector::Simulated { latency } => (
                Arc::new(SimulatedErp {
                    latency: *latency,
                    calls: erp_calls.clone(),
                }),
                *latency + std::time::Duration::from_secs(1),
            ),
            ErpConnector::Http {
                endpoint,
                credentials_secret_arn,
                call_timeout,
                max_attempts,
            } => {
                let token = credentials::read_token(aws, credentials_secret_arn).await?;
                let source = credentials::TokenSource {
                    aws: aws.clone(),
                    arn: credentials_secret_arn.clone(),
                };
                let settings = HttpErpSettings {
                    endpoint: endpoint.clone(),
                    call_timeout: *call_timeout,
                    max_attempts: *max_attempts,
                    record: config.downstream.record,
                    service: config.downstream.service,
                };
                // Never past the lease: a delivery still calling the ERP after its lease
                // expired would see another delivery call it too.
                let fallback = (*call_timeout * *max_attempts).min(config.claim_timeout.saturating_sub(RESERVE));
                let http = HttpErp::new(settings, token, Some(source), erp_calls.clone())?;
                (Arc::new(http), fallback)
            }
        };
        Ok(Self::with_erp(aws, config, erp, erp_calls, erp_fallback_budget))
    }

    /// With a given ERP adapter (tests bring their own).
    pub fn with_erp(
        aws: &SdkConfig,
        config: &ErpProcessorConfig,
        erp: Arc<dyn Erp>,
        erp_calls: Arc<CallLog>,
        erp_fallback_budget: std::time::Duration,
    ) -> Self {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        Self {
            processor: Processor::new(
                ProcessedUsersTable::new(dynamo.clone(), &config.processed_table),
                ErpEmployeesTable::new(dynamo, &config.employees_table),
                erp,
                &config.erp_system,
                config.claim_timeout,
            )
            .with_record(config.downstream.record),
            batch_concurrency: config.batch_concurrency,
            max_receive_count: config.max_receive_count,
            erp_calls,
            metrics_namespace: config.metrics_namespace.clone(),
            erp_fallback_budget,
            deferral: config
                .events_queue_url
                .as_ref()
                .map(|url| Deferral::new(aws_sdk_sqs::Client::new(aws), url)),
            service: config.downstream.service,
        }
    }

    /// The ERP budget of an invocation with this deadline (ms since the epoch).
    pub fn erp_budget(&self, deadline_ms: u64) -> Budget {
        Budget::from_deadline(deadline_ms, std::time::SystemTime::now(), self.erp_fallback_budget)
    }

    /// The ERP budget of a `POST /events` request: within API Gateway's 29 s integration
    /// timeout too, so the client gets the answer rather than a 504.
    pub fn erp_budget_for_request(&self, deadline_ms: u64) -> Budget {
        self.erp_budget(deadline_ms).at_most(MAX_REQUEST_BUDGET)
    }
}
