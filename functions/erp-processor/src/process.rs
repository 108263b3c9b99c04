//! Processing one event, whichever trigger delivered it: under a lease on its user (taken
//! while the event's audit record is looked up), apply it to the ERP if it is recorded
//! nowhere and newer than what the ERP holds, then write its record and the view together,
//! so the side effect happens once per event however often the event is delivered, and a
//! user's events take effect in version order however SQS orders them. An applied event is
//! two DynamoDB round trips (the lease with the look-up, the record with the view) and four
//! write units: the lease, the record and its `ByUserId` entry, the view.
//!
//! An event newer than the ERP's view is applied whatever lies between: `UserCreated` and
//! `UserUpdated` carry the user's whole state, so an update that arrives before its create
//! creates the employee record from that state, and the create, when it comes, is
//! superseded. Holding it back instead would wait on a create that may never come (the
//! original's users, a create left in the dead-letter queue) and would only replay states
//! the newest one overwrites. A deletion is final: no later event recreates the record. And
//! it is never superseded but by a deletion: it erases the user's name and email first,
//! then ends the employee, whatever version the view holds and whatever the ERP answers.
//! An event of the version the ERP holds, under another event id, is applied again: it is
//! that same state re-published (`scripts/backfill`), which an ERP that lost it needs.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use user_sync::domain::{Change, EmployeeState, EmployeeView, ErpEmployee, Order};
use user_sync::events::{now_utc_millis, EventEnvelope, EventType};
use user_sync::store::{
    Applied, Erased, ErpEmployeesTable, Found, Lease, Leased, ProcessedEvent, ProcessedUsersTable, RecordError,
    StoreError, Verdict,
};

use crate::downstream::RecordShape;
use crate::erp::{Budget, Erp, ErpError};

#[derive(Debug, Clone)]
pub struct Processor {
    table: ProcessedUsersTable,
    employees: ErpEmployeesTable,
    erp: Arc<dyn Erp>,
    erp_system: String,
    /// How the user's record downstream is named (`with_record`; the ERP's by default).
    record: RecordShape,
    claim_timeout: Duration,
}

/// What processing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    pub erp_record_id: String,
    /// When the event was first processed (earlier than now for a duplicate).
    pub processed_at: OffsetDateTime,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The ERP applied the event.
    Applied,
    /// The ERP held a newer version of the user, or had deleted it: no ERP call.
    Superseded,
    /// The event had been processed before: no ERP call.
    Duplicate,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Superseded => "superseded",
            Self::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The ERP view, or the erasure of the audit trail, failed.
    #[error("the processor's store failed")]
    Store(#[from] StoreError),
    /// Another delivery of the event, or of another event of its user, is being processed.
    #[error("another delivery of the event or of its user is being processed")]
    InProgress,
    /// The event id was processed with another payload: not a redelivery of this event.
    #[error("the event id is recorded with a different payload")]
    Conflict,
    /// The ERP did not take the event; nothing was recorded, so a redelivery tries again.
    #[error(transparent)]
    Erp(#[from] ErpError),
}

impl ProcessError {
    /// Fails again however often it is retried: the event conflicts with a recorded one, or
    /// the ERP refused it (a 4xx of its own). Everything else may succeed on a retry.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Conflict => true,
            Self::Erp(error) => error.is_permanent(),
            Self::Record(_) | Self::Store(_) | Self::InProgress => false,
        }
    }
}

impl Processor {
    /// `claim_timeout`: how long the lease on a user holds: longer than an invocation may run,
    /// so a live one never loses it; a dead one's is taken over after it.
    pub fn new(
        table: ProcessedUsersTable,
        employees: ErpEmployeesTable,
        erp: Arc<dyn Erp>,
        erp_system: &str,
        claim_timeout: Duration,
    ) -> Self {
        Self {
            table,
            employees,
            erp,
            erp_system: erp_system.to_owned(),
            record: RecordShape::Employee,
            claim_timeout,
        }
    }

    /// The same processor for a downstream whose records are named as `record` names them.
    pub fn with_record(self, record: RecordShape) -> Self {
        Self { record, ..self }
    }

    /// The ERP's view of each user, which this processor keeps.
    pub fn employees(&self) -> &ErpEmployeesTable {
        &self.employees
    }

