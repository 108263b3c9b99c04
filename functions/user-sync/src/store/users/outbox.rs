//! The transactional outbox, kept on the `Users` items themselves: a user and its pending
//! `UserCreated` event are written by one `PutItem`, so neither can exist without the
//! other. A pending event is five attributes of the user item (see `item`), all removed
//! once the event is on the queue.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use uuid::Uuid;

use super::item::{
    PendingEvent, OUTBOX, OUTBOX_CORRELATION_ID, OUTBOX_EVENT, OUTBOX_EVENT_ID, OUTBOX_SINCE, PENDING,
    PENDING_EVENTS_INDEX,
};
use super::UsersTable;
use crate::store::StoreError;

/// Whether `mark_pending` put the event in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    Marked,
    /// Another event is pending for the user (it is delivered first), or the user is gone.
    NotMarked,
}

/// Whether `clear_pending` removed the mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleared {
    Cleared,
    /// Someone (the relay, or the API) cleared it first, or it marks another event.
    NotPending,
}

impl UsersTable {
    /// Pending events created at or before `cutoff`, oldest first, at most `limit`.
    /// The index is eventually consistent: an event just cleared may still be listed,
    /// which costs one duplicate send that the processor's idempotency absorbs.
    pub async fn pending_events(&self, cutoff: OffsetDateTime, limit: usize) -> Result<Vec<PendingEvent>, StoreError> {
        let cutoff_ms = cutoff.unix_timestamp_nanos() / 1_000_000;
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = i32::try_from(limit - found.len()).unwrap_or(i32::MAX);
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(PENDING_EVENTS_INDEX)
                .key_condition_expression("#outbox = :pending AND #since <= :cutoff")
                .expression_attribute_names("#outbox", OUTBOX)
                .expression_attribute_names("#since", OUTBOX_SINCE)
                .expression_attribute_values(":pending", AttributeValue::S(PENDING.to_owned()))
                .expression_attribute_values(":cutoff", AttributeValue::N(cutoff_ms.to_string()))
                .scan_index_forward(true)
                .limit(page)
                .set_exclusive_start_key(start)
                .send()
                .await?;
            for item in out.items() {
                match PendingEvent::from_item(item) {
                    Some(pending) => found.push(pending),
                    // Only this module writes these attributes; a malformed one would be a
                    // bug, and skipping it keeps every other event moving.
                    None => tracing::error!(
                        user_id = item.get("Id").and_then(|v| v.as_s().ok()).map(String::as_str),
                        "malformed pending event skipped"
                    ),
                }
            }
            start = out.last_evaluated_key.filter(|k| !k.is_empty());
            if found.len() >= limit || start.is_none() {
                return Ok(found);
            }
        }
    }

    /// Puts `event` in the outbox of an existing user: the same mark `insert` writes, so the
    /// relay delivers it if nobody else does. Conditional on the user existing and holding
    /// no other pending event (or this very one), so it never replaces an undelivered event.
    pub async fn mark_pending(&self, user_id: Uuid, event: &PendingEvent) -> Result<Marked, StoreError> {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("Id", AttributeValue::S(user_id.to_string()))
            .update_expression("SET #outbox = :outbox, #since = :since, #event_id = :event_id, #event = :event, #correlation = :correlation")
            .condition_expression("attribute_exists(Id) AND (attribute_not_exists(#outbox) OR #event_id = :event_id)");
        request = with_outbox_names(request);
        let mut values = event.attributes();
        for (name, placeholder) in [
            (OUTBOX, ":outbox"),
            (OUTBOX_SINCE, ":since"),
            (OUTBOX_EVENT_ID, ":event_id"),
            (OUTBOX_EVENT, ":event"),
            (OUTBOX_CORRELATION_ID, ":correlation"),
        ] {
            let value = values.remove(name).expect("a pending event has every outbox attribute");
            request = request.expression_attribute_values(placeholder, value);
        }
        Ok(if crate::store::written(request.send().await)? {
            Marked::Marked
        } else {
            Marked::NotMarked
        })
    }

    /// Removes the pending mark of `event_id` from the user's item. Conditional on the mark
    /// still naming that event, so it never removes a mark it did not see sent.
    pub async fn clear_pending(&self, user_id: &str, event_id: &str) -> Result<Cleared, StoreError> {
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("Id", AttributeValue::S(user_id.to_owned()))
            .update_expression("REMOVE #outbox, #since, #event_id, #event, #correlation")
            .condition_expression("#event_id = :event_id")
            .expression_attribute_values(":event_id", AttributeValue::S(event_id.to_owned()));
        let result = with_outbox_names(request).send().await;
        Ok(if crate::store::written(result)? {
            Cleared::Cleared
        } else {
            Cleared::NotPending
        })
    }

    /// Whether the user's item still holds a pending event (read consistently).
    pub async fn has_pending(&self, user_id: Uuid) -> Result<bool, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("Id", AttributeValue::S(user_id.to_string()))
            .projection_expression("#outbox")
            .expression_attribute_names("#outbox", OUTBOX)
            .consistent_read(true)
            .send()
            .await?;
        Ok(out.item.is_some_and(|item| item.contains_key(OUTBOX)))
    }
}

/// The `#…` names of the five outbox attributes, for an update that sets or removes them.
fn with_outbox_names(request: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
    request
        .expression_attribute_names("#outbox", OUTBOX)
        .expression_attribute_names("#since", OUTBOX_SINCE)
        .expression_attribute_names("#event_id", OUTBOX_EVENT_ID)
        .expression_attribute_names("#event", OUTBOX_EVENT)
        .expression_attribute_names("#correlation", OUTBOX_CORRELATION_ID)
}
