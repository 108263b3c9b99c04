//! The operator's side of a deployed stack, on AWS or local: its outputs and the URLs the
//! local emulator serves them at, the clients' TLS trust, the dead-letter queue's redrive,
//! the backfill and the functions' metrics (the reconciliation it runs is
//! `user_sync::reconcile`). The `ops` binary is their command line; the
//! developer tools (`scripts/stack`, the benchmark) build on the same library.

pub mod backfill;
pub mod consumer;
pub mod deployed;
pub mod functions;
pub mod metrics;
pub mod redrive;
pub mod trust;

pub use consumer::Consumer;
pub use deployed::{LocalUrlForm, Outputs};

/// The local emulator, when the environment points the AWS SDK at one (`AWS_ENDPOINT_URL`).
pub fn emulator() -> Option<url::Url> {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .and_then(|u| url::Url::parse(&u).ok())
}

/// The outputs file, with its API URLs rewritten to the emulator's host form when the
/// environment points at one, so the same command works against AWS and locally.
pub fn outputs_for_this_environment(path: &std::path::Path) -> Result<Outputs, String> {
    let outputs = Outputs::read(path)?;
    Ok(match emulator() {
        Some(emulator) => outputs.through_emulator(&emulator, LocalUrlForm::Host),
        None => outputs,
    })
}
