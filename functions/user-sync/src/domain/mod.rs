pub mod drift;
pub mod employee;
pub mod erp;
pub mod user;
pub mod validation;

pub use drift::{Drift, Upstream};
pub use employee::{Change, EmployeeState, EmployeeView, Order, SyncState, SyncStatus, MAX_PII_EVENT_IDS};
pub use erp::ErpEmployee;
pub use user::{EmailAddress, NewUser, PatchField, RawField, User, UserName, UserPatch};
pub use validation::{FieldError, ValidationErrors};
