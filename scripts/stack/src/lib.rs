//! The developer tools' library: SigV4-signed requests through the stage, the HTTP clients'
//! TLS trust, and the local stack's certificate. Shared by the `stack` tool and the
//! benchmark; what an operator runs against a stack (outputs, redrive, backfill, metrics)
//! is the `ops` crate's.

pub mod local_tls;
pub mod signed;
pub mod trust;

pub use signed::SignedClient;
