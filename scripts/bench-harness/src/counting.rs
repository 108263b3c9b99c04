//! A forwarding proxy in front of the emulator that counts the AWS calls a function makes,
//! by operation and table: the request counts of the cost estimate are measured, not
//! assumed. DynamoDB and SQS both speak the JSON protocol, so `X-Amz-Target` names the
//! operation and the body's `TableName` the table.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::AnyError;

/// One kind of call: `PutItem` on a table, or `SendMessage` (no table).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Call {
    pub operation: String,
    pub table: Option<String>,
}

/// What the proxy saw: calls by kind, and the largest request body of each kind (an upper
/// bound of a written item's size: the JSON adds type tags and punctuation to it).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub calls: BTreeMap<Call, (u64, usize)>,
}

/// The call a request makes: `X-Amz-Target: DynamoDB_20120810.PutItem` → `PutItem`, or a
/// query-protocol call's (SNS's) `Action` in its form body; and the body's `TableName` if it
/// names one.
pub fn call_of(target: Option<&str>, body: &[u8]) -> Call {
    let form_action = || {
        std::str::from_utf8(body)
            .ok()?
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_owned)
    };
    let operation = match target.and_then(|t| t.rsplit('.').next()) {
        Some(operation) => operation.to_owned(),
        None => form_action().unwrap_or_else(|| "(no operation named)".to_owned()),
    };
    let table = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("TableName").and_then(|t| t.as_str()).map(str::to_owned));
    Call { operation, table }
}

pub struct CountingProxy {
    pub endpoint: String,
    tally: Arc<Mutex<Tally>>,
    server: JoinHandle<()>,
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl CountingProxy {
    pub async fn start(upstream: &str) -> Result<Self, AnyError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let tally = Arc::new(Mutex::new(Tally::default()));
        let forward = Arc::new(Forward {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::new(),
            tally: tally.clone(),
        });
        let server = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let forward = forward.clone();
                let service = hyper::service::service_fn(move |req| forward.clone().handle(req));
                connections.spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(Self {
            endpoint: format!("http://{addr}"),
            tally,
            server,
        })
    }

    /// What was counted since the last `take`, and a fresh count from now on.
    pub fn take(&self) -> Tally {
        std::mem::take(&mut *self.tally.lock().expect("tally lock"))
    }
}

struct Forward {
    upstream: String,
    client: reqwest::Client,
    tally: Arc<Mutex<Tally>>,
}

impl Forward {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        Ok(self.forward(req).await.unwrap_or_else(|e| {
            let mut answer = Response::new(Full::new(Bytes::from(format!("counting proxy: {e}"))));
            *answer.status_mut() = StatusCode::BAD_GATEWAY;
            answer
        }))
    }

    async fn forward(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, AnyError> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let call = call_of(target, &body);
        {
            let mut tally = self.tally.lock().expect("tally lock");
            let entry = tally.calls.entry(call).or_default();
            entry.0 += 1;
            entry.1 = entry.1.max(body.len());
        }
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut upstream = self
            .client
            .request(parts.method, format!("{}{path}", self.upstream))
            .body(body);
        for (name, value) in &parts.headers {
            if !matches!(name.as_str(), "host" | "content-length" | "connection") {
                upstream = upstream.header(name, value);
            }
        }
        let answer = upstream.send().await?;
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                response = response.header(name, value);
            }
        }
        Ok(response.body(Full::new(answer.bytes().await?))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_operation_and_the_table() {
        let put = call_of(Some("DynamoDB_20120810.PutItem"), br#"{"TableName":"Users","Item":{}}"#);
        assert_eq!(
            (put.operation.as_str(), put.table.as_deref()),
            ("PutItem", Some("Users"))
        );
        let send = call_of(Some("AmazonSQS.SendMessage"), br#"{"QueueUrl":"http://q"}"#);
        assert_eq!((send.operation.as_str(), send.table), ("SendMessage", None));
        let publish = call_of(None, b"Action=PublishBatch&Version=2010-03-31&TopicArn=arn");
        assert_eq!((publish.operation.as_str(), publish.table), ("PublishBatch", None));
        assert_eq!(call_of(None, b"").operation, "(no operation named)");
    }

    #[test]
    fn counts_by_operation_and_table() {
        let mut tally = Tally::default();
        for (op, table, body) in [("PutItem", "A", 300), ("PutItem", "A", 700), ("PutItem", "B", 50)] {
            let e = tally
                .calls
                .entry(Call {
                    operation: op.into(),
                    table: Some(table.into()),
                })
                .or_default();
            e.0 += 1;
            e.1 = e.1.max(body);
        }
        let a = Call {
            operation: "PutItem".into(),
            table: Some("A".into()),
        };
        assert_eq!(tally.calls[&a], (2, 700));
        assert_eq!(tally.calls.len(), 2);
    }
}
