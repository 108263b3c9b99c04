//! The HTTP connector against the fake ERP (test-support), through the processor and the
//! SQS handler with real tables: what reaches the ERP, what is retried and how, and what a
//! failure leaves behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use erp_processor::downstream::RecordShape;
use erp_processor::erp::credentials::Token;
use erp_processor::erp::{Budget, CallLog, ErpError, HttpErp, HttpErpSettings, TokenSource};
use erp_processor::process::{Outcome, ProcessError};
use erp_processor::App;
use serde_json::json;
use test_support::fake_erp::{Behaviour, FakeErp};
use user_sync::domain::EmployeeState;
use user_sync::events::EventEnvelope;
use user_sync::store::ErpEmployeesTable;

use crate::helpers::{event, spawn_app, TestApp};

const TOKEN: &str = "test-token-4f9a";

struct Connected {
    app: TestApp,
    erp: FakeErp,
    calls: Arc<CallLog>,
}

async fn connected(call_timeout: Duration, max_attempts: u32) -> Connected {
    let erp = FakeErp::start().await.unwrap();
    erp.require_token(TOKEN);
    let mut app = spawn_app().await;
    let calls = Arc::new(CallLog::default());
    let settings = HttpErpSettings {
        record: RecordShape::Employee,
        service: "erp-processor",
        endpoint: url::Url::parse(&erp.url()).unwrap(),
        call_timeout,
        max_attempts,
    };
    let http = HttpErp::new(settings, Token::new(TOKEN), None, calls.clone()).unwrap();
    let aws = test_support::emulator().sdk_config().await;
    app.app = App::with_erp(
        &aws,
        &app.config,
        Arc::new(http),
        calls.clone(),
        Duration::from_secs(10),
    );
    Connected { app, erp, calls }
}

fn envelope(value: serde_json::Value) -> EventEnvelope {
    EventEnvelope::parse(&value.to_string()).unwrap()
}

fn budget() -> Budget {
    Budget::lasting(Duration::from_secs(20))
}

#[tokio::test]
async fn each_change_reaches_the_erp_once_with_its_key_and_the_token() {
    let c = connected(Duration::from_secs(2), 3).await;
    let user_id = test_support::unique("user");
    let created = event("evt-http-created", &user_id);
    assert!(c.app.send_batch(&[("m-1", Some(created.to_string()))]).await.is_empty());
    // A redelivery and a repeat within one batch: the lease and the look-up absorb both.
    assert!(c
        .app
        .send_batch(&[("m-2", Some(created.to_string())), ("m-3", Some(created.to_string()))])
        .await
        .is_empty());
    let record = c.erp.employee(&user_id).expect("the ERP holds the employee");
    assert_eq!(record["userId"], user_id);
    assert_eq!(record["name"], "Grace Hopper");
    assert_eq!(record["email"], "grace.hopper@example.com");
    assert_eq!(record["version"], 1);
    assert_eq!(record["eventId"], "evt-http-created");
    assert!(record["employeeId"].as_str().unwrap().starts_with("EMP-"));

    let deleted = json!({"eventId": "evt-http-deleted", "eventType": "UserDeleted", "version": 2,
                         "timestamp": "2026-03-02T09:16:00Z", "user": {"id": user_id}});
    assert!(c.app.send_batch(&[("m-4", Some(deleted.to_string()))]).await.is_empty());
    assert_eq!(c.erp.employee(&user_id), None);

    let calls = c.erp.calls_for(&user_id);
    let seen: Vec<(&str, Option<&str>, Option<u16>)> = calls
        .iter()
        .map(|call| (call.method.as_str(), call.idempotency_key.as_deref(), call.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("PUT", Some("evt-http-created"), Some(201)),
            ("DELETE", Some("evt-http-deleted"), Some(204))
        ]
    );
    assert!(calls
        .iter()
        .all(|call| call.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))));
    assert_eq!(
        c.calls.drain().len(),
        0,
        "the handler drained the calls into its metrics"
    );
}

