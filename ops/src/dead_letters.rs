//! `ops redrive`: a consumer's dead-letter queue for an operator (see `ops::redrive`).

use std::collections::HashSet;
use std::path::Path;

use ops::consumer::Resources;
use ops::redrive::{self, DeadLetter, Selection};
use ops::{Consumer, Outputs};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Ids from a queue may be anything a producer sent: shown at most this long.
const SHOWN_ID_CHARS: usize = 128;

pub async fn run(outputs: &Path, args: &[&str]) -> Result<(), String> {
    let (consumer, args) = Consumer::from_args(args)?;
    let queues = consumer.resources(&Outputs::read(outputs)?)?;
    let aws = ops::trust::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    match args {
        ["list"] => {
            let letters = redrive::list(&sqs, &queues.dead_letter_queue_url).await?;
            println!("{}", table(&letters));
            println!(
                "{} message(s) in the {} dead-letter queue",
                letters.len(),
                consumer.name()
            );
            Ok(())
        }
        ["move", "--all"] => move_chosen(&sqs, &queues, &Selection::All).await,
        ["move", ids @ ..] if !ids.is_empty() && !ids.iter().any(|id| id.starts_with("--")) => {
            let ids: HashSet<String> = ids.iter().map(|id| (*id).to_owned()).collect();
            move_chosen(&sqs, &queues, &Selection::Ids(ids)).await
        }
        _ => Err(USAGE.to_owned()),
    }
}

pub const USAGE: &str = "ops redrive [--outputs FILE] [--consumer erp|crm-mirror] list | ops redrive [--outputs FILE] [--consumer erp|crm-mirror] move (--all | EVENT_OR_MESSAGE_ID…)";

async fn move_chosen(sqs: &aws_sdk_sqs::Client, queues: &Resources, selection: &Selection) -> Result<(), String> {
    let mut count = 0;
    let moved = redrive::redrive(
        sqs,
        &queues.dead_letter_queue_url,
        &queues.queue_url,
        selection,
        |letter| {
            count += 1;
            println!("moved {count}: {}", describe(letter));
        },
    )
    .await?;
    if let Selection::Ids(ids) = selection {
        let found: HashSet<&str> = moved
            .iter()
            .flat_map(|l| [Some(l.message_id.as_str()), l.event_id.as_deref()])
            .flatten()
            .collect();
        let missing: Vec<&str> = ids
            .iter()
            .map(String::as_str)
            .filter(|id| !found.contains(id))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "moved {}; not in the dead-letter queue: {}",
                moved.len(),
                missing.iter().map(|id| shown(id)).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let left = redrive::depth(sqs, &queues.dead_letter_queue_url).await?;
    println!(
        "moved {} message(s) back to the consumer's queue; {left} left in its dead-letter queue",
        moved.len()
    );
    Ok(())
}

fn table(letters: &[DeadLetter]) -> String {
    let mut lines = vec!["MESSAGE ID\tEVENT ID\tTYPE\tUSER ID\tRECEIVES\tFIRST RECEIVED".to_owned()];
    lines.extend(letters.iter().map(|l| {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            l.message_id,
            l.event_id.as_deref().map_or("(not an event)".to_owned(), shown),
            l.event_type.as_deref().map_or("-".to_owned(), shown),
            l.user_id.as_deref().map_or("-".to_owned(), shown),
            l.receive_count,
            first_received(l)
        )
    }));
    lines.join("\n")
}

fn describe(letter: &DeadLetter) -> String {
    format!(
        "message {} event {} user {}",
        letter.message_id,
        letter.event_id.as_deref().map_or("(not an event)".to_owned(), shown),
        letter.user_id.as_deref().map_or("-".to_owned(), shown)
    )
}

fn first_received(letter: &DeadLetter) -> String {
    letter
        .first_received_ms
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

fn shown(id: &str) -> String {
    if id.chars().count() <= SHOWN_ID_CHARS {
        id.to_owned()
    } else {
        format!("{}…", id.chars().take(SHOWN_ID_CHARS).collect::<String>())
    }
}
