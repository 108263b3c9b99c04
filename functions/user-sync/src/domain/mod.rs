pub mod erp;
pub mod user;
pub mod validation;

pub use erp::ErpEmployee;
pub use user::{EmailAddress, NewUser, PatchField, RawField, User, UserName, UserPatch};
pub use validation::{FieldError, ValidationErrors};