    /// Processes `event`; its ERP call (with retries) ends within `budget`.
    pub async fn process(&self, event: &EventEnvelope, budget: Budget) -> Result<Processed, ProcessError> {
        let now = now_utc_millis();
        // One round trip: the look-up is only acted on under the lease, and the record's
        // write checks again, so a record landing in between is never overwritten.
        let (leased, found) = tokio::join!(
            self.employees.lease(&event.user.id, now, now + self.claim_timeout),
            self.table.find(event)
        );
        let (lease, view) = match leased? {
            Leased::Mine(lease, view) => (lease, view),
            Leased::Busy => return Err(ProcessError::InProgress),
        };
        let result = match found {
            Ok(found) => {
                self.process_leased(event, found, &lease, view.as_ref(), now, budget)
                    .await
            }
            Err(error) => Err(error.into()),
        };
        // Applied ends the lease with its write; anything else ends it here. A release that
        // fails only delays the user's next event until the lease expires.
        if !matches!(result, Ok((_, true))) {
            if let Err(error) = self.employees.release(&lease).await {
                tracing::warn!(user_id = %event.user.id, error = %user_sync::errors::chain(&error),
                    "the lease on the user was not released; it expires on its own");
            }
        }
        result.map(|(processed, _)| processed)
    }

    /// Processes `event` while its user is leased, given what its record `found`; `true`
    /// alongside when the view was written (which ended the lease).
    async fn process_leased(
        &self,
        event: &EventEnvelope,
        found: Found,
        lease: &Lease,
        view: Option<&EmployeeView>,
        now: OffsetDateTime,
        budget: Budget,
    ) -> Result<(Processed, bool), ProcessError> {
        let erp = ErpEmployee {
            record_id: self.record.record_id(&event.user.id),
            user_id: event.user.id.clone(),
            system: self.erp_system.clone(),
        };
        match found {
            Found::Nothing => {}
            Found::Duplicate { processed_at } => {
                let repaired = self
                    .finish_duplicate(event, &erp, lease, view, now, processed_at, budget)
                    .await?;
                let processed = Processed {
                    erp_record_id: erp.record_id,
                    processed_at,
                    outcome: Outcome::Duplicate,
                };
                return Ok((processed, repaired));
            }
            Found::Conflict => return Err(ProcessError::Conflict),
        }
        let order = EmployeeView::order(view, change_of(event), event.version(), &event.event_id);
        let verdict = match order {
            Order::Supersede { erp_version } => Verdict::Superseded {
                erp_version: Some(erp_version),
            },
            Order::Recorded => Verdict::Applied,
            Order::Apply => self.call_erp(event, &erp, lease, view, budget).await?,
        };
        let processed_at = now_utc_millis();
        let record = ProcessedEvent {
            event,
            erp: &erp,
            processed_at,
            verdict,
        };
        // The audit record and the view in one round trip: a delivery that dies between the
        // two leaves either the record (the duplicate's redelivery writes the view) or the
        // view (which names the event: the redelivery writes the record, `Recorded`).
        let view_write = async {
            match (verdict, order) {
                (Verdict::Applied, Order::Apply) => {
                    let applied = self.applied(event, &erp, processed_at, view);
                    Ok(self.employees.apply(lease, &applied.as_applied()).await?)
                }
                _ => Ok::<_, ProcessError>(false),
            }
        };
        let (recorded, wrote_view) = tokio::join!(self.table.record(&record), view_write);
        let wrote_view = wrote_view?;
        let processed_at = match recorded? {
            Found::Nothing => processed_at,
            // Only when this delivery outlived its lease: the ERP call ran twice.
            Found::Duplicate { processed_at } => {
                tracing::warn!(event_id = %event.event_id, "the event was recorded by another delivery meanwhile");
                processed_at
            }
            // Another user's event took the id in the same moment, before either was
            // recorded: this one reached the ERP under a key the other holds.
            Found::Conflict => {
                tracing::error!(event_id = %event.event_id, user_id = %event.user.id,
                    "the event id was recorded for another payload while this delivery called the ERP");
                return Err(ProcessError::Conflict);
            }
        };
        let outcome = match verdict {
            Verdict::Applied => Outcome::Applied,
            Verdict::Superseded { .. } => Outcome::Superseded,
        };
        let processed = Processed {
            erp_record_id: erp.record_id,
            processed_at,
            outcome,
        };
        Ok((processed, wrote_view))
    }

    /// Calls the ERP for an unrecorded event the view lets apply: `Applied`, or `Superseded`
    /// when the ERP says it holds a newer version. A deletion erases first: the ERP's delete
    /// needs ids only, and whatever the ERP answers (a refusal goes to the dead-letter queue)
    /// the PII is gone already. On failure nothing is recorded, so the redelivery (or the
    /// client's retry) tries again as soon as the lease is released.
    async fn call_erp(
        &self,
        event: &EventEnvelope,
        erp: &ErpEmployee,
        lease: &Lease,
        view: Option<&EmployeeView>,
        budget: Budget,
    ) -> Result<Verdict, ProcessError> {
        let deleting = change_of(event) == Change::Deletion;
        let called = async {
            if deleting {
                self.erase(event, view, budget).await?;
            }
            // Whatever the ERP, a call the budget has no room for is not started.
            if budget.remaining().is_zero() {
                return Err(ErpError::NoTime.into());
            }
            self.erp.integrate(event, erp, budget).await.map_err(ProcessError::from)
        };
        match called.await {
            Ok(()) => Ok(Verdict::Applied),
            // The ERP is ahead of the view (a call that timed out here landed there): the
            // event is superseded, as if the view had said so.
            Err(ProcessError::Erp(ErpError::Stale)) => Ok(Verdict::Superseded { erp_version: None }),
            Err(error) => {
                if deleting && matches!(error, ProcessError::Erp(_)) {
                    self.deleting(event, erp, lease, view).await;
                }
                Err(error)
            }
        }
    }

