//! The ERP processor through its Lambda handler, against a real MiniStack server.
mod helpers;

mod dispatch;
mod http_erp;
mod once;
mod ordering;
mod post_events;
mod sqs_batch;
