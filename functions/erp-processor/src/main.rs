// The runtime's future nests deep enough (service, handler, SDK calls) that computing its
// layout in a release build passes the default limit of 128.
#![recursion_limit = "256"]

use aws_config::SdkConfig;
use erp_processor::config::ErpProcessorConfig;
use erp_processor::App;
use integration::store::ProcessedUsersTable;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_runtime::tracing::init_default_subscriber();
    let config = ErpProcessorConfig::from_env()?;
    // With bundled roots: reading the system's certificate store was most of init.
    let aws = integration::aws::load_config().await;
    let app = App::new(&aws, &config);
    if integration::aws::priming_pays(&aws) {
        prime(&aws, &config).await;
    }
    lambda_runtime::run(service_fn(|event| erp_processor::handle(&app, event))).await
}

/// Connection priming, on AWS only (`integration::aws::priming_pays`): one cheap read
/// during init opens the TLS connection to DynamoDB (and resolves credentials, endpoint
/// and signing), so the first request finds it in the pool. It costs init one round trip
/// and a TLS handshake (tens of ms), which the first request would otherwise pay itself:
/// published measurements put a first DynamoDB call at 128 MB at ~0.9 s without warming
/// during init and ~20 ms with. Not towards the local emulator: see `priming_pays`. A failure is logged
/// and ignored: the request that needs the connection reports it.
///
/// A client of its own shares the configuration's HTTP client, so the connection lands
/// in the pool the processor's client uses.
async fn prime(aws: &SdkConfig, config: &ErpProcessorConfig) {
    let table = ProcessedUsersTable::new(aws_sdk_dynamodb::Client::new(aws), &config.processed_table);
    if let Err(e) = table.prime().await {
        tracing::warn!(error = %integration::errors::chain(&e), "priming the DynamoDB connection failed");
    }
}
