//! The ERP processor: one Lambda function behind two triggers. SQS delivers batches of
//! `UserCreated`, `UserUpdated` and `UserDeleted` events (answered with partial batch
//! failures); API Gateway delivers `POST /events` with one event in the body. Both run the
//! same `Processor`.

pub mod app;
pub mod batch;
pub mod config;
pub mod deferral;
pub mod erp;
pub mod error;
pub mod handler;
pub mod metrics;
pub mod openapi;
pub mod process;
pub mod routes;

pub use app::App;
pub use handler::{handle, InvocationError};
