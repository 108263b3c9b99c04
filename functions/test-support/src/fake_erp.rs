//! A fake ERP on a loopback port, speaking the HTTP connector's contract
//! (`erp-processor/src/erp/http.rs`): `PUT` and `DELETE /employees/{userId}`, a bearer token,
//! `Idempotency-Key`. Under `/crm` it is the CRM mirror's Salesforce-style CRM instead:
//! `PATCH` (an upsert, no version) and `DELETE /sobjects/Contact/CrmUserId__c/{userId}`. It records every call and can be told to be slow, to answer an error,
//! to hang, or to be down, for all calls or for one user.
//!
//! Like a real ERP that honours idempotency keys, it stores the answer to a key's first
//! successful call and replays it to a repeat, without applying the change again: the
//! tests count `applied` to see each event's side effect happen once. As the contract asks,
//! it refuses (412) a `PUT` older than the version it holds and any `PUT` of an employee it
//! deleted, so a call that lands late never turns the record back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// How the fake ERP answers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Behaviour {
    #[default]
    Healthy,
    /// Answers, after this long.
    Slow(Duration),
    /// Answers this status (with `Retry-After` when given), changing nothing.
    Status { status: u16, retry_after: Option<String> },
    /// Answers this status with a body that quotes the record's name and email, as some
    /// ERPs' error messages do.
    Echo(u16),
    /// Never answers (the client's timeout ends the call).
    Hang,
    /// Closes every connection without an answer.
    Down,
}

/// One request the fake ERP received.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    pub body: Option<Value>,
    /// The status answered; None when the connection was closed or the call hung.
    pub status: Option<u16>,
    /// A repeat of a key already applied: answered from the store, nothing changed.
    pub replayed: bool,
}

#[derive(Debug, Default)]
struct State {
    behaviour: Behaviour,
    per_user: HashMap<String, Behaviour>,
    /// Answers this status (and `Retry-After`) to the next so many calls, then behaves.
    fail_next: Option<(usize, u16, Option<String>)>,
    token: Option<String>,
    calls: Vec<Call>,
    /// Key → the status of its first successful call.
    answered: HashMap<String, u16>,
    /// Key → how often its change was applied (once, if idempotency holds).
    applied: HashMap<String, usize>,
    employees: HashMap<String, Value>,
    /// User → the version its `DELETE` carried: a deleted employee is never written again.
    deleted: HashMap<String, u64>,
}

#[derive(Clone)]
pub struct FakeErp {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeErp {
    /// Listens on a free loopback port until the process ends.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(0).await
    }

