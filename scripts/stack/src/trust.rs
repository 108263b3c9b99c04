//! What the tools trust over TLS: the platform's roots and, for the local stack, the
//! certificates of `AWS_CA_BUNDLE` (the emulator's own, which `scripts/dev` exports). The
//! Rust AWS SDK does not read that variable, so every client the tools build goes through
//! here: the same command then works against AWS and against the enforcing local stack.

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// An HTTP client builder that also trusts `AWS_CA_BUNDLE`'s certificates.
pub fn http_client() -> reqwest::ClientBuilder {
    http_client_trusting(user_sync::aws::extra_roots().as_deref())
}

/// An HTTP client builder that also trusts the PEM certificates `extra`.
///
/// # Panics
/// When `extra` holds no PEM certificate.
pub fn http_client_trusting(extra: Option<&[u8]>) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    match extra {
        Some(pem) => match reqwest::Certificate::from_pem_bundle(pem) {
            Ok(certs) => builder.tls_certs_merge(certs),
            Err(e) => panic!("not PEM certificates: {e}"),
        },
        None => builder,
    }
}

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
