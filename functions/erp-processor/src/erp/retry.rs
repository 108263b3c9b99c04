//! What an ERP answer means, and how long to wait before trying again: pure functions of
//! the answer, so every rule is unit-tested without a server.

use std::time::{Duration, SystemTime};

use super::ErpError;

/// The first retry waits up to this long; each further one up to twice as long as the
/// last, to `MAX_BACKOFF`.
pub const BASE_BACKOFF: Duration = Duration::from_millis(200);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest problem `type` a failure's reason names.
pub const MAX_TYPE_CHARS: usize = 200;

/// The outcome of one answer. A `DELETE` of a record the ERP does not know (404) is done:
/// the state asked for holds. A 412 is the ERP refusing a stale write (it holds a newer
/// version, or deleted the employee).
pub fn classify(
    status: u16,
    retry_after: Option<&str>,
    body: &[u8],
    deleting: bool,
    now: SystemTime,
) -> Result<(), ErpError> {
    match status {
        200..=299 => Ok(()),
        404 if deleting => Ok(()),
        // A deletion is final whatever version the ERP holds: a 412 to it is a refusal.
        412 if !deleting => Err(ErpError::Stale),
        408 | 429 | 500..=599 => Err(ErpError::Unavailable {
            reason: format!("HTTP {status}"),
            retry_after: retry_after.and_then(|v| parse_retry_after(v, now)),
        }),
        _ => Err(ErpError::Refused {
            status,
            reason: reason(body),
        }),
    }
}

/// "Full jitter" backoff (AWS Architecture Blog, "Exponential Backoff And Jitter"): a
/// random wait up to the exponential ceiling, so many clients retrying at once spread out.
/// `attempt` is the attempt that failed (1 for the first); `random` is uniform in [0, 1).
pub fn backoff(attempt: u32, random: f64) -> Duration {
    let ceiling = BASE_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(MAX_BACKOFF);
    ceiling.mul_f64(random.clamp(0.0, 1.0))
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); a date in the past
/// is no wait.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// What a refusal's body says, without its words: an ERP may quote the record it refused
/// (a name, an email), and the reason reaches logs and the dead-letter queue's readers.
/// Only a problem document's `type` (RFC 9457: a URI naming the kind of problem, not the
/// instance) is kept, when it looks like one; otherwise the body's length.
fn reason(body: &[u8]) -> String {
    let problem_type = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| json.get("type").and_then(|v| v.as_str()).map(str::to_owned))
        .filter(|t| looks_like_a_type(t));
    match (problem_type, body.len()) {
        (Some(problem_type), len) => format!("problem type {problem_type}, a {len}-byte body"),
        (None, 0) => "no body".to_owned(),
        (None, len) => format!("a {len}-byte body, not quoted"),
    }
}

/// A URI of at most `MAX_TYPE_CHARS` printable characters, with a scheme and no `@` (which
/// would let an address through, e.g. `mailto:` or userinfo).
fn looks_like_a_type(t: &str) -> bool {
    let scheme = t.split_once(':').map_or("", |(scheme, _)| scheme);
    t.len() <= MAX_TYPE_CHARS
        && t.bytes().all(|b| b.is_ascii_graphic() && b != b'@')
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        httpdate::parse_http_date("Tue, 01 Dec 2026 12:00:00 GMT").unwrap()
    }

    #[test]
    fn success_and_a_missing_record_on_delete() {
        assert_eq!(classify(200, None, b"", false, now()), Ok(()));
        assert_eq!(classify(204, None, b"", true, now()), Ok(()));
        assert_eq!(classify(404, None, b"", true, now()), Ok(()));
        assert_eq!(
            classify(412, None, b"", false, now()),
            Err(ErpError::Stale),
            "a stale write"
        );
        assert!(
            matches!(
                classify(412, None, b"", true, now()),
                Err(ErpError::Refused { status: 412, .. })
            ),
            "a deletion is never stale"
        );
        assert!(matches!(
            classify(404, None, b"", false, now()),
            Err(ErpError::Refused { status: 404, .. })
        ));
    }

    #[test]
    fn transient_statuses_carry_the_erp_hint() {
        for status in [408, 429, 500, 502, 503, 504] {
            let error = classify(status, Some("7"), b"", false, now()).unwrap_err();
            assert!(!error.is_permanent(), "{status}");
            assert_eq!(
                error,
                ErpError::Unavailable {
                    reason: format!("HTTP {status}"),
                    retry_after: Some(Duration::from_secs(7)),
                }
            );
        }
    }

    #[test]
    fn other_client_errors_are_permanent_and_never_quote_the_erp() {
        let problem = br#"{"type":"https://erp.example.com/problems/duplicate","detail":"Ada Lovelace exists"}"#;
        assert_eq!(
            classify(409, None, problem, false, now()),
            Err(ErpError::Refused {
                status: 409,
                reason: format!(
                    "problem type https://erp.example.com/problems/duplicate, a {}-byte body",
                    problem.len()
                )
            })
        );
        for (status, body) in [
            (400, &br#"{"message":"ada@example.com is taken"}"#[..]),
            (422, b"  Employee Ada Lovelace exists \n"),
            (400, br#"{"type":"Ada Lovelace","detail":"x"}"#),
            (400, br#"{"type":"urn:x:ada@example.com"}"#),
            (400, br#"{"type":"AdaLovelace"}"#),
            (400, "x".repeat(500).as_bytes()),
        ] {
            let text = classify(status, None, body, false, now()).unwrap_err().to_string();
            for word in ["Ada", "ada@", "taken", "xxx"] {
                assert!(!text.contains(word), "{text}");
            }
            assert!(
                text.ends_with(&format!("a {}-byte body, not quoted", body.len())),
                "{text}"
            );
        }
        let empty = classify(403, None, b"", false, now()).unwrap_err();
        assert_eq!(empty.to_string(), "the ERP refused the event (HTTP 403): no body");
        let unavailable = classify(503, None, b"Ada Lovelace is locked", false, now()).unwrap_err();
        assert_eq!(unavailable.to_string(), "the ERP is unavailable: HTTP 503");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after(" 120 ", now()), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("-3", now()), None);
    }

    #[test]
    fn backoff_grows_to_its_cap_and_stays_under_its_ceiling() {
        assert_eq!(backoff(1, 0.999_999), BASE_BACKOFF.mul_f64(0.999_999));
        assert_eq!(backoff(2, 0.5), BASE_BACKOFF);
        assert_eq!(backoff(3, 0.5), BASE_BACKOFF * 2);
        assert_eq!(backoff(30, 0.5), MAX_BACKOFF / 2);
        assert_eq!(backoff(3, 0.0), Duration::ZERO);
        for attempt in 1..10 {
            assert!(backoff(attempt, 0.999) <= MAX_BACKOFF);
        }
    }
}
