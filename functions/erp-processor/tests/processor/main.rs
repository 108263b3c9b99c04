//! The ERP processor through its Lambda handler, against a real MiniStack server.
mod helpers;

mod claims;
mod dispatch;
mod http_erp;
mod ordering;
mod post_events;
mod sqs_batch;
