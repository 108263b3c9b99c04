//! A reverse proxy on loopback in front of the deployed stage, for clients that cannot sign
//! SigV4 themselves (headless Chromium, schemathesis). A request the proxy is asked to sign
//! (every request, or those carrying `Authorization: MARKER`) leaves signed with the suite's
//! credentials; any other is forwarded exactly as it came, so a deliberately unsigned or
//! wrongly signed request still meets the gateway's refusal. Answers are passed back as
//! they are (redirects included, not followed), and counted by status.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest::{Method, Url};

use stack::SignedClient;

/// Which requests the proxy signs.
#[derive(Clone, Copy)]
pub enum Sign {
    /// Every request (a browser sends no Authorization of its own).
    All,
    /// Those whose `Authorization` is exactly this marker, which the signature replaces.
    Marked(&'static str),
}

/// Headers that belong to one connection, not to the request forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "accept-encoding",
];

#[derive(Clone)]
pub struct SigningProxy {
    pub addr: SocketAddr,
    /// Status → how many signed requests were answered with it.
    signed: Arc<Mutex<BTreeMap<u16, usize>>>,
}

impl SigningProxy {
    /// Listens on a free loopback port; forwards `/PATH` to `stage` joined with `PATH`.
    pub async fn start(client: SignedClient, stage: Url, sign: Sign) -> Result<Self, String> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| e.to_string())?;
        let proxy = Self {
            addr: listener.local_addr().map_err(|e| e.to_string())?,
            signed: Arc::default(),
        };
        let counts = proxy.signed.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (client, stage, counts) = (client.clone(), stage.clone(), counts.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (client, stage, counts) = (client.clone(), stage.clone(), counts.clone());
                        async move { Ok::<_, Infallible>(forward(&client, &stage, sign, &counts, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(proxy)
    }

    /// The signed requests' answers by status.
    pub fn signed_answers(&self) -> BTreeMap<u16, usize> {
        self.signed.lock().expect("not poisoned").clone()
    }
}

async fn forward(
    client: &SignedClient,
    stage: &Url,
    sign: Sign,
    counts: &Mutex<BTreeMap<u16, usize>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .trim_start_matches('/');
    let Ok(url) = stage.join(target) else {
        return answer(400, "a path the stage cannot take");
    };
    let mut headers = Vec::new();
    let mut marked = false;
    for (name, value) in &parts.headers {
        let Ok(value) = value.to_str() else { continue };
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        if name == "authorization" && matches!(sign, Sign::Marked(marker) if marker == value) {
            marked = true;
            continue;
        }
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    let signed = matches!(sign, Sign::All) || marked;
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return answer(400, "an unreadable request body");
    };
    let body = (!body.is_empty()).then(|| body.to_vec());
    let method = Method::from_bytes(parts.method.as_str().as_bytes()).unwrap_or(Method::GET);
    let response = match client.request_bytes(method, &url, headers, body, signed).await {
        Ok(response) => response,
        Err(e) => return answer(502, &e),
    };
    let status = response.status().as_u16();
    if signed {
        *counts.lock().expect("not poisoned").entry(status).or_default() += 1;
    }
    let mut out = Response::builder().status(status);
    for (name, value) in response.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = response.bytes().await.unwrap_or_default();
    out.body(Full::new(bytes))
        .unwrap_or_else(|e| answer(502, &e.to_string()))
}

fn answer(status: u16, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    response
}
