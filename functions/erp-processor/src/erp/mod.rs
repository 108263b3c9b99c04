//! The ERP side of processing, behind one trait: the simulated ERP (the default, the
//! original's behaviour) or the HTTP connector (`ERP_ENDPOINT_URL`). Both report each call
//! to a `CallLog`, which the handler turns into the ERP call metrics of its invocation.

mod budget;
mod calls;
pub mod credentials;
mod http;
mod retry;
mod simulated;

use std::time::Duration;

use futures::future::BoxFuture;
use user_sync::domain::ErpEmployee;
use user_sync::events::EventEnvelope;

pub use budget::{answer_by, Budget, RESERVE};
pub use calls::{CallLog, CallSample};
pub use credentials::TokenSource;
pub use http::{HttpErp, HttpErpSettings};
pub use simulated::SimulatedErp;

/// Creates or updates the user's employee record from a `UserCreated` or `UserUpdated`,
/// removes it for a `UserDeleted`, within `budget`. Each must be idempotent per event id:
/// a delivery that dies after the call and before its record repeats it.
pub trait Erp: Send + Sync + std::fmt::Debug {
    fn integrate<'a>(
        &'a self,
        event: &'a EventEnvelope,
        employee: &'a ErpEmployee,
        budget: Budget,
    ) -> BoxFuture<'a, Result<(), ErpError>>;
}

/// Why the ERP did not take an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErpError {
    /// A 4xx other than 408 and 429 (or a redirect, which is not followed): this event will
    /// never be taken as it is.
    #[error("the ERP refused the event (HTTP {status}): {reason}")]
    Refused { status: u16, reason: String },
    /// A 412: the ERP holds a newer version of the employee, or deleted it (its contract's
    /// refusal of a stale write). Not a failure: the event is superseded at the ERP.
    #[error("the ERP holds a newer version of the employee, or deleted it (HTTP 412)")]
    Stale,
    /// The event cannot be put into a request at all.
    #[error("the event cannot be sent to the ERP: {0}")]
    Unsendable(&'static str),
    /// A 5xx, 408, 429, a timeout or no connection, on every attempt the budget allowed:
    /// a later delivery may succeed. `retry_after` is the ERP's own hint, when it gave one.
    #[error("the ERP is unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// The invocation had no time left to call the ERP at all: nothing is wrong with the
    /// event or the ERP, the record only needs another invocation.
    #[error("no time left in the invocation for an ERP call")]
    NoTime,
}

impl ErpError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Unsendable(_) | Self::Stale)
    }
}
