//! `ops backfill`: re-publish users' current state through the outbox (see `ops::backfill`).

use std::path::Path;

use ops::backfill::{self, Users};
use ops::Outputs;
use user_sync::events::EventPublisher;
use user_sync::store::UsersTable;
use uuid::Uuid;

const USAGE: &str = "ops backfill --outputs FILE [--generation NAME] (--all | USER_ID…)";

pub async fn run(outputs: &Path, args: &[&str]) -> Result<(), String> {
    let (generation, rest) = match args {
        ["--generation", name, rest @ ..] => (*name, rest),
        rest => ("1", rest),
    };
    let which = match rest {
        ["--all"] => Users::All,
        ids if !ids.is_empty() => Users::Ids(
            ids.iter()
                .map(|id| Uuid::try_parse(id).map_err(|_| format!("{id:?} is not a user id (a UUID)")))
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err(USAGE.to_owned()),
    };
    let outputs = Outputs::read(outputs)?;
    let aws = ops::trust::sdk_config().await;
    let users = UsersTable::new(aws_sdk_dynamodb::Client::new(&aws), &outputs.users_table_name);
    let events = EventPublisher::new(aws_sdk_sns::Client::new(&aws), &outputs.events_topic_arn);
    let done = backfill::run(&users, &events, &which, generation, |p| {
        eprintln!(
            "page {}: {} users, {} sent, {} left to the relay, {} skipped",
            p.pages, p.users, p.sent, p.left_pending, p.skipped
        );
    })
    .await?;
    println!(
        "backfill generation {generation:?}: {} users, {} sent, {} pending for the relay, {} skipped (another event pending), {} not found",
        done.users, done.sent, done.left_pending, done.skipped, done.not_found
    );
    Ok(())
}
