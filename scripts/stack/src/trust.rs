//! What the developer tools' HTTP clients trust over TLS: the platform's roots and, for the
//! local stack, the certificates of `AWS_CA_BUNDLE` (the emulator's own, which `scripts/dev`
//! exports). The SDK clients' trust is the operator library's (`ops::trust`).

pub use ops::trust::{sdk_config, sdk_loader, sdk_loader_trusting};

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
