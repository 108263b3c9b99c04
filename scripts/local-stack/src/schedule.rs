//! Stands in for the EventBridge schedule that runs `outbox-relay`.

use std::time::Duration;

use serde_json::json;

use crate::invoke::Lambda;
use crate::AnyError;

pub async fn run(lambda: Lambda, function: String, every: Duration) -> Result<(), AnyError> {
    println!("[schedule] {function} every {}s", every.as_secs());
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // The shape EventBridge sends for a scheduled rule.
        let event = json!({
            "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "region": "us-east-1",
            "time": "1970-01-01T00:00:00Z", "resources": [], "detail": {}
        });
        match lambda.invoke(&function, &event).await {
            Ok(report) => println!("[schedule] {function}: {report}"),
            Err(e) => eprintln!("[schedule] {function} failed: {e}"),
        }
    }
}