#[tokio::test]
async fn transient_answers_are_retried_and_retry_after_is_honoured() {
    let c = connected(Duration::from_secs(2), 3).await;
    let user_id = test_support::unique("user");
    c.erp.fail_next(2, 503, None);
    let processed = c
        .app
        .app
        .processor
        .process(&envelope(event("evt-retried", &user_id)), budget())
        .await
        .unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    let statuses: Vec<Option<u16>> = c.erp.calls_for(&user_id).iter().map(|call| call.status).collect();
    assert_eq!(statuses, [Some(503), Some(503), Some(201)]);
    assert_eq!(c.erp.applied().get("evt-retried"), Some(&1));
    let samples = c.calls.drain();
    assert_eq!(
        samples.iter().map(|s| s.failed).collect::<Vec<_>>(),
        [true, true, false]
    );

    let other = test_support::unique("user");
    c.erp.fail_next(1, 429, Some("1"));
    let started = Instant::now();
    let processed = c
        .app
        .app
        .processor
        .process(&envelope(event("evt-throttled", &other)), budget())
        .await
        .unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as Retry-After said"
    );
}

#[tokio::test]
async fn a_refusal_is_not_retried_marks_the_user_failed_and_leaves_the_event_unrecorded() {
    let c = connected(Duration::from_secs(2), 3).await;
    let user_id = test_support::unique("user");
    c.erp.set_for_user(
        &user_id,
        Behaviour::Status {
            status: 400,
            retry_after: None,
        },
    );
    let created = event("evt-refused", &user_id);
    assert_eq!(c.app.send_batch(&[("m-1", Some(created.to_string()))]).await, ["m-1"]);
    assert_eq!(c.erp.calls_for(&user_id).len(), 1, "a 4xx is final: no retry");
    let employees = ErpEmployeesTable::new(c.app.dynamo.clone(), &c.app.config.employees_table);
    assert_eq!(employees.sync_state(&user_id).await.unwrap().failed_version, Some(1));
    assert!(
        !c.app.stored_items().await.contains_key("evt-refused"),
        "nothing recorded"
    );

    // Once the ERP takes it, the next delivery goes through at once.
    c.erp.set_for_user(&user_id, Behaviour::Healthy);
    assert!(c.app.send_batch(&[("m-1", Some(created.to_string()))]).await.is_empty());
    assert_eq!(c.erp.applied().get("evt-refused"), Some(&1));
}

#[tokio::test]
async fn timeouts_and_outages_fail_within_the_budget_and_the_next_delivery_succeeds() {
    let c = connected(Duration::from_millis(300), 2).await;
    let processor = &c.app.app.processor;
    let user_id = test_support::unique("user");
    let created = envelope(event("evt-outage", &user_id));

    c.erp.set(Behaviour::Hang);
    let started = Instant::now();
    let error = processor.process(&created, budget()).await.unwrap_err();
    assert!(
        matches!(&error, ProcessError::Erp(ErpError::Unavailable { reason, .. }) if reason.contains("no answer within 300 ms")),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());

    c.erp.set(Behaviour::Down);
    assert!(matches!(
        processor.process(&created, budget()).await,
        Err(ProcessError::Erp(ErpError::Unavailable { .. }))
    ));

    // An ERP that always fails: the budget, not the attempts, ends the retries.
    c.erp.set(Behaviour::Status {
        status: 500,
        retry_after: Some("30".to_owned()),
    });
    let started = Instant::now();
    assert!(matches!(
        processor
            .process(&created, Budget::lasting(Duration::from_secs(2)))
            .await,
        Err(ProcessError::Erp(ErpError::Unavailable {
            retry_after: Some(_),
            ..
        }))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a wait past the budget is SQS's"
    );

    c.erp.set(Behaviour::Healthy);
    let processed = processor.process(&created, budget()).await.unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    assert_eq!(c.erp.applied().get("evt-outage"), Some(&1));
}

#[tokio::test]
async fn a_token_rotated_in_the_secret_is_read_again_on_a_401() {
    let erp = FakeErp::start().await.unwrap();
    erp.require_token("rotated-token");
    let aws = test_support::emulator().sdk_config().await;
    let arn = aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(test_support::unique("erp-token"))
        .secret_string(r#"{"token":"rotated-token"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let settings = HttpErpSettings {
        record: RecordShape::Employee,
        service: "erp-processor",
        endpoint: url::Url::parse(&erp.url()).unwrap(),
        call_timeout: Duration::from_secs(2),
        max_attempts: 3,
    };
    let source = TokenSource { aws: aws.clone(), arn };
    let calls = Arc::new(CallLog::default());
    let http = HttpErp::new(settings, Token::new("expired-token"), Some(source), calls.clone()).unwrap();
    let mut app = spawn_app().await;
    app.app = App::with_erp(&aws, &app.config, Arc::new(http), calls, Duration::from_secs(10));
    let user_id = test_support::unique("user");
    let processed = app
        .app
        .processor
        .process(&envelope(event("evt-rotated", &user_id)), budget())
        .await
        .unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    let statuses: Vec<Option<u16>> = erp.calls_for(&user_id).iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(401), Some(201)]);
}

