//! What the operator's clients trust over TLS: the platform's roots and, for the local
//! stack, the certificates of `AWS_CA_BUNDLE` (the emulator's own, which `scripts/dev`
//! exports). The Rust AWS SDK does not read that variable, so every SDK client built here
//! goes through this: the same command then works against AWS and the enforcing local stack.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// The SDK's defaults (credentials, region, `AWS_ENDPOINT_URL`) with an HTTPS client that
/// also trusts `AWS_CA_BUNDLE`'s certificates.
pub fn sdk_loader() -> ConfigLoader {
    sdk_loader_trusting(user_sync::aws::extra_roots())
}

/// The same, trusting the PEM certificates `extra` instead of `AWS_CA_BUNDLE`'s.
pub fn sdk_loader_trusting(extra: Option<Vec<u8>>) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(user_sync::aws::https_client_trusting(extra))
}

/// `sdk_loader`, loaded.
pub async fn sdk_config() -> SdkConfig {
    sdk_loader().load().await
}
