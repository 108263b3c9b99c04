//! A minimal Lambda Runtime API (2018-06-01) for one function process at a time: serves
//! `invocation/next`, accepts `invocation/{id}/response`, `invocation/{id}/error` and
//! `init/error`, and records when each arrived. Not `cargo lambda watch`: it compiles and
//! proxies, and would measure itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};
use tokio::task::{JoinHandle, JoinSet};

use crate::AnyError;

const PREFIX: &str = "/2018-06-01/runtime/";
/// Longer than any invocation here; a function that takes longer is broken.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a function process answered to one invocation.
#[derive(Debug)]
pub struct Outcome {
    pub request_id: String,
    pub ok: bool,
    pub body: Bytes,
    pub at: Instant,
}

struct Shared {
    first_next: OnceLock<Instant>,
    pending: Mutex<mpsc::UnboundedReceiver<(String, Bytes)>>,
    outcomes: mpsc::UnboundedSender<Outcome>,
}

/// The Runtime API of one function process, on a loopback port of its own.
pub struct Emulator {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<(String, Bytes)>,
    outcomes: mpsc::UnboundedReceiver<Outcome>,
    server: JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Drops every connection task with it (they live in the server's JoinSet).
        self.server.abort();
    }
}

impl Emulator {
    pub async fn start() -> Result<Self, AnyError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (events, pending) = mpsc::unbounded_channel();
        let (outcome_tx, outcomes) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            first_next: OnceLock::new(),
            pending: Mutex::new(pending),
            outcomes: outcome_tx,
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        Ok(Self {
            addr,
            shared,
            events,
            outcomes,
            server,
        })
    }

    /// When the process first asked for an invocation: the end of its init.
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.first_next.get().copied()
    }

    /// Queues `event`; the process receives it on its next `invocation/next`.
    pub fn send(&self, event: Bytes) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        let _ = self.events.send((request_id.clone(), event));
        request_id
    }

    /// The answer to the invocation `request_id`.
    pub async fn outcome(&mut self, request_id: &str) -> Result<Outcome, AnyError> {
        let outcome = tokio::time::timeout(INVOKE_TIMEOUT, self.outcomes.recv())
            .await
            .map_err(|_| format!("no answer within {INVOKE_TIMEOUT:?}"))?
            .ok_or("the runtime API stopped")?;
        if outcome.request_id != request_id {
            return Err(format!("answer for {} while waiting for {request_id}", outcome.request_id).into());
        }
        if !outcome.ok {
            return Err(format!("the function failed: {}", String::from_utf8_lossy(&outcome.body)).into());
        }
        Ok(outcome)
    }

    /// Sends `event` and waits for its answer: (when it was sent, the outcome).
    pub async fn invoke(&mut self, event: Bytes) -> Result<(Instant, Outcome), AnyError> {
        let sent = Instant::now();
        let id = self.send(event);
        Ok((sent, self.outcome(&id).await?))
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let service = hyper::service::service_fn(move |req| handle(shared.clone(), req));
        connections.spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().strip_prefix(PREFIX).unwrap_or_default().to_owned();
    let method = req.method().clone();
    let response = match (method, path.split('/').collect::<Vec<_>>().as_slice()) {
        (Method::GET, ["invocation", "next"]) => {
            shared.first_next.get_or_init(Instant::now);
            let next = shared.pending.lock().await.recv().await;
            match next {
                Some((request_id, event)) => next_invocation(&request_id, event),
                None => empty(StatusCode::GONE),
            }
        }
        (Method::POST, ["invocation", request_id, kind @ ("response" | "error")]) => {
            let request_id = request_id.to_string();
            let ok = *kind == "response";
            let body = body_of(req).await;
            let at = Instant::now();
            let _ = shared.outcomes.send(Outcome {
                request_id,
                ok,
                body,
                at,
            });
            empty(StatusCode::ACCEPTED)
        }
        (Method::POST, ["init", "error"]) => {
            let body = body_of(req).await;
            let _ = shared.outcomes.send(Outcome {
                request_id: "init".to_owned(),
                ok: false,
                body,
                at: Instant::now(),
            });
            empty(StatusCode::ACCEPTED)
        }
        _ => empty(StatusCode::NOT_FOUND),
    };
    Ok(response)
}

/// A posted body; a broken one reads as empty (the function's fault, reported as such).
async fn body_of(req: Request<Incoming>) -> Bytes {
    req.into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// The invocation as Lambda serves it. `awslambdaric` waits forever on an event served
/// without `Content-Type: application/json`.
fn next_invocation(request_id: &str, event: Bytes) -> Response<Full<Bytes>> {
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(900);
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", request_id)
        .header("Lambda-Runtime-Deadline-Ms", deadline.as_millis().to_string())
        .header(
            "Lambda-Runtime-Invoked-Function-Arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench",
        )
        .header(
            "Lambda-Runtime-Trace-Id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        )
        .body(Full::new(event))
        .expect("static headers are valid")
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// How to start one function, as Lambda would: its command, and its environment on top of
/// the variables Lambda sets.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

impl FunctionSpec {
    /// The same function with more variables (later ones win).
    pub fn with(mut self, env: &[(&str, &str)]) -> Self {
        self.env
            .extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self
    }
}

/// A running function process and its Runtime API.
pub struct Running {
    pub api: Emulator,
    pub child: tokio::process::Child,
    pub spawned: Instant,
}

impl Running {
    /// Starts the process with only the environment Lambda gives a function (no
    /// inherited variables: `SSL_CERT_FILE` and the like would change what it does).
    pub async fn start(spec: &FunctionSpec, extra_env: &[(&str, &str)]) -> Result<Self, AnyError> {
        let api = Emulator::start().await?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&spec.log)?;
        let mut command = tokio::process::Command::new(&spec.program);
        command
            .args(&spec.args)
            .env_clear()
            .envs(lambda_env(spec.name, api.addr))
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if let Some(cwd) = &spec.cwd {
            command.current_dir(cwd);
        }
        let spawned = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("start {}: {e}", spec.program.display()))?;
        Ok(Self { api, child, spawned })
    }

    /// Invokes the function; fails at once if the process exits instead of answering.
    pub async fn invoke(&mut self, spec: &FunctionSpec, event: Bytes) -> Result<(Instant, Outcome), AnyError> {
        let Self { api, child, .. } = self;
        tokio::select! {
            result = api.invoke(event) => result,
            status = child.wait() => Err(format!(
                "{} exited ({}) instead of answering; its log: {}",
                spec.name,
                status.map_or_else(|e| e.to_string(), |s| s.to_string()),
                spec.log.display()
            )
            .into()),
        }
    }

    /// Peak resident memory (`VmHWM`), in MB.
    pub fn peak_rss_mb(&self) -> Result<f64, AnyError> {
        let pid = self.child.id().ok_or("the process has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or("no VmHWM in /proc/<pid>/status")?;
        Ok(kb / 1024.0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The variables Lambda sets for every function (`lambda_runtime` panics without the
/// first ones), with dummy credentials and a region as Lambda's execution role gives them.
fn lambda_env(name: &str, api: SocketAddr) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", test_support::REGION.to_owned()),
        ("AWS_DEFAULT_REGION", test_support::REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_SESSION_TOKEN", "testing".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("LANG", "en_US.UTF-8".to_owned()),
        ("TZ", ":UTC".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
