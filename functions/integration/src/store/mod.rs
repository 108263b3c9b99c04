pub mod processed;
pub mod users;

pub use processed::{ProcessedEvent, ProcessedUsersTable, RecordError, Recorded};
pub use users::{Inserted, StoreError, UserPage, UsersTable};
