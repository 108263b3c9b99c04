//! What the functions share: the user and ERP domain, the CRM's use cases (`crm`), the
//! event envelope and its publisher, the outbox's delivery, the reconciliation, the DynamoDB stores,
//! configuration and the AWS SDK setup. Nothing here knows about Lambda or HTTP; the HTTP
//! edge is `http-edge`, and each handler translates its trigger's payloads.

pub mod aws;
pub mod config;
pub mod crm;
pub mod domain;
pub mod errors;
pub mod events;
pub mod metrics;
pub mod outbox;
pub mod reconcile;
pub mod store;
