use crm_api::config::CrmApiConfig;
use crm_api::{routes, App};
use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_http::tracing::init_default_subscriber();
    let config = CrmApiConfig::from_env()?;
    // With bundled roots: reading the system's certificate store was most of init.
    let aws = user_sync::aws::load_config().await;
    let app = App::new(&aws, &config);
    // Every request reads or writes `Users`. SNS is not primed: the role may at most publish
    // (`sns:Publish`, which covers the batch form the outbox uses; nothing when the table's
    // stream delivers), so the first `POST` opens that connection if it is used at all.
    user_sync::aws::prime(&aws, async { app.users.get(uuid::Uuid::nil()).await.map(drop) }).await;
    lambda_http::run(service_fn(|req| routes::handle(&app, req))).await
}