    /// A duplicate delivery: counted on its record, and if the delivery that recorded the
    /// event died before the view, finished (`true` when the view was written). A deletion
    /// is finished whole (the erasure and the ERP call are idempotent): an event applied in
    /// between may have brought the record and PII back.
    #[allow(clippy::too_many_arguments)] // one call site; each is a distinct input
    async fn finish_duplicate(
        &self,
        event: &EventEnvelope,
        erp: &ErpEmployee,
        lease: &Lease,
        view: Option<&EmployeeView>,
        now: OffsetDateTime,
        processed_at: OffsetDateTime,
        budget: Budget,
    ) -> Result<bool, ProcessError> {
        if let Err(error) = self.table.note_duplicate(&event.event_id, now).await {
            tracing::warn!(event_id = %event.event_id, error = %user_sync::errors::chain(&error),
                "a duplicate delivery was not counted on its record");
        }
        let change = change_of(event);
        if EmployeeView::holds(view, change, event.version()) {
            return Ok(false);
        }
        if change == Change::Deletion {
            self.erase(event, view, budget).await?;
            self.erp.integrate(event, erp, budget).await?;
        }
        let applied = self.applied(event, erp, processed_at, view);
        Ok(self.employees.apply(lease, &applied.as_applied()).await?)
    }

    /// Records a deletion the ERP did not take as `Deleting` (the erasure is done by then): no
    /// later state of the user applies, not even a producer's higher version, while the
    /// deletion's redelivery (or redrive) still calls the ERP. A failure here only leaves the
    /// view as it was, which the redelivery corrects.
    async fn deleting(&self, event: &EventEnvelope, erp: &ErpEmployee, lease: &Lease, view: Option<&EmployeeView>) {
        let mut applied = self.applied(event, erp, now_utc_millis(), view);
        applied.state = EmployeeState::Deleting;
        if let Err(error) = self.employees.apply(lease, &applied.as_applied()).await {
            tracing::warn!(user_id = %event.user.id, error = %user_sync::errors::chain(&error),
                "the deletion the ERP did not take was not recorded on the view");
        }
    }

    /// Removes the user's name and email from the audit trail, within `budget`: the records
    /// the view lists and those the index lists.
    async fn erase(
        &self,
        event: &EventEnvelope,
        view: Option<&EmployeeView>,
        budget: Budget,
    ) -> Result<(), ProcessError> {
        let known = view.map(|v| v.pii_event_ids.as_slice()).unwrap_or_default();
        let until = std::time::Instant::now() + budget.remaining();
        match self.table.erase(&event.user.id, known, until).await? {
            Erased::Complete { records } => {
                tracing::info!(event_id = %event.event_id, user_id = %event.user.id, records,
                    "the user's name and email erased from the audit trail");
                Ok(())
            }
            Erased::Incomplete { records, done } => Err(RecordError::ErasureIncomplete { records, done }.into()),
        }
    }

    /// The ERP's view once `event` is applied over `view` (the domain's rule).
    fn applied<'a>(
        &self,
        event: &'a EventEnvelope,
        erp: &'a ErpEmployee,
        at: OffsetDateTime,
        view: Option<&EmployeeView>,
    ) -> AppliedView<'a> {
        let (version, state, pii_event_ids) =
            EmployeeView::after(view, change_of(event), event.version(), &event.event_id);
        AppliedView {
            version,
            state,
            erp,
            event_id: &event.event_id,
            synced_at: at,
            pii_event_ids,
        }
    }
}

fn change_of(event: &EventEnvelope) -> Change {
    match event.event_type {
        EventType::UserDeleted => Change::Deletion,
        EventType::UserCreated | EventType::UserUpdated => Change::State,
    }
}

/// The view to write, owning the list of records that hold PII.
struct AppliedView<'a> {
    version: u64,
    state: EmployeeState,
    erp: &'a ErpEmployee,
    event_id: &'a str,
    synced_at: OffsetDateTime,
    pii_event_ids: Vec<String>,
}

impl<'a> AppliedView<'a> {
    fn as_applied(&self) -> Applied<'_> {
        Applied {
            version: self.version,
            state: self.state,
            erp_record_id: &self.erp.record_id,
            erp_system: &self.erp.system,
            event_id: self.event_id,
            synced_at: self.synced_at,
            pii_event_ids: &self.pii_event_ids,
        }
    }
}
