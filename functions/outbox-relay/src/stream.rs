//! The relay's stream input: the events that the `Users` writes of a stream batch put at the
//! head of their users' outboxes (`PendingEvent::left_by_write`), one per user: its last
//! write's. An earlier one of the batch was replaced (a deletion replaces the outbox) or
//! was already delivered (its clearing made room for the later head); delivering the head
//! moves the user's next event up (`Outbox::deliver`).

use std::collections::HashMap;

use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodb::types::AttributeValue;
use user_sync::store::PendingEvent;

/// In the order of each user's first record.
pub fn left_by_writes(records: &[EventRecord]) -> Vec<PendingEvent> {
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut heads: Vec<PendingEvent> = Vec::new();
    for record in records {
        let before: HashMap<String, AttributeValue> = record.change.old_image.clone().into();
        let after: HashMap<String, AttributeValue> = record.change.new_image.clone().into();
        let Some(head) = PendingEvent::left_by_write((!before.is_empty()).then_some(&before), &after) else {
            continue;
        };
        match at.get(&head.event.user.id) {
            Some(&i) => heads[i] = head,
            None => {
                at.insert(head.event.user.id.clone(), heads.len());
                heads.push(head);
            }
        }
    }
    heads
}
