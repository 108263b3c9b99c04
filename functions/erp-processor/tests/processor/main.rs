//! The ERP processor through its Lambda handler, against a real MiniStack server.
mod helpers;

mod claims;
mod dispatch;
mod ordering;
mod post_events;
mod sqs_batch;
