//! The developer tools' library: the end-to-end suite's runner and what its scenarios
//! share (the call-versus-grant mapping, the original's flow), SigV4-signed requests
//! through the stage, the HTTP clients' TLS trust, and the local stack's certificate.
//! Shared by the `stack` tool, the suite (`tests/e2e`) and the benchmark; what an operator
//! runs against a stack (outputs, redrive, backfill, metrics) is the `ops` crate's.

pub mod e2e;
pub mod grants;
pub mod local_tls;
pub mod signed;
pub mod smoke;
pub mod trust;

pub use signed::SignedClient;
