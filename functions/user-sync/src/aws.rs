//! How the functions reach AWS: one SDK configuration, loaded once at cold start, whose
//! HTTPS client trusts the Amazon Trust Services roots bundled here instead of reading the
//! system's certificate store.
//!
//! Why (measured by `scripts/bench`, see docs/performance.md): the SDK's default client
//! reads and parses every file under the system's certificate directory each time a
//! client is built, which was most of a function's init. The five bundled roots are the
//! ones Amazon Trust Services recommends for a custom trust store; every AWS endpoint
//! chains to them. The price: they change only when we rebuild. They expire in 2037–2040,
//! and a change of AWS's roots (announced years ahead) means updating
//! `amazon-trust-services-roots.pem` and redeploying; the system store of the Lambda image
//! would have followed by itself.
//!
//! The local stack's emulator serves HTTPS with its own self-signed certificate. The one
//! local-only setting `AWS_CA_BUNDLE` (the variable the AWS CLI, the CDK CLI and the other
//! SDKs read; Lambda never sets it) names a PEM file whose certificates are trusted *besides*
//! the bundled roots: `scripts/dev` sets it for the emulator, whose function processes
//! inherit it. Nothing in the deployed template sets it.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("amazon-trust-services-roots.pem");

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`),
/// with the bundled-roots HTTPS client and the timeouts of `timeouts`.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts())
        .load()
        .await
}

/// How long one attempt of an AWS call may take, connecting included. A DynamoDB or SQS
/// call answers in milliseconds; an endpoint that accepts a connection and never answers
/// would otherwise hold the call for good (the SDK sets no read timeout by default).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one call may take, its retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);
/// How long opening a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Every AWS call of the functions ends within `OPERATION_TIMEOUT`: two calls in a row fit
/// crm-api's 10 s, so a hanging queue still lets `POST` answer 201 (the event stays in the
/// outbox for the relay) and a hanging table a 503, both before API Gateway's 29 s.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The variable naming extra PEM certificates to trust (the local emulator's).
pub const CA_BUNDLE_VAR: &str = "AWS_CA_BUNDLE";

/// The PEM file `AWS_CA_BUNDLE` names, read once; `None` when it is unset or empty.
///
/// # Panics
/// When it names a file that cannot be read: a misconfigured local stack fails its cold
/// start with the path in the message instead of every call failing with `UnknownIssuer`.
pub fn extra_roots() -> Option<Vec<u8>> {
    let path = std::env::var_os(CA_BUNDLE_VAR).filter(|p| !p.is_empty())?;
    match std::fs::read(&path) {
        Ok(pem) => Some(pem),
        Err(e) => panic!("{CA_BUNDLE_VAR}={}: cannot read it: {e}", path.to_string_lossy()),
    }
}

/// rustls with aws-lc-rs (the SDK's default provider: one TLS stack), trusting the Amazon
/// Trust Services roots and, locally, the certificates of `AWS_CA_BUNDLE`.
pub fn https_client() -> SharedHttpClient {
    https_client_trusting(extra_roots())
}

/// The same client, trusting the PEM certificates `extra` besides the bundled roots.
pub fn https_client_trusting(extra: Option<Vec<u8>>) -> SharedHttpClient {
    let mut roots = TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    if let Some(pem) = extra {
        roots.add_pem_certificate(pem);
    }
    let context = TlsContext::builder()
        .with_trust_store(roots)
        .build()
        .expect("a trust store alone is a valid TLS context");
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

/// Whether priming a connection during init pays: only towards a TLS endpoint (AWS). A
/// plaintext local endpoint (the emulator) has no handshake to save, and priming it would
/// only shift a local benchmark's figures.
pub fn priming_pays(aws: &SdkConfig) -> bool {
    aws.endpoint_url().is_none_or(|url| url.starts_with("https://"))
}

/// Connection priming, where it pays (`priming_pays`): `read`, one cheap DynamoDB read
/// during init, opens the TLS connection (and resolves credentials, endpoint and signing),
/// so the first request finds it in the pool. It costs init one round trip and a TLS
/// handshake (tens of ms), which the first request would otherwise pay itself: published
/// measurements put a first DynamoDB call at 128 MB at ~0.9 s without warming during init
/// and ~20 ms with. A failure is logged and ignored: the request that needs the connection
/// reports it. The read's client must share `aws`'s HTTP client, so the connection lands in
/// the pool the function's own client uses.
pub async fn prime<E: std::error::Error>(aws: &SdkConfig, read: impl std::future::Future<Output = Result<(), E>>) {
    if priming_pays(aws) {
        if let Err(e) = read.await {
            tracing::warn!(error = %crate::errors::chain(&e), "priming the DynamoDB connection failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_the_five_roots() {
        let pem = std::str::from_utf8(AMAZON_TRUST_SERVICES_ROOTS).unwrap();
        assert_eq!(pem.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    }

    #[test]
    fn clients_build_with_the_bundled_roots() {
        // Building a client builds its connector, which parses every bundled root (and
        // panics on one that does not parse).
        let config = aws_sdk_dynamodb::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .http_client(https_client())
            .build();
        let _ = aws_sdk_dynamodb::Client::from_conf(config);
    }

    #[tokio::test]
    async fn the_functions_configuration_carries_the_timeouts() {
        let config = load_config().await;
        let timeouts = config.timeout_config().expect("a timeout configuration");
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
    }

    #[test]
    fn primes_only_towards_tls_endpoints() {
        let with = |url: Option<&str>| {
            let mut b = SdkConfig::builder();
            b.set_endpoint_url(url.map(str::to_owned));
            priming_pays(&b.build())
        };
        assert!(with(None));
        assert!(with(Some("https://dynamodb.eu-west-1.amazonaws.com")));
        assert!(!with(Some("http://127.0.0.1:4566")));
    }
}
