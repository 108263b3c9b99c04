//! The HTTP connector: a user's record as JSON over HTTPS, one resource per user, in the
//! shape its downstream takes (`RecordShape`). The ERP's (`Employee`):
//!
//! - `UserCreated`, `UserUpdated`: `PUT {ERP_ENDPOINT_URL}/employees/{userId}` with the
//!   user's whole state (an upsert: an update that arrives before its create creates it).
//! - `UserDeleted`: `DELETE {ERP_ENDPOINT_URL}/employees/{userId}?version={version}`; a 404
//!   is done.
//!
//! The ERP refuses (412) a `PUT` older than the version it holds (an equal one is taken: a
//! backfill re-publishes the stored version) and any write of an employee it deleted, so a
//! call that lands after its client gave up never overwrites a newer state nor recreates a
//! deleted employee.
//!
//! The CRM mirror's (`Contact`, Salesforce's upsert by external id):
//! `PATCH {MIRROR_ENDPOINT_URL}/sobjects/Contact/CrmUserId__c/{userId}` with `LastName` (the
//! user's name) and `Email`, and `DELETE` at the same path (a 404 is done).
//!
//! Every call carries `Authorization: Bearer <token>` (from Secrets Manager) and
//! `Idempotency-Key: <eventId>`, so a repeated call of one event is the ERP's to absorb.
//! Each attempt has its own timeout; failed attempts are retried with jittered backoff
//! (or after the ERP's `Retry-After`) while the invocation's budget allows.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::future::BoxFuture;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use serde::Serialize;
use url::Url;
use user_sync::domain::ErpEmployee;
use user_sync::events::{EventEnvelope, EventType};

use super::credentials::{Token, TokenSource};
use super::retry::{backoff, classify};
use super::{Budget, CallLog, Erp, ErpError};
use crate::downstream::RecordShape;

pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpErpSettings {
    /// The ERP's base URL (`ERP_ENDPOINT_URL`), checked by the configuration.
    pub endpoint: Url,
    /// How long one attempt may take (`ERP_CALL_TIMEOUT_MS`).
    pub call_timeout: Duration,
    /// Attempts per delivery (`ERP_MAX_ATTEMPTS`); SQS redelivers after the last.
    pub max_attempts: u32,
    /// What is sent, and where.
    pub record: RecordShape,
    /// The user agent's product: the consumer's binary.
    pub service: &'static str,
}

/// The employee record as the ERP receives it. `name` and `email` are absent for a deletion.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct EmployeeRecord<'a> {
    employee_id: &'a str,
    user_id: &'a str,
    name: Option<&'a str>,
    email: Option<&'a str>,
    version: u64,
    event_id: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    changed_at: time::OffsetDateTime,
}

/// A Salesforce contact's fields, as the mirror upserts them. Salesforce requires
/// `LastName`; the CRM has one name field.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContactRecord<'a> {
    last_name: Option<&'a str>,
    email: Option<&'a str>,
}

pub struct HttpErp {
    client: reqwest::Client,
    settings: HttpErpSettings,
    token: std::sync::RwLock<Token>,
    /// Where the token came from, read again when the ERP answers 401 (it was rotated).
    source: Option<TokenSource>,
    calls: Arc<CallLog>,
}

