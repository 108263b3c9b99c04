use aws_lambda_events::event::dynamodb;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use outbox_relay::config::OutboxRelayConfig;
use outbox_relay::{metrics, Relay};
use user_sync::events::{now_utc_millis, EventPublisher};
use user_sync::store::UsersTable;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = OutboxRelayConfig::from_env()?;
    // Not primed: nobody waits on its first call (a schedule, or a stream batch whose events
    // are already stored).
    let aws = user_sync::aws::load_config().await;
    let relay = Relay::new(
        UsersTable::new(aws_sdk_dynamodb::Client::new(&aws), &config.users_table),
        EventPublisher::new(aws_sdk_sns::Client::new(&aws), &config.events_topic_arn),
        config.grace,
        config.max_events_per_run,
    );
    let namespace = config.metrics_namespace.as_str();
    let relay = &relay;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        let now = now_utc_millis();
        // The table's stream sends its records; the schedule (or an operator invoking by
        // hand) sends anything else, which only says "run now".
        let (trigger, report) = if event.payload.get("Records").is_some() {
            let batch: dynamodb::Event = serde_json::from_value(event.payload)?;
            ("stream", relay.deliver_written(&batch.records, now).await)
        } else {
            ("schedule", relay.run(now).await?)
        };
        metrics::emit(namespace, &report, now);
        tracing::info!(
            trigger,
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
