//! The local stack's TLS: a server with the certificate `stack local-cert` makes is trusted
//! by the functions' AWS SDK client and by the tools' HTTP client when they are given it (as
//! `AWS_CA_BUNDLE` gives it), and refused without it, as AWS's own roots would refuse it.

use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS server on loopback with the local certificate, answering `{}` to every request
/// (a valid DynamoDB ListTables answer); the certificate's PEM.
async fn tls_server() -> (SocketAddr, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("local-cert-{}", uuid::Uuid::new_v4().simple()));
    stack::local_tls::write(&dir).unwrap();
    let pem = std::fs::read(dir.join("server.crt")).unwrap();
    let key = std::fs::read(dir.join("server.key")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let certs: Vec<CertificateDer> = CertificateDer::pem_slice_iter(&pem).collect::<Result<_, _>>().unwrap();
    let key = PrivateKeyDer::from_pem_slice(&key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper::service::service_fn(|_req| async {
                    let mut answer = hyper::Response::new(Full::new(Bytes::from_static(b"{}")));
                    answer
                        .headers_mut()
                        .insert("content-type", "application/x-amz-json-1.0".parse().unwrap());
                    Ok::<_, std::convert::Infallible>(answer)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, pem)
}

async fn list_tables(addr: SocketAddr, extra: Option<Vec<u8>>) -> Result<(), String> {
    let config = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("k", "s", None, None, "test"))
        .endpoint_url(format!("https://{addr}"))
        .http_client(user_sync::aws::https_client_trusting(extra))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
        .list_tables()
        .send()
        .await
        .map(drop)
        .map_err(|e| format!("{:?}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
}

#[tokio::test]
async fn the_functions_trust_the_local_certificate_only_when_given_it() {
    let (addr, pem) = tls_server().await;
    list_tables(addr, Some(pem)).await.unwrap();
    let refused = list_tables(addr, None).await.unwrap_err();
    assert!(refused.contains("UnknownIssuer"), "{refused}");
}

#[tokio::test]
async fn the_tools_trust_the_local_certificate_for_every_name_it_carries() {
    let (addr, pem) = tls_server().await;
    let trusting = stack::trust::http_client_trusting(Some(&pem))
        // `*.execute-api.localhost` must resolve to loopback wherever the test runs.
        .resolve("a1b2c3.execute-api.localhost", addr)
        .resolve("localhost", addr)
        .build()
        .unwrap();
    for url in [
        format!("https://127.0.0.1:{}/", addr.port()),
        format!("https://localhost:{}/", addr.port()),
        format!("https://a1b2c3.execute-api.localhost:{}/prod/api/crm", addr.port()),
    ] {
        let status = trusting.get(&url).send().await.map(|r| r.status().as_u16());
        assert_eq!(status.as_ref().ok(), Some(&200), "{url}: {status:?}");
    }
    let plain = stack::trust::http_client_trusting(None).build().unwrap();
    let refused = plain.get(format!("https://127.0.0.1:{}/", addr.port())).send().await;
    assert!(refused.is_err(), "a client without the certificate got {refused:?}");
}
