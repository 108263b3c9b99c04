use lambda_runtime::{service_fn, Error, LambdaEvent};
use outbox_relay::config::OutboxRelayConfig;
use outbox_relay::{metrics, Relay, RelayReport};
use user_sync::events::{now_utc_millis, EventPublisher};
use user_sync::store::UsersTable;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = OutboxRelayConfig::from_env()?;
    // Not primed: it runs on a schedule, with nobody waiting on its first call.
    let aws = user_sync::aws::load_config().await;
    let relay = Relay::new(
        UsersTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.users_table),
        EventPublisher::new(aws_sdk_sns::Client::new(&aws), &config.events_topic_arn),
        config.grace,
        config.max_events_per_run,
    );
    let namespace = config.metrics_namespace.as_str();
    let relay = &relay;
    // The payload (an EventBridge scheduled event, or anything when invoked by hand) only
    // says "run now".
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async move {
        let now = now_utc_millis();
        let report: RelayReport = relay.run(now).await?;
        metrics::emit(namespace, &report, now);
        tracing::info!(
            pending = report.pending,
            sent = report.sent,
            failed = report.failed,
            not_cleared = report.not_cleared,
            oldest_pending_age_seconds = report.oldest_pending_age_seconds,
            "relay run"
        );
        Ok::<_, Error>(report)
    }))
    .await
}
