//! The CRM API through its Lambda handler, against a real moto server.
mod helpers;

mod create_user;
mod docs;
mod get_user;
mod idempotency;
mod list_users;
mod routing;
mod users_table;