impl std::fmt::Debug for HttpErp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpErp")
            .field("settings", &self.settings)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl HttpErp {
    /// `source`: the secret `token` was read from, read again on a 401.
    pub fn new(
        settings: HttpErpSettings,
        token: Token,
        source: Option<TokenSource>,
        calls: Arc<CallLog>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.call_timeout)
            // A redirect would carry the record (name, email) to a URL nobody configured,
            // possibly in clear text: it is an answer, not a hop.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(settings.endpoint.scheme() == "https")
            .user_agent(format!("crm-{}/{}", settings.service, env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            settings,
            token: std::sync::RwLock::new(token),
            source,
            calls,
        })
    }

    fn token(&self) -> Token {
        self.token
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// After a 401: the secret's value now, when it differs from the token sent.
    async fn rotated_token(&self) -> Option<Token> {
        let source = self.source.as_ref()?;
        match super::credentials::read_token(&source.aws, &source.arn).await {
            Ok(token) if token != self.token() => {
                *self.token.write().unwrap_or_else(std::sync::PoisonError::into_inner) = token.clone();
                tracing::info!("the ERP credentials secret holds a new token; retrying with it");
                Some(token)
            }
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(error = %user_sync::errors::chain(&error), "the ERP credentials secret could not be read again");
                None
            }
        }
    }

    /// `{endpoint}/employees/{userId}` (a contact's: `{endpoint}/sobjects/Contact/CrmUserId__c/{userId}`),
    /// the id as one path segment whatever it holds. An id that is a dot segment (`.`, `..`,
    /// or their percent-encodings) would name another resource (the collection, its
    /// parent): refused.
    pub fn record_url(&self, user_id: &str) -> Result<Url, ErpError> {
        let dots = user_id.to_ascii_lowercase().replace("%2e", ".");
        if dots == "." || dots == ".." {
            return Err(ErpError::Unsendable(
                "a user id of \".\" or \"..\" names no record in a URL",
            ));
        }
        let mut url = self.settings.endpoint.clone();
        url.path_segments_mut()
            .expect("the configuration admits only http(s) URLs, which have a path")
            .pop_if_empty()
            .extend(match self.settings.record {
                RecordShape::Employee => &["employees"][..],
                RecordShape::Contact => &["sobjects", "Contact", "CrmUserId__c"][..],
            })
            .push(user_id);
        Ok(url)
    }

    async fn attempt(&self, event: &EventEnvelope, employee: &ErpEmployee, timeout: Duration) -> Result<(), ErpError> {
        let mut url = self.record_url(&event.user.id)?;
        let deleting = event.event_type == EventType::UserDeleted;
        let request = if deleting {
            // The deletion's version too: an ERP keeps it with the deletion, and refuses
            // any write of the employee after it (see the ERP contract, docs/erp-contract.md).
            if self.settings.record == RecordShape::Employee {
                url.query_pairs_mut()
                    .append_pair("version", &event.version().to_string());
            }
            self.client.delete(url)
        } else if self.settings.record == RecordShape::Contact {
            let contact = ContactRecord {
                last_name: event.user.name.as_deref(),
                email: event.user.email.as_deref(),
            };
            self.client
                .patch(url)
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&contact).expect("a contact always serializes"))
        } else {
            let record = EmployeeRecord {
                employee_id: &employee.record_id,
                user_id: &event.user.id,
                name: event.user.name.as_deref(),
                email: event.user.email.as_deref(),
                version: event.version(),
                event_id: &event.event_id,
                changed_at: event.timestamp,
            };
            self.client
                .put(url)
                .header(CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&record).expect("a record always serializes"))
        };
        let mut authorization = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.token().expose()))
            .expect("a token is checked to be visible ASCII");
        authorization.set_sensitive(true);
        let response = request
            .header(AUTHORIZATION, authorization)
            .header(IDEMPOTENCY_KEY, &event.event_id)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| unavailable(&e, timeout))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(|e| unavailable(&e, timeout))?;
        classify(status, retry_after.as_deref(), &body, deleting, SystemTime::now())
    }
}

impl Erp for HttpErp {
    fn integrate<'a>(
        &'a self,
        event: &'a EventEnvelope,
        employee: &'a ErpEmployee,
        budget: Budget,
    ) -> BoxFuture<'a, Result<(), ErpError>> {
        Box::pin(async move {
            let mut attempt = 1;
            loop {
                let left = budget.remaining();
                if left.is_zero() {
                    return Err(ErpError::NoTime);
                }
                let started = Instant::now();
                let result = self
                    .attempt(event, employee, self.settings.call_timeout.min(left))
                    .await;
                self.calls.record(started.elapsed(), result.is_err());
                let error = match result {
                    Ok(()) => {
                        tracing::info!(service = self.settings.service, event_id = %event.event_id, user_id = %event.user.id,
                            version = event.version(), attempt, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "ERP call succeeded");
                        return Ok(());
                    }
                    Err(error) => error,
                };
                tracing::warn!(service = self.settings.service, event_id = %event.event_id, user_id = %event.user.id,
                    attempt, permanent = error.is_permanent(), reason = %error, "ERP call failed");
                let retry_after = match &error {
                    // A token rotated at the ERP and in the secret since this instance
                    // started: once with the new one (it counts as an attempt).
                    ErpError::Refused { status: 401, .. }
                        if attempt < self.settings.max_attempts && self.rotated_token().await.is_some() =>
                    {
                        attempt += 1;
                        continue;
                    }
                    ErpError::Unavailable { retry_after, .. } => *retry_after,
                    _ => return Err(error),
                };
                let wait = retry_after.unwrap_or_else(|| backoff(attempt, fastrand::f64()));
                // A wait past the budget is SQS's to make: its redelivery comes later anyway.
                if attempt >= self.settings.max_attempts || wait >= budget.remaining() {
                    return Err(error);
                }
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        })
    }
}

/// A request that got no answer; reqwest's text names the URL (no secret in it) and cause.
fn unavailable(error: &reqwest::Error, timeout: Duration) -> ErpError {
    let reason = if error.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if error.is_connect() {
        format!("cannot connect: {}", user_sync::errors::chain(error))
    } else {
        user_sync::errors::chain(error)
    };
    ErpError::Unavailable {
        reason,
        retry_after: None,
    }
}
