//! The end-to-end suite: the system's promises checked from the outside, as a client of the
//! deployment and its operator would, against the stack `scripts/e2e` deployed into the
//! enforcing emulator (SigV4 verified, IAM evaluated for every caller and every function's
//! role, TLS-only policies): signed requests through API Gateway's stage, the queue's real
//! event source mapping and redrive policy, the relay's real schedule, and the tables and
//! queues read through the AWS SDK. Built only with the `e2e` feature and run by
//! `stack e2e`, which deploys first; `after_the_suite::` runs once every scenario has.
//!
//! This file is the suite's index: one test per promise, its doc comment the promise.

mod browser;
mod consumers;
mod edges;
mod erp;
mod flow;
mod gateway;
mod grants;
mod outbox;
mod proxy;
mod scripts;
mod signing_proxy;
mod support;
mod watch;
mod world;

use support::run;

type Outcome = Result<(), String>;

/// The original's flow through the stage: POST, processed within 10 s, GET one, GET all.
#[test]
fn the_originals_flow_through_the_stage() -> Outcome {
    run(flow::original_flow)
}

/// An unsigned request gets 401 from the gateway, naming the SigV4 scheme.
#[test]
fn an_unsigned_request_gets_401() -> Outcome {
    run(flow::unsigned_is_refused)
}

/// The gateway's IAM decides: no `execute-api:Invoke` 403, a wrong secret 403, a CRM
/// client's policy reaches /api/crm but not POST /events, a producer's the reverse.
#[test]
fn the_gateways_iam_decides() -> Outcome {
    run(gateway::iam_decides)
}

/// A signed request to a path the API does not have gets crm-api's 404 problem, to another
/// method of a known path its function's 405 with Allow; unsigned, the gateway's 401.
#[test]
fn unknown_routes_reach_the_functions() -> Outcome {
    run(gateway::unknown_routes_reach_the_functions)
}

/// Location and Link resolve behind the stage, in both local URL forms.
#[test]
fn location_and_link_resolve_behind_the_stage() -> Outcome {
    run(flow::references_resolve_behind_the_stage)
}

/// POST /events with the original's example event.
#[test]
fn post_events_with_the_originals_example() -> Outcome {
    run(flow::post_events)
}

/// A poison record reaches the DLQ through the redrive policy; its batch is processed.
#[test]
fn a_poison_record_reaches_the_dlq() -> Outcome {
    run(flow::poison_record)
}

/// The same event three times yields one record.
#[test]
fn the_same_event_three_times_yields_one_record() -> Outcome {
    run(flow::duplicate_deliveries)
}

/// A user's life through the stage: created, changed twice (GET shows version 3 synced at
/// both consumers), deleted; the ERP and the CRM mirror each record every event once and
/// end deleted at version 4, and no table keeps its name or email.
#[test]
fn a_users_life_through_the_stage() -> Outcome {
    run(flow::lifecycle_through_the_api)
}

/// Users' lifecycles shuffled and repeated onto the queue end in the newest state (GET
/// says synced); a deleted user's name and email are gone.
#[test]
fn shuffled_lifecycles_end_in_the_newest_state() -> Outcome {
    run(flow::shuffled_lifecycles)
}

/// 400 users from 50 concurrent clients, each processed exactly once.
#[test]
fn users_from_50_concurrent_clients_processed_once() -> Outcome {
    run(flow::concurrent_users)
}

/// The ERP connector: each change reaches the fake ERP once per idempotency key through
/// 503s, a 429 with Retry-After and repeated deliveries, with the secret's token, which no
/// environment holds.
#[test]
fn the_erp_is_called_once_per_idempotency_key() -> Outcome {
    run(erp::once_per_key)
}

/// An ERP outage: nothing reaches it or is lost while it is down, the backlog drains once
/// it is back, none dead-lettered.
#[test]
fn an_erp_outage_loses_nothing() -> Outcome {
    run(erp::outage)
}

/// A 400 from the ERP sends the event to the DLQ, its reason in erp-processor's log, the
/// user's sync failed.
#[test]
fn an_erp_refusal_goes_to_the_dlq() -> Outcome {
    run(erp::refusal_goes_to_the_dlq)
}

/// scripts/metrics prints the run's figures from the EMF lines: requests, outcomes, ERP
/// calls and errors.
#[test]
fn scripts_metrics_prints_the_runs_figures() -> Outcome {
    run(erp::metrics)
}

/// A failed ERP call records nothing and gives its user back: POST /events answers 503,
/// and its immediate retry calls the ERP again and is applied.
#[test]
fn a_failed_erp_call_leaves_its_retry_free() -> Outcome {
    run(erp::failed_call_retried_at_once)
}

/// Publish once, consume many: with the ERP down and refusing one user, the CRM mirror
/// applies every user from its own queue; with the CRM down, the ERP does while the mirror
/// tries each user and gives its lease back. Each catches up once back, the refused user in the ERP's dead-letter queue alone (GET: erp failed,
/// crmMirror synced).
#[test]
fn one_consumers_outage_or_poison_record_never_delays_the_other() -> Outcome {
    run(consumers::isolated)
}

