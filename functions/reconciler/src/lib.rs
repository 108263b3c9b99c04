//! The scheduled reconciliation: every run compares `Users` with the ERP's view
//! (`user_sync::reconcile`, as `scripts/reconcile` does) and publishes what drifted as
//! metrics, with an alarm on them in the template. It repairs nothing: a repair re-sends
//! users' events, which an operator decides (`scripts/reconcile --repair`).

pub mod check;
pub mod config;
pub mod metrics;

pub use check::{Check, DriftReport};
