//! The CRM API through its Lambda handler, against a real MiniStack server.
mod helpers;

mod changes;
mod create_user;
mod docs;
mod get_user;
mod idempotency;
mod legacy_rows;
mod list_users;
mod routing;
mod users_table;
