//! The relay's stream input: the events that the `Users` writes of a stream batch left to
//! deliver (`PendingEvent::left_by_write`), one per user: its oldest, since delivering it
//! moves the user's next one up (`Outbox::deliver`).

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use user_sync::store::PendingEvent;

/// In the records' order, which is each user's order of writes.
pub fn left_by_writes(records: &[EventRecord]) -> Vec<PendingEvent> {
    let mut users = HashSet::new();
    records
        .iter()
        .filter_map(|record| {
            let before: HashMap<String, AttributeValue> = record.change.old_image.clone().into();
            let after: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
            PendingEvent::left_by_write((!before.is_empty()).then_some(&before), &after)
        })
        .filter(|pending| users.insert(pending.event.user.id.clone()))
        .collect()
}
