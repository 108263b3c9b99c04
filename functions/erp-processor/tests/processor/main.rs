//! The ERP processor and the CRM mirror through their Lambda handler, against a real
//! MiniStack server.
mod helpers;

mod crm_mirror;
mod deferral;
mod dispatch;
mod http_erp;
mod once;
mod ordering;
mod post_events;
mod sqs_batch;
