use lambda_runtime::{service_fn, Error, LambdaEvent};
use reconciler::config::ReconcilerConfig;
use reconciler::{metrics, Check, DriftReport};
use user_sync::events::now_utc_millis;
use user_sync::store::{ErpEmployeesTable, UsersTable};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = ReconcilerConfig::from_env()?;
    // Not primed: it runs on a schedule, with nobody waiting on its first call.
    let aws = user_sync::aws::load_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let check = Check::new(
        UsersTable::new(dynamo.clone(), &config.users_table),
        ErpEmployeesTable::new(dynamo, &config.employees_table),
        config.settle,
    );
    let namespace = config.metrics_namespace.as_str();
    let check = &check;
    // The payload (an EventBridge scheduled event, or anything when invoked by hand) only
    // says "run now".
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async move {
        let started = now_utc_millis();
        let report: DriftReport = check.run(started).await?;
        metrics::emit(namespace, &report, started);
        tracing::info!(
            users = report.users,
            drifted = report.drifted(),
            repairable = report.repairable,
            in_flight = report.in_flight,
            unreadable = report.unreadable,
            "reconcile run"
        );
        Ok::<_, Error>(report)
    }))
    .await
}
