//! The HTTP edge of the functions behind API Gateway (crm-api's routes and erp-processor's
//! `POST /events`), served as `lambda_http` requests: what a request carries, and how every
//! error becomes an RFC 9457 problem answer.

pub mod problem;
pub mod request;

pub use problem::{Problem, ProblemError};
