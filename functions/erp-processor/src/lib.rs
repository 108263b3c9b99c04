//! The consumer core and its two binaries (`downstream`): the ERP processor, one Lambda
//! function behind two triggers (`trigger`), and the CRM mirror, behind its own queue only.
//! SQS delivers batches of the users' events (answered with partial batch failures); API
//! Gateway delivers `POST /events` with one event in the body. All run the same `Processor`.

pub mod app;
pub mod config;
pub mod deferral;
pub mod downstream;
pub mod erp;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod process;
mod run;
pub mod trigger;

pub use app::App;
pub use run::run;
pub use trigger::{handle, InvocationError};
