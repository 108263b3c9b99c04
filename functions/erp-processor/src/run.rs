use lambda_runtime::{service_fn, Error};
use user_sync::store::ProcessedUsersTable;

use crate::config::ErpProcessorConfig;
use crate::downstream::Downstream;
use crate::App;

/// A consumer's cold start, then its invocations until the runtime ends.
pub async fn run(downstream: &'static Downstream) -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_runtime::tracing::init_default_subscriber();
    let config = ErpProcessorConfig::from_env(downstream)?;
    // With bundled roots: reading the system's certificate store was most of init.
    let aws = user_sync::aws::load_config().await;
    let app = App::new(&aws, &config).await?;
    let prime = async {
        let table = ProcessedUsersTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.processed_table);
        table.prime().await
    };
    user_sync::aws::prime(&aws, prime).await;
    lambda_runtime::run(service_fn(|event| crate::handle(&app, event))).await
}
