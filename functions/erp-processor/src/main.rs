// The runtime's future nests deep enough (service, handler, SDK calls) that computing its
// layout in a release build passes the default limit of 128.
#![recursion_limit = "256"]

use erp_processor::config::ErpProcessorConfig;
use erp_processor::App;
use lambda_runtime::{service_fn, Error};
use user_sync::store::ProcessedUsersTable;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_runtime::tracing::init_default_subscriber();
    let config = ErpProcessorConfig::from_env()?;
    // With bundled roots: reading the system's certificate store was most of init.
    let aws = user_sync::aws::load_config().await;
    let app = App::new(&aws, &config).await?;
    let prime = async {
        let table = ProcessedUsersTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.processed_table);
        table.prime().await
    };
    user_sync::aws::prime(&aws, prime).await;
    lambda_runtime::run(service_fn(|event| erp_processor::handle(&app, event))).await
}