#[tokio::test]
async fn a_redirect_is_a_refusal_never_followed_and_a_dot_segment_id_never_sent() {
    let c = connected(Duration::from_secs(2), 3).await;
    let user_id = test_support::unique("user");
    c.erp.set_for_user(
        &user_id,
        Behaviour::Status {
            status: 307,
            retry_after: None,
        },
    );
    let error = c
        .app
        .app
        .processor
        .process(&envelope(event("evt-redirected", &user_id)), budget())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProcessError::Erp(ErpError::Refused { status: 307, .. })),
        "{error:?}"
    );
    assert_eq!(c.erp.calls().len(), 1, "the redirect was not followed");

    for id in ["..", ".", "%2E%2e"] {
        let error = c
            .app
            .app
            .processor
            .process(&envelope(event(&format!("evt-dots-{}", id.len()), id)), budget())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ProcessError::Erp(ErpError::Unsendable(_))),
            "{id}: {error:?}"
        );
    }
    assert_eq!(c.erp.calls().len(), 1, "nothing sent for a dot-segment id");
}

#[tokio::test]
async fn a_slow_erp_inside_the_timeout_is_waited_for_and_measured() {
    let c = connected(Duration::from_secs(2), 1).await;
    c.erp.set(Behaviour::Slow(Duration::from_millis(300)));
    let user_id = test_support::unique("user");
    let processed = c
        .app
        .app
        .processor
        .process(&envelope(event("evt-slow", &user_id)), budget())
        .await
        .unwrap();
    assert_eq!(processed.outcome, Outcome::Applied);
    let samples = c.calls.drain();
    assert_eq!(samples.len(), 1);
    assert!(
        !samples[0].failed && samples[0].latency >= Duration::from_millis(300),
        "{samples:?}"
    );
}

