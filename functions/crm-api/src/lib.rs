//! The CRM API: `POST /api/crm`, `GET /api/crm`, `GET /api/crm/{id}`, plus its OpenAPI
//! document and Swagger UI. `routes::handle` is the Lambda handler; it works behind
//! API Gateway REST (with or without the stage in the path) and with function-URL
//! payloads (`cargo lambda watch`).

pub mod app;
pub mod config;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod request;
pub mod routes;

pub use app::App;
