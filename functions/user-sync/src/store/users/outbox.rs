//! The transactional outbox, kept on the `Users` items themselves: a user and its pending
//! event are written by one `PutItem` (or, for a change, one `UpdateItem`), so neither can
//! exist without the other. The oldest pending event is five attributes of the user item
//! (see `item`), which the `PendingEvents` index lists; later ones wait in `OutboxLater`.
//! Clearing the oldest once it is published moves the next one up, so a user's events
//! are sent one after the other, in version order.

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;
use uuid::Uuid;

use super::item::{
    PendingEvent, OUTBOX, OUTBOX_CORRELATION_ID, OUTBOX_EVENT, OUTBOX_EVENT_ID, OUTBOX_LATER, OUTBOX_SINCE, PENDING,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleared {
    /// Nothing else of the user is pending.
    Cleared,
    /// Cleared; this later event of the user is now the oldest pending: send it next.
    Next(PendingEvent),
    /// Someone (the relay, or the API) cleared it first, or it marks another event.
    NotPending,
}

/// How often `clear_pending` reads again when a change moved the outbox under it.
const CLEAR_ATTEMPTS: usize = 5;

impl UsersTable {
    /// Pending events created at or before `cutoff`, oldest first, at most `limit`.
    /// The index is eventually consistent: an event just cleared may still be listed,
    /// which costs one duplicate send that the processor's idempotency absorbs.
    pub async fn pending_events(&self, cutoff: OffsetDateTime, limit: usize) -> Result<Vec<PendingEvent>, StoreError> {
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
                .expression_attribute_values(":cutoff", crate::store::epoch_millis(cutoff))
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
    /// relay delivers it if nobody else does. Conditional on the user existing, not deleted
    /// (a tombstone never takes back a name and email), and holding no other pending event
    /// (or this very one), so it never replaces an undelivered event.
    pub async fn mark_pending(&self, user_id: Uuid, event: &PendingEvent) -> Result<Marked, StoreError> {
        let request = self.marking(user_id).condition_expression(
            "attribute_exists(Id) AND attribute_not_exists(DeletedAt) \
             AND (attribute_not_exists(#outbox) OR #event_id = :event_id)",
        );
        self.mark(request, event).await
    }

    /// Puts `event`, a deletion sent again, in the outbox of the tombstone of `user_id` at
    /// `version`, unless another event of it is pending (the same: it is marked again) or
    /// the row is no longer that tombstone.
    pub async fn mark_deletion_pending(
        &self,
        user_id: Uuid,
        version: u64,
        event: &PendingEvent,
    ) -> Result<Marked, StoreError> {
        let request = self
            .marking(user_id)
            .condition_expression(
                "attribute_exists(DeletedAt) AND Version = :version \
                 AND (attribute_not_exists(#outbox) OR #event_id = :event_id)",
            )
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()));
        self.mark(request, event).await
    }

    fn marking(&self, user_id: Uuid) -> UpdateItemFluentBuilder {
        self.client()
            .update_item()
            .table_name(self.table())
            .key("Id", AttributeValue::S(user_id.to_string()))
            .update_expression("SET #outbox = :outbox, #since = :since, #event_id = :event_id, #event = :event, #correlation = :correlation")
    }

    async fn mark(&self, request: UpdateItemFluentBuilder, event: &PendingEvent) -> Result<Marked, StoreError> {
        let mut request = with_outbox_names(request);
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

    /// Removes the pending mark of `event_id` from the user's item, and moves the user's
    /// next pending event, if any, into its place. Conditional on the mark still naming that
    /// event (and on the later events being those read), so it never removes a mark it did
    /// not see sent, nor loses an event a change adds meanwhile.
    pub async fn clear_pending(&self, user_id: &str, event_id: &str) -> Result<Cleared, StoreError> {
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("Id", AttributeValue::S(user_id.to_owned()))
            .update_expression("REMOVE #outbox, #since, #event_id, #event, #correlation")
            .condition_expression("#event_id = :event_id AND attribute_not_exists(#later)")
            .expression_attribute_names("#later", OUTBOX_LATER)
            .expression_attribute_values(":event_id", AttributeValue::S(event_id.to_owned()));
        if crate::store::written(with_outbox_names(request).send().await)? {
            return Ok(Cleared::Cleared);
        }
        for _ in 0..CLEAR_ATTEMPTS {
            let out = self
                .client()
                .get_item()
                .table_name(self.table())
                .key("Id", AttributeValue::S(user_id.to_owned()))
                .consistent_read(true)
                .send()
                .await?;
            let item = out.item.unwrap_or_default();
            if item
                .get(OUTBOX_EVENT_ID)
                .and_then(|v| v.as_s().ok())
                .map(String::as_str)
                != Some(event_id)
            {
                return Ok(Cleared::NotPending);
            }
            let later = item
                .get(OUTBOX_LATER)
                .and_then(|v| v.as_l().ok())
                .cloned()
                .unwrap_or_default();
            let next = later.first().and_then(PendingEvent::from_later);
            if next.is_none() && !later.is_empty() {
                // Only this module writes them: a bug, logged rather than blocking the user.
                tracing::error!(user_id, "malformed later pending events dropped");
            }
            let request = self.move_up(user_id, event_id, &later, next.as_ref());
            if crate::store::written(with_outbox_names(request).send().await)? {
                return Ok(next.map_or(Cleared::Cleared, Cleared::Next));
            }
        }
        // Changes kept moving the outbox: the relay clears it on a later run (sending the
        // event once more, which the processor absorbs).
        Ok(Cleared::NotPending)
    }

    /// The write that replaces the pending mark of `event_id` with `next` (the first of
    /// `later`), or removes it when there is none. Conditional on the later events exactly as
    /// read: a change replaces the one pending update with a newer one (the list keeps its
    /// length), which must not be lost under the move.
    fn move_up(
        &self,
        user_id: &str,
        event_id: &str,
        later: &[AttributeValue],
        next: Option<&PendingEvent>,
    ) -> UpdateItemFluentBuilder {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .key("Id", AttributeValue::S(user_id.to_owned()))
            .expression_attribute_names("#later", OUTBOX_LATER)
            .expression_attribute_values(":event_id", AttributeValue::S(event_id.to_owned()));
        request = if later.is_empty() {
            request.condition_expression("#event_id = :event_id AND attribute_not_exists(#later)")
        } else {
            request
                .expression_attribute_values(":read", AttributeValue::L(later.to_vec()))
                .condition_expression("#event_id = :event_id AND #later = :read")
        };
        let Some(next) = next else {
            return request.update_expression("REMOVE #outbox, #since, #event_id, #event, #correlation, #later");
        };
        for (name, value) in next.attributes() {
            request = request.expression_attribute_values(format!(":{name}"), value);
        }
        let head = format!(
            "SET #outbox = :{OUTBOX}, #since = :{OUTBOX_SINCE}, #event_id = :{OUTBOX_EVENT_ID}, \
             #event = :{OUTBOX_EVENT}, #correlation = :{OUTBOX_CORRELATION_ID}"
        );
        if later.len() == 1 {
            request.update_expression(format!("{head} REMOVE #later"))
        } else {
            request
                .expression_attribute_values(":rest", AttributeValue::L(later[1..].to_vec()))
                .update_expression(format!("{head}, #later = :rest"))
        }
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