#[tokio::test]
async fn posted_events_answer_the_erp_failure() {
    let c = connected(Duration::from_millis(300), 1).await;
    let user_id = test_support::unique("user");
    c.erp.set_for_user(
        &user_id,
        Behaviour::Status {
            status: 422,
            retry_after: None,
        },
    );
    let refused = c
        .app
        .post_events(&event("evt-post-refused", &user_id).to_string())
        .await;
    let problem = refused.problem(422);
    assert_eq!(problem["type"], "urn:problem-type:erp-refused");
    assert_eq!(
        problem["detail"],
        "The ERP refused the event (HTTP 422); nothing was recorded."
    );

    c.erp.set_for_user(&user_id, Behaviour::Down);
    let unavailable = c
        .app
        .post_events(&event("evt-post-refused", &user_id).to_string())
        .await;
    assert_eq!(unavailable.problem(503)["type"], "urn:problem-type:erp-unavailable");

    c.erp.set_for_user(&user_id, Behaviour::Healthy);
    let ok = c
        .app
        .post_events(&event("evt-post-refused", &user_id).to_string())
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// A deletion erases first: an ERP that refuses the `DELETE` leaves the event for the
/// dead-letter queue, with the name and email gone already.
#[tokio::test]
async fn a_refused_deletion_has_erased_the_user_already() {
    let c = connected(Duration::from_secs(2), 1).await;
    let user_id = test_support::unique("user");
    let created = event("evt-erase-created", &user_id);
    assert!(c.app.send_batch(&[("m-1", Some(created.to_string()))]).await.is_empty());
    let deleted = serde_json::json!({"eventId": "evt-erase-deleted", "eventType": "UserDeleted", "version": 2,
        "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": user_id}});
    c.erp.set_for_user(
        &user_id,
        Behaviour::Status {
            status: 400,
            retry_after: None,
        },
    );
    assert_eq!(c.app.send_batch(&[("m-2", Some(deleted.to_string()))]).await, ["m-2"]);
    let items = test_support::scan_all(&c.app.dynamo, &c.app.config.processed_table).await;
    let pii: Vec<_> = items
        .iter()
        .filter(|item| item.contains_key("UserName") || item.contains_key("UserEmail"))
        .collect();
    assert!(pii.is_empty(), "{pii:?}");
    let call = c.erp.calls_for(&user_id).pop().unwrap();
    assert_eq!(call.method, "DELETE");

    // Deleted here already: a producer's higher version changes nothing and brings no PII
    // back, while the deletion's redelivery still ends the employee at the ERP.
    c.erp.set_for_user(&user_id, Behaviour::Healthy);
    let mut later = event("evt-erase-later", &user_id);
    later["eventType"] = serde_json::json!("UserUpdated");
    later["version"] = serde_json::json!(100);
    let answer = c.app.post_events(&later.to_string()).await;
    assert_eq!(answer.json()["outcome"], "superseded", "{}", answer.body);
    assert!(c.erp.employee(&user_id).is_some(), "the ERP still holds the employee");
    assert!(c.app.send_batch(&[("m-3", Some(deleted.to_string()))]).await.is_empty());
    assert_eq!(c.erp.employee(&user_id), None, "the redelivered deletion ended it");
    let employees = ErpEmployeesTable::new(c.app.dynamo.clone(), &c.app.config.employees_table);
    let view = employees.get(&user_id).await.unwrap().unwrap();
    assert_eq!((view.state, view.version), (EmployeeState::Deleted, 2));
    let items = test_support::scan_all(&c.app.dynamo, &c.app.config.processed_table).await;
    assert!(
        items.iter().all(|item| !item.contains_key("UserName")),
        "no name came back"
    );
}

/// A `PUT` that lands after its client gave up never turns the record back: the ERP holds
/// a newer version, or has deleted the employee, by then (the contract's stale refusal).
#[tokio::test]
async fn a_put_landing_after_its_timeout_never_overwrites_nor_recreates() {
    let c = connected(Duration::from_millis(200), 1).await;
    let processor = &c.app.app.processor;
    let user_id = test_support::unique("user");
    let state = |id: &str, version: u64, name: &str| {
        envelope(
            serde_json::json!({"eventId": id, "eventType": "UserUpdated", "version": version,
            "timestamp": "2026-03-02T09:15:27.418Z",
            "user": {"id": user_id, "name": name, "email": "grace@example.com"}}),
        )
    };
    c.erp
        .set_for_user(&user_id, Behaviour::Slow(Duration::from_millis(800)));
    assert!(processor
        .process(&state("evt-late-2", 2, "Late"), budget())
        .await
        .is_err());
    c.erp.set_for_user(&user_id, Behaviour::Healthy);
    processor
        .process(&state("evt-late-3", 3, "Newer"), budget())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        c.erp.employee(&user_id).unwrap()["name"],
        "Newer",
        "the late PUT was refused"
    );

    c.erp
        .set_for_user(&user_id, Behaviour::Slow(Duration::from_millis(800)));
    assert!(processor
        .process(&state("evt-late-4", 4, "Late again"), budget())
        .await
        .is_err());
    c.erp.set_for_user(&user_id, Behaviour::Healthy);
    let deleted = envelope(
        serde_json::json!({"eventId": "evt-late-5", "eventType": "UserDeleted", "version": 5,
        "timestamp": "2026-03-02T09:15:27.418Z", "user": {"id": user_id}}),
    );
    processor.process(&deleted, budget()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        c.erp.employee(&user_id),
        None,
        "the late PUT did not recreate the employee"
    );
    assert_eq!(c.erp.deleted(&user_id), Some(5), "the deletion carried its version");
    let late: Vec<Option<u16>> = c
        .erp
        .calls_for(&user_id)
        .iter()
        .filter(|call| {
            call.body
                .as_ref()
                .is_some_and(|b| b["name"].as_str().is_some_and(|n| n.starts_with("Late")))
        })
        .map(|call| call.status)
        .collect();
    assert_eq!(late, [Some(412), Some(412)]);
}

