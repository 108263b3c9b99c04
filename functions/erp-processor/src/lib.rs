//! The ERP processor: one Lambda function behind two triggers (`trigger`). SQS delivers
//! batches of the users' events (answered with partial batch failures); API Gateway
//! delivers `POST /events` with one event in the body. Both run the same `Processor`.

pub mod app;
pub mod config;
pub mod deferral;
pub mod erp;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod process;
pub mod trigger;

pub use app::App;
pub use trigger::{handle, InvocationError};
