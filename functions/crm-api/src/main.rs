use aws_config::BehaviorVersion;
use crm_api::{routes, App};
use integration::config::CrmApiConfig;
use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_http::tracing::init_default_subscriber();
    let config = CrmApiConfig::from_env()?;
    let aws = aws_config::load_defaults(BehaviorVersion::latest()).await;
    let app = App::new(&aws, &config);
    lambda_http::run(service_fn(|req| routes::handle(&app, req))).await
}
