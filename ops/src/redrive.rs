//! The dead-letter queue, for an operator: what is in it (ids only, never a name or an
//! email), and moving chosen messages back to the events queue. A move sends first and
//! deletes only what was sent, so a crash midway loses nothing: at worst a message is in
//! both queues, and the processor records an event once. Plain SQS calls, so it works on
//! AWS and on an emulator alike (neither MiniStack nor moto has `StartMessageMoveTask`).

use std::collections::{HashMap, HashSet};

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName as Attr, QueueAttributeName};
use aws_sdk_sqs::Client;
use serde_json::Value;

/// How long a message this tool holds stays hidden from other consumers: a crash leaves
/// it invisible no longer than this. Released messages are made visible at once. Reading a
/// queue takes well under this for thousands of messages; for a far larger backlog on AWS,
/// `aws sqs start-message-move-task` moves everything.
const HOLD_SECONDS: i32 = 300;

/// One dead-lettered message, as far as it can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    /// `None` when the body is not an event envelope (a poison message).
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub user_id: Option<String>,
    pub receive_count: u32,
    /// When a consumer of the events queue first received it (ms since the epoch).
    pub first_received_ms: Option<i64>,
}

/// Which messages to move.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    /// Messages whose event id or message id is one of these.
    Ids(HashSet<String>),
}

impl Selection {
    fn takes(&self, letter: &DeadLetter) -> bool {
        match self {
            Self::All => true,
            Self::Ids(ids) => {
                ids.contains(&letter.message_id) || letter.event_id.as_ref().is_some_and(|id| ids.contains(id))
            }
        }
    }
}

/// A message received and held (invisible) until it is moved or released.
struct Held {
    letter: DeadLetter,
    body: String,
    /// The message attributes (`eventType`, `correlationId`), sent on with the body.
    attributes: Option<HashMap<String, MessageAttributeValue>>,
    receipt: String,
}

/// Every message in the queue, without taking any: each is received, read and released.
pub async fn list(sqs: &Client, dead_letters: &str) -> Result<Vec<DeadLetter>, String> {
    let held = receive_all(sqs, dead_letters).await?;
    release(sqs, dead_letters, &held).await?;
    Ok(held.into_iter().map(|h| h.letter).collect())
}

/// Moves the chosen messages to `target`, one at a time (send, then delete), calling
/// `progress` after each; releases the others. Returns what was moved.
pub async fn redrive(
    sqs: &Client,
    dead_letters: &str,
    target: &str,
    selection: &Selection,
    mut progress: impl FnMut(&DeadLetter),
) -> Result<Vec<DeadLetter>, String> {
    let held = receive_all(sqs, dead_letters).await?;
    let (chosen, others): (Vec<Held>, Vec<Held>) = held.into_iter().partition(|h| selection.takes(&h.letter));
    release(sqs, dead_letters, &others).await?;
    let mut moved = Vec::new();
    for (i, message) in chosen.iter().enumerate() {
        let sent = sqs
            .send_message()
            .queue_url(target)
            .message_body(&message.body)
            .set_message_attributes(message.attributes.clone())
            .send()
            .await;
        if let Err(e) = sent {
            // Nothing of this one or the rest was sent: make them visible again now.
            release(sqs, dead_letters, &chosen[i..]).await?;
            return Err(format!(
                "send {} to the events queue: {} (moved {} before it; it and the rest stay in the dead-letter queue)",
                message.letter.message_id,
                DisplayErrorContext(&e),
                moved.len()
            ));
        }
        // Sent: a failed delete only leaves a duplicate behind, which the processor absorbs.
        let deleted = sqs
            .delete_message()
            .queue_url(dead_letters)
            .receipt_handle(&message.receipt)
            .send()
            .await;
        if let Err(e) = deleted {
            release(sqs, dead_letters, &chosen[i + 1..]).await?;
            return Err(format!(
                "{} was sent but not deleted from the dead-letter queue (it will be delivered twice; harmless): {} (moved {} before it; the rest stay in the dead-letter queue)",
                message.letter.message_id,
                DisplayErrorContext(&e),
                moved.len()
            ));
        }
        progress(&message.letter);
        moved.push(message.letter.clone());
    }
    Ok(moved)
}

/// How many messages the queue holds, visible or not (SQS's approximation).
pub async fn depth(sqs: &Client, queue: &str) -> Result<u64, String> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| format!("attributes of {queue}: {}", DisplayErrorContext(&e)))?;
    let attributes = out.attributes.unwrap_or_default();
    Ok([
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|name| attributes.get(name)?.parse::<u64>().ok())
    .sum())
}

/// Receives until the queue answers empty or with nothing new; every message stays held
/// for `HOLD_SECONDS`, each kept once.
async fn receive_all(sqs: &Client, queue: &str) -> Result<Vec<Held>, String> {
    let mut held = Vec::new();
    let mut seen = HashSet::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(HOLD_SECONDS)
            // Long polling asks every SQS server, so an empty answer means an empty queue.
            .wait_time_seconds(1)
            .message_system_attribute_names(Attr::ApproximateReceiveCount)
            .message_system_attribute_names(Attr::ApproximateFirstReceiveTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| format!("receive from {queue}: {}", DisplayErrorContext(&e)))?;
        let messages = out.messages.unwrap_or_default();
        let before = held.len();
        for message in messages {
            let (Some(receipt), Some(message_id)) = (message.receipt_handle.clone(), message.message_id.clone()) else {
                continue;
            };
            // Received again once its hold ran out: the first receipt still holds it.
            if !seen.insert(message_id.clone()) {
                continue;
            }
            let body = message.body.clone().unwrap_or_default();
            let attributes = message.attributes.unwrap_or_default();
            let number = |name: Attr| attributes.get(&name).and_then(|v| v.parse::<i64>().ok());
            let envelope: Option<Value> = serde_json::from_str(&body).ok();
            let field = |pointer: &str| {
                envelope
                    .as_ref()
                    .and_then(|e| e.pointer(pointer))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let letter = DeadLetter {
                message_id,
                event_id: field("/eventId"),
                event_type: field("/eventType"),
                user_id: field("/user/id"),
                receive_count: number(Attr::ApproximateReceiveCount)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
                first_received_ms: number(Attr::ApproximateFirstReceiveTimestamp),
            };
            held.push(Held {
                letter,
                body,
                attributes: message.message_attributes,
                receipt,
            });
        }
        // Empty, or nothing new: everything is held.
        if held.len() == before {
            return Ok(held);
        }
    }
}

/// Makes held messages visible again at once.
async fn release(sqs: &Client, queue: &str, held: &[Held]) -> Result<(), String> {
    for message in held {
        sqs.change_message_visibility()
            .queue_url(queue)
            .receipt_handle(&message.receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| format!("release {}: {}", message.letter.message_id, DisplayErrorContext(&e)))?;
    }
    Ok(())
}
