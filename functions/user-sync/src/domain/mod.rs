pub mod erp;
pub mod user;
pub mod validation;

pub use erp::ErpEmployee;
pub use user::{EmailAddress, NewUser, RawField, User, UserName};
pub use validation::{FieldError, ValidationErrors};
