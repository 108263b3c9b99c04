//! What the functions share: the user domain, the user events' envelope, the
//! DynamoDB and SQS adapters and configuration. Nothing here knows about Lambda or HTTP;
//! the HTTP edge is `http-edge`, and each handler translates its trigger's payloads.

pub mod aws;
pub mod config;
pub mod domain;
pub mod errors;
pub mod events;
pub mod metrics;
pub mod store;