    /// Listens on this loopback port (0: a free one) until the process ends; its URL is
    /// `url_on(port)`.
    pub async fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let erp = Self {
            addr: listener.local_addr()?,
            state: Arc::default(),
        };
        let server = erp.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if server.lock().behaviour == Behaviour::Down {
                    drop(stream);
                    continue;
                }
                let this = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let this = this.clone();
                        async move { this.answer(req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(erp)
    }

    /// The base URL, as `ERP_ENDPOINT_URL` names it.
    pub fn url(&self) -> String {
        Self::url_on(self.addr.port())
    }

    /// The base URL of a fake ERP on this loopback port.
    pub fn url_on(port: u16) -> String {
        format!("http://127.0.0.1:{port}/erp")
    }

    /// The base URL of the fake's Salesforce-style CRM (the mirror's `MIRROR_ENDPOINT_URL`).
    pub fn crm_url_on(port: u16) -> String {
        format!("http://127.0.0.1:{port}/crm")
    }

    /// Requires `Authorization: Bearer <token>` (401 otherwise).
    pub fn require_token(&self, token: &str) {
        self.lock().token = Some(token.to_owned());
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.lock().behaviour = behaviour;
    }

    /// Answers `status` (with `Retry-After: retry_after` when given) to the next `times`
    /// calls, whatever the behaviour.
    pub fn fail_next(&self, times: usize, status: u16, retry_after: Option<&str>) {
        self.lock().fail_next = Some((times, status, retry_after.map(str::to_owned)));
    }

    /// Overrides the behaviour for one user's record.
    pub fn set_for_user(&self, user_id: &str, behaviour: Behaviour) {
        self.lock().per_user.insert(user_id.to_owned(), behaviour);
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls for one user's record.
    pub fn calls_for(&self, user_id: &str) -> Vec<Call> {
        let paths = [
            format!("/erp/employees/{user_id}"),
            format!("/crm/sobjects/Contact/CrmUserId__c/{user_id}"),
        ];
        self.calls().into_iter().filter(|c| paths.contains(&c.path)).collect()
    }

    /// Key → how often its change was applied.
    pub fn applied(&self) -> HashMap<String, usize> {
        self.lock().applied.clone()
    }

    /// The version a user's deletion carried, once it was deleted.
    pub fn deleted(&self, user_id: &str) -> Option<u64> {
        self.lock().deleted.get(user_id).copied()
    }

    /// The employee record the ERP holds for a user.
    pub fn employee(&self, user_id: &str) -> Option<Value> {
        self.lock().employees.get(user_id).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn answer(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let idempotency_key = header("idempotency-key");
        let authorization = header("authorization");
        let bytes = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let body = serde_json::from_slice::<Value>(&bytes).ok();
        // Applied even after the client gave up, as a real server would: the answer is lost,
        // the change is not (a late PUT must meet the stale-write rule).
        let this = self.clone();
        let answer = tokio::spawn(async move {
            this.respond(method, path, query, idempotency_key, authorization, body)
                .await
        });
        answer.await.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    async fn respond(
        &self,
        method: String,
        path: String,
        query: String,
        idempotency_key: Option<String>,
        authorization: Option<String>,
        body: Option<Value>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        let user_id = path
            .strip_prefix("/erp/employees/")
            .or_else(|| path.strip_prefix("/crm/sobjects/Contact/CrmUserId__c/"))
            .map(str::to_owned);
        let mut call = Call {
            method: method.clone(),
            path,
            idempotency_key: idempotency_key.clone(),
            authorization: authorization.clone(),
            body: body.clone(),
            status: None,
            replayed: false,
        };
        match self.behaviour_for(user_id.as_deref()) {
            Behaviour::Healthy => {}
            Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
            other => return self.misbehave(other, call, body.as_ref()).await,
        }
        let mut state = self.lock();
        let status = if state
            .token
            .as_ref()
            .is_some_and(|t| authorization.as_deref() != Some(&format!("Bearer {t}")))
        {
            401
        } else if let (Some(key), Some(user_id)) = (&idempotency_key, &user_id) {
            if let Some(status) = state.answered.get(key) {
                call.replayed = true;
                *status
            } else {
                let status = state.apply(&method, user_id, &query, body);
                if (200..300).contains(&status) || status == 404 {
                    state.answered.insert(key.clone(), status);
                    *state.applied.entry(key.clone()).or_default() += 1;
                }
                status
            }
        } else {
            400
        };
        call.status = Some(status);
        state.calls.push(call);
        Ok(reply(status, "{}"))
    }

    /// How to answer a call about `user_id`: the next of `fail_next`'s failures, else the
    /// user's behaviour, else everyone's.
    fn behaviour_for(&self, user_id: Option<&str>) -> Behaviour {
        let mut state = self.lock();
        if let Some((times, status, retry_after)) = state.fail_next.take() {
            if times > 1 {
                state.fail_next = Some((times - 1, status, retry_after.clone()));
            }
            return Behaviour::Status { status, retry_after };
        }
        user_id
            .and_then(|u| state.per_user.get(u))
            .unwrap_or(&state.behaviour)
            .clone()
    }

    /// Answers as told instead of applying the call.
    async fn misbehave(
        &self,
        behaviour: Behaviour,
        mut call: Call,
        body: Option<&Value>,
    ) -> Result<Response<Full<Bytes>>, std::io::Error> {
        match behaviour {
            Behaviour::Healthy | Behaviour::Slow(_) => unreachable!("a healthy or slow call is applied"),
            Behaviour::Down => {
                self.lock().calls.push(call);
                Err(std::io::Error::other("down"))
            }
            Behaviour::Hang => {
                self.lock().calls.push(call);
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Err(std::io::Error::other("hung"))
            }
            Behaviour::Echo(status) => {
                call.status = Some(status);
                let quoted = body.map_or_else(String::new, |b| format!("{} <{}>", b["name"], b["email"]));
                self.lock().calls.push(call);
                let text = serde_json::json!({"type": "urn:erp:employee-exists", "detail": format!("Employee {quoted} exists")});
                let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
                *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
                Ok(response)
            }
            Behaviour::Status { status, retry_after } => {
                call.status = Some(status);
                self.lock().calls.push(call);
                let mut response = reply(status, r#"{"detail":"the fake ERP was told to fail"}"#);
                // A redirect names somewhere else on this server: a client that follows it
                // shows up as a second call.
                if (300..400).contains(&status) {
                    response
                        .headers_mut()
                        .insert("location", "/erp/elsewhere".parse().expect("a header value"));
                }
                if let Some(after) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", after.parse().expect("a header value"));
                }
                Ok(response)
            }
        }
    }
}

impl State {
    /// Applies a first call of its idempotency key: its status.
    fn apply(&mut self, method: &str, user_id: &str, query: &str, body: Option<Value>) -> u16 {
        match (method, body) {
            ("PUT", Some(record)) => {
                let version = |r: &Value| r["version"].as_u64().unwrap_or(0);
                let held = self.employees.get(user_id).map(version);
                if self.deleted.contains_key(user_id) || held.is_some_and(|held| held > version(&record)) {
                    412
                } else if self.employees.insert(user_id.to_owned(), record).is_none() {
                    201
                } else {
                    200
                }
            }
            ("PUT" | "PATCH", None) => 400,
            // A contact's upsert: the CRM keeps no version (the mirror keeps the order).
            ("PATCH", Some(record)) => match self.employees.insert(user_id.to_owned(), record) {
                None => 201,
                Some(_) => 200,
            },
            ("DELETE", _) => {
                self.deleted
                    .insert(user_id.to_owned(), query_version(query).unwrap_or(0));
                match self.employees.remove(user_id) {
                    Some(_) => 204,
                    None => 404,
                }
            }
            _ => 405,
        }
    }
}

/// `version` of a `DELETE`'s query.
fn query_version(query: &str) -> Option<u64> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("version="))
        .and_then(|v| v.parse().ok())
}

fn reply(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = StatusCode::from_u16(status).expect("a valid status");
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("a header value"));
    response
}
