// The runtime's future nests deep enough (service, handler, SDK calls) that computing its
// layout in a release build passes the default limit of 128.
#![recursion_limit = "256"]

use aws_config::BehaviorVersion;
use erp_processor::App;
use integration::config::ErpProcessorConfig;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_runtime::tracing::init_default_subscriber();
    let config = ErpProcessorConfig::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let app = App::new(&aws, &config);
    lambda_runtime::run(service_fn(|event| erp_processor::handle(&app, event))).await
}
