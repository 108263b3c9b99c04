use std::collections::BTreeMap;

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
    let users = UsersTable::new(dynamo.clone(), &config.users_table);
    // Each consumer's view, compared in turn: one scan of Users per consumer keeps the
    // memory of a run at one page per segment.
    let views = std::iter::once(("erp", &config.employees_table))
        .chain(config.mirror_contacts_table.iter().map(|t| ("crm-mirror", t)));
    let checks: Vec<(&str, Check)> = views
        .map(|(consumer, table)| {
            (
                consumer,
                Check::new(
                    users.clone(),
                    ErpEmployeesTable::new(dynamo.clone(), table),
                    config.settle,
                ),
            )
        })
        .collect();
    let namespace = config.metrics_namespace.as_str();
    let checks = &checks;
    // The payload (an EventBridge scheduled event, or anything when invoked by hand) only
    // says "run now".
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async move {
        let started = now_utc_millis();
        let mut reports: BTreeMap<&str, DriftReport> = BTreeMap::new();
        for (consumer, check) in checks {
            let report = check.run(started).await?;
            metrics::emit(namespace, consumer, &report, started);
            tracing::info!(
                consumer,
                users = report.users,
                drifted = report.drifted(),
                repairable = report.repairable,
                in_flight = report.in_flight,
                unreadable = report.unreadable,
                "reconcile run"
            );
            reports.insert(consumer, report);
        }
        Ok::<_, Error>(reports)
    }))
    .await
}
