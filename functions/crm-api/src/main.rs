use crm_api::config::CrmApiConfig;
use crm_api::{routes, App};
use lambda_http::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON lines when Lambda's log format is JSON (AWS_LAMBDA_LOG_FORMAT), text otherwise.
    lambda_http::tracing::init_default_subscriber();
    let config = CrmApiConfig::from_env()?;
    // With bundled roots: reading the system's certificate store was most of init.
    let aws = integration::aws::load_config().await;
    let app = App::new(&aws, &config);
    if integration::aws::priming_pays(&aws) {
        prime(&app).await;
    }
    lambda_http::run(service_fn(|req| routes::handle(&app, req))).await
}

/// Connection priming, on AWS only (`integration::aws::priming_pays`): one cheap read
/// during init opens the TLS connection to DynamoDB (and resolves credentials, endpoint
/// and signing), so the first request finds it in the pool. It costs init one round trip
/// and a TLS handshake (tens of ms), which the first request would otherwise pay itself:
/// published measurements put a first DynamoDB call at 128 MB at ~0.9 s without warming
/// during init and ~20 ms with. Not towards the local emulator: see `priming_pays`. A failure is logged
/// and ignored: the request that needs the connection reports it.
///
/// Every request reads or writes `Users`. SQS is not primed: the role may only
/// `SendMessage`, so the first `POST` opens that connection.
async fn prime(app: &App) {
    if let Err(e) = app.users.get(uuid::Uuid::nil()).await {
        tracing::warn!(error = %integration::errors::chain(&e), "priming the DynamoDB connection failed");
    }
}