/// A log line never holds the ERP's words: an ERP whose refusals quote the name and email
/// shows them in no line, on every attempt, and in no reason a caller sees.
#[tokio::test]
async fn the_erps_error_text_is_never_logged() {
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let c = connected(Duration::from_secs(2), 3).await;
    // Another test's thread may have registered a call site while this subscriber was being
    // registered, caching "never" for it; the interest is computed again now that it is.
    tracing::callsite::rebuild_interest_cache();
    let user_id = test_support::unique("user");
    for (status, message) in [(409, "m-1"), (503, "m-2")] {
        c.erp.set_for_user(&user_id, Behaviour::Echo(status));
        let created = event(&format!("evt-echo-{status}"), &user_id);
        assert_eq!(
            c.app.send_batch(&[(message, Some(created.to_string()))]).await,
            [message]
        );
    }
    let posted = event("evt-echo-posted", &user_id);
    let answer = c.app.post_events(&posted.to_string()).await;
    assert!(answer.status >= 500, "{}", answer.body);
    let logged = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    assert!(logged.contains("ERP call failed"), "the failures were logged: {logged}");
    for pii in ["Grace", "Hopper", "grace.hopper@example.com", "Employee \""] {
        assert!(!logged.contains(pii), "{pii} logged:\n{logged}");
        assert!(!answer.body.contains(pii), "{pii} answered: {}", answer.body);
    }
    assert!(
        logged.contains("urn:erp:employee-exists"),
        "the problem type is kept: {logged}"
    );
}

/// The ERP ahead of the view (a `PUT` that timed out here landed there): an older event's
/// `PUT` is refused as stale (412), which is recorded as superseded, not a failure, and the
/// newer event's redelivery brings the view up.
#[tokio::test]
async fn a_stale_refusal_is_a_superseded_event() {
    let c = connected(Duration::from_millis(200), 1).await;
    let processor = &c.app.app.processor;
    let user_id = test_support::unique("user");
    let state = |id: &str, version: u64| {
        envelope(
            serde_json::json!({"eventId": id, "eventType": "UserUpdated", "version": version,
            "timestamp": "2026-03-02T09:15:27.418Z",
            "user": {"id": user_id, "name": format!("Grace {version}"), "email": "grace@example.com"}}),
        )
    };
    c.erp
        .set_for_user(&user_id, Behaviour::Slow(Duration::from_millis(600)));
    assert!(processor.process(&state("evt-ahead-3", 3), budget()).await.is_err());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        c.erp.employee(&user_id).unwrap()["version"],
        3,
        "the timed-out PUT landed"
    );
    c.erp.set_for_user(&user_id, Behaviour::Healthy);

    let older = processor.process(&state("evt-ahead-2", 2), budget()).await.unwrap();
    assert_eq!(older.outcome, Outcome::Superseded);
    let record = &c.app.stored_items().await["evt-ahead-2"];
    assert_eq!(test_support::s(record, "Status"), "Superseded");
    assert!(!record.contains_key("SupersededBy"), "the ERP did not say its version");
    assert!(!record.contains_key("UserName"), "a superseded record holds no PII");

    let newer = processor.process(&state("evt-ahead-3", 3), budget()).await.unwrap();
    assert_eq!(newer.outcome, Outcome::Applied, "an equal version is accepted");
    let employees = ErpEmployeesTable::new(c.app.dynamo.clone(), &c.app.config.employees_table);
    assert_eq!(employees.get(&user_id).await.unwrap().unwrap().version, 3);
}
