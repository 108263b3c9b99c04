//! Swagger UI in a real browser (Debian's headless Chromium), with no network: the page
//! comes from the deployed stage through a local signing proxy (a browser cannot sign
//! SigV4), and its CDN assets from `cdk/node_modules/swagger-ui-dist` over TLS on loopback,
//! under the CDN's own host name. The browser checks the page's Subresource Integrity
//! against those files, which are the npm release the CDN serves.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::Url;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

use ops::LocalUrlForm;

use crate::signing_proxy::{Sign, SigningProxy};
use crate::world::World;
use stack::smoke::expect;

const CDN_HOST: &str = "cdn.jsdelivr.net";

/// Every operation the document describes, as Swagger UI renders its summary.
const OPERATIONS: [(&str, &str); 6] = [
    ("get", "/api/crm"),
    ("post", "/api/crm"),
    ("get", "/api/crm/{id}"),
    ("patch", "/api/crm/{id}"),
    ("delete", "/api/crm/{id}"),
    ("post", "/events"),
];

pub async fn swagger_ui_renders(world: &World) -> Result<(), String> {
    let stage = world.api(LocalUrlForm::Path).crm_api_url;
    let stage = Url::parse(stage.as_str().trim_end_matches("api/crm")).map_err(|e| e.to_string())?;
    let proxy = SigningProxy::start(world.client.clone(), stage, Sign::All).await?.addr;
    let assets = world.root.join("cdk/node_modules/swagger-ui-dist");
    let (cdn, served) = cdn(assets).await?;

    // `/swagger/`: its redirect to `../swagger` is part of what is checked.
    let page = format!("http://{proxy}/swagger/");
    let out = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            // Only the loopback CDN's self-signed certificate; integrity is checked by SRI.
            "--ignore-certificate-errors",
            &format!("--host-resolver-rules=MAP {CDN_HOST}:443 {cdn}, EXCLUDE 127.0.0.1"),
            "--virtual-time-budget=20000",
            "--dump-dom",
            &page,
        ])
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run chromium (scripts/setup --browser installs it): {e}"))?;
    let dom = String::from_utf8_lossy(&out.stdout);
    let files = served.load(Ordering::SeqCst);
    expect(files == 2, || {
        format!(
            "the page fetched {files} of its 2 assets from the CDN; chromium: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    for (method, path) in OPERATIONS {
        let rendered = dom.contains(&format!("opblock-{method}")) && dom.contains(&format!("data-path=\"{path}\""));
        expect(rendered, || {
            format!(
                "{method} {path} is not rendered (blocked assets or no document?); page text: {}",
                dom.chars().take(600).collect::<String>()
            )
        })?;
    }
    let rendered = dom.matches("class=\"opblock-summary-method\"").count();
    expect(rendered == OPERATIONS.len(), || {
        format!("{rendered} operations rendered, {} described", OPERATIONS.len())
    })
}

/// The CDN's files over TLS (a self-signed certificate for its name), from the installed
/// npm release; counts the files it served.
async fn cdn(assets: PathBuf) -> Result<(std::net::SocketAddr, Arc<AtomicUsize>), String> {
    let version = installed_version(&assets)?;
    let cert = rcgen::generate_simple_self_signed(vec![CDN_HOST.to_owned()]).map_err(|e| e.to_string())?;
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .map_err(|e| e.to_string())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, assets, counter) = (acceptor.clone(), assets.clone(), counter.clone());
            let prefix = format!("/npm/swagger-ui-dist@{version}/");
            tokio::spawn(async move {
                let Ok(mut conn) = acceptor.accept(tcp).await else {
                    return;
                };
                let Some(path) = read_request_path(&mut conn).await else {
                    return;
                };
                let file = path
                    .strip_prefix(&prefix)
                    .filter(|name| !name.contains('/') && !name.starts_with('.'))
                    .and_then(|name| {
                        std::fs::read(assets.join(name))
                            .ok()
                            .map(|bytes| (name.to_owned(), bytes))
                    });
                let _ = match file {
                    Some((name, bytes)) => {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let kind = if name.ends_with(".css") {
                            "text/css"
                        } else {
                            "application/javascript"
                        };
                        // As the CDN does: crossorigin="anonymous" needs it for SRI.
                        let headers = [
                            format!("content-type: {kind}"),
                            "access-control-allow-origin: *".to_owned(),
                        ];
                        respond(&mut conn, 200, &headers, &bytes).await
                    }
                    None => respond(&mut conn, 404, &[], format!("not {prefix}…").as_bytes()).await,
                };
            });
        }
    });
    Ok((addr, served))
}

fn installed_version(assets: &Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(assets.join("package.json"))
        .map_err(|e| format!("swagger-ui-dist is not installed in cdk/node_modules (scripts/setup): {e}"))?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest).map_err(|e| e.to_string())?;
    manifest["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "swagger-ui-dist's package.json has no version".to_owned())
}

/// The path of an HTTP/1.1 request (its head only: the browser sends GETs).
async fn read_request_path(conn: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = conn.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    head.lines().next()?.split(' ').nth(1).map(str::to_owned)
}

async fn respond(
    conn: &mut (impl AsyncWrite + Unpin),
    status: u16,
    headers: &[String],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await?;
    conn.shutdown().await
}
