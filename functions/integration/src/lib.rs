//! What both functions share: the user domain, the `UserCreated` event envelope, the
//! DynamoDB and SQS adapters, configuration and the problem document. Nothing here knows
//! about Lambda; the functions' handlers translate between Lambda payloads and these types.

pub mod aws;
pub mod config;
pub mod domain;
pub mod errors;
pub mod events;
pub mod http;
pub mod problem;
pub mod store;
