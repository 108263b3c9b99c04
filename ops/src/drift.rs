//! `ops reconcile`: compare `Users` with each consumer's view, report, and repair on request
//! (see `user_sync::reconcile`).

use std::path::Path;

use ops::{Consumer, Outputs};
use user_sync::crm::{Crm, Delivery};
use user_sync::domain::Drift;
use user_sync::events::EventPublisher;
use user_sync::outbox::Outbox;
use user_sync::reconcile::{self, Drifted, Found};
use user_sync::store::{ErpEmployeesTable, UsersTable};

const USAGE: &str = "ops reconcile --outputs FILE [--consumer erp|crm-mirror] [--repair]";

pub async fn run(outputs: &Path, args: &[&str]) -> Result<(), String> {
    let outputs = Outputs::read(outputs)?;
    let (named, repair) = Consumer::named_in(args)?;
    let consumers = match named {
        Some(consumer) => vec![(consumer, consumer.resources(&outputs)?)],
        None => Consumer::deployed(&outputs),
    };
    let repair = match repair {
        [] => false,
        ["--repair"] => true,
        _ => return Err(USAGE.to_owned()),
    };
    let aws = ops::trust::sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let users = UsersTable::new(dynamo.clone(), &outputs.users_table_name);
    // Each consumer's view in turn; a user drifted at several is repaired once, since a
    // repair re-publishes through the topic, which every consumer receives.
    let mut to_repair = Found::default();
    for (consumer, resources) in consumers {
        let views = ErpEmployeesTable::new(dynamo.clone(), &resources.view_table);
        let name = consumer.name();
        let found = reconcile::compare(&users, &views, |read| eprintln!("{name}: {read} users compared")).await?;
        print!("{}", report(name, &found));
        add_repairable(&mut to_repair, found);
    }
    let found = to_repair;
    if !repair || found.repairable() == 0 {
        return Ok(());
    }
    // A run's own event ids, even for two runs in one millisecond.
    let generation = format!(
        "reconcile-{}-{}",
        time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let events = EventPublisher::new(aws_sdk_sns::Client::new(&aws), &outputs.events_topic_arn);
    let crm = Crm::new(Outbox::new(users, events), Delivery::Writer);
    let done = reconcile::repair(&crm, &found, &generation).await?;
    println!(
        "repair {generation:?}: {} sent, {} pending for the relay, {} skipped (another event pending, or changed since)",
        done.sent, done.left_pending, done.skipped
    );
    Ok(())
}

/// The repairable drifted users of `found` not in `all` yet, added to it.
fn add_repairable(all: &mut Found, found: Found) {
    let known: std::collections::HashSet<uuid::Uuid> = all.drift.values().flatten().map(Drifted::id).collect();
    for (drift, users) in found.drift.into_iter().filter(|(d, _)| d.repairable()) {
        let new = users.into_iter().filter(|u| !known.contains(&u.id()));
        all.drift.entry(drift).or_default().extend(new);
    }
}

/// One consumer's count per verdict, then each drifted user as `VERDICT ID` on a line of its
/// own (to grep or to feed `scripts/backfill`): never a name or an email.
fn report(consumer: &str, found: &Found) -> String {
    let mut out = format!("{consumer}: {} users compared with its view\n", found.users);
    if found.unreadable > 0 {
        out += &format!("  ({} items of Users are no user's: not compared)\n", found.unreadable);
    }
    for drift in Drift::ALL {
        let what = if drift.repairable() {
            "--repair re-sends"
        } else {
            "for an operator: see docs/operations.md"
        };
        out += &format!("  {:<17} {:>7}  ({what})\n", drift.as_str(), found.count(drift));
    }
    for (drift, users) in &found.drift {
        for user in users {
            out += &format!("{} {}\n", drift.as_str().replace(' ', "-"), user.id());
        }
    }
    out
}