/// Topic unreachable for the relay: every event stays pending; once it answers, 50 users
/// reach the ERP and the CRM mirror once each, and a user created and changed arrives at
/// both as both, applied by version (GET: synced at version 2).
#[test]
fn the_outbox_delivers_while_the_topic_is_unreachable() -> Outcome {
    run(outbox::outbox_under_outage)
}

/// Text a queue cannot carry (U+FFFF) is refused where it enters, naming the field (POST
/// and PATCH /api/crm, POST /events); a user stored with it before the rule syncs after a
/// change.
#[test]
fn text_a_queue_cannot_carry_is_refused() -> Outcome {
    run(edges::undeliverable_text)
}

/// Idempotency-Key repeats follow the table in docs/api.md: 201 while the user is
/// unchanged, 422 once changed or with another body, 409 once deleted; nothing
/// dead-lettered, the ERP ends deleted.
#[test]
fn idempotency_key_repeats_follow_the_table() -> Outcome {
    run(edges::idempotency_key_repeats)
}

/// A deletion is final over a producer's higher version: DELETE erases every audit
/// record's name and email, reaches the ERP with the CRM's version 3, the view ends
/// deleted at 100.
#[test]
fn a_deletion_is_final_over_a_higher_version() -> Outcome {
    run(edges::deletion_over_a_higher_version)
}

/// Every AWS call ends: with crm-api's topic hanging a POST answers 201 within 15 s (the
/// relay delivers it), with its table hanging 503 within 20 s.
#[test]
fn every_aws_call_ends() -> Outcome {
    run(edges::every_aws_call_ends)
}

/// 40 concurrent PATCHes of one user and producers' events racing them end synced at its
/// newest version, none dead-lettered.
#[test]
fn concurrent_patches_and_producers_end_synced() -> Outcome {
    run(edges::concurrent_producers)
}

/// A user leased by another holder at both consumers defers its change's record at each
/// instead of failing it: synced once the leases expire, none dead-lettered.
#[test]
fn a_held_lease_defers_the_record() -> Outcome {
    run(edges::held_lease_defers)
}

/// POST /events with the ERP hanging answers 503 erp-unavailable within 27 s, inside API
/// Gateway's 29 s.
#[test]
fn post_events_with_the_erp_hanging_answers_503_in_time() -> Outcome {
    run(edges::hanging_erp_behind_post_events)
}

/// scripts/redrive: a user's event dead-lettered at both consumers while their stores were
/// unreachable reaches each audit trail once after the fix (`--consumer crm-mirror` for the
/// mirror's).
#[test]
fn scripts_redrive_after_the_fix() -> Outcome {
    run(scripts::redrive_after_the_fix)
}

/// scripts/backfill re-publishes a processed user: one more audit record, none on a rerun.
#[test]
fn scripts_backfill_republishes_a_processed_user() -> Outcome {
    run(scripts::backfill_reaches_the_erp)
}

/// scripts/reconcile reports a user's views lost by hand as missing at both consumers and
/// one revived after its user's deletion as deleted upstream, as the deployed reconciler's
/// scheduled run counts them; `--repair` mends them; a second run names neither.
#[test]
fn scripts_reconcile_mends_views_changed_by_hand() -> Outcome {
    run(scripts::reconcile_mends_views_changed_by_hand)
}

/// schemathesis: every check, every phase, on the document the stage serves, zero failures.
#[test]
fn schemathesis_finds_no_failure() -> Outcome {
    run(scripts::schemathesis)
}

/// scripts/smoke passes against the local stage URL.
#[test]
fn scripts_smoke_passes() -> Outcome {
    run(scripts::smoke)
}

/// scripts/bench --e2e --smoke measures the lag at 1, 10 and 50 clients.
#[test]
fn scripts_bench_e2e_measures_the_lag() -> Outcome {
    run(scripts::bench_e2e)
}

/// cargo lambda watch: crm-api under watch writes to the deployed stack, Location and Link
/// resolve.
#[test]
fn cargo_lambda_watch_writes_to_the_deployed_stack() -> Outcome {
    run(watch::inner_loop)
}

/// Swagger UI renders every operation in headless Chromium, its CDN assets pinned by SRI.
#[test]
fn swagger_ui_renders_in_chromium() -> Outcome {
    run(browser::swagger_ui_renders)
}

/// What needs every scenario's calls first; `stack e2e` runs it after them.
mod after_the_suite {
    use super::{grants, run, Outcome};

    /// Every call of each function's role has its grant, and every grant a call (but the
    /// AWS services' named uses).
    #[test]
    fn every_call_has_its_grant_and_every_grant_a_call() -> Outcome {
        run(grants::compare_since_the_suite_began)
    }
}
