//! What an ERP answer means, and how long to wait before trying again: pure functions of
//! the answer, so every rule is unit-tested without a server.

use std::time::{Duration, SystemTime};

use super::ErpError;

/// The first retry waits up to this long; each further one up to twice as long as the
/// last, to `MAX_BACKOFF`.
pub const BASE_BACKOFF: Duration = Duration::from_millis(200);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The longest ERP text quoted in a failure's reason.
pub const MAX_REASON_CHARS: usize = 200;

/// The outcome of one answer. A `DELETE` of a record the ERP does not know (404) is done:
/// the state asked for holds.
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
        408 | 429 | 500..=599 => Err(ErpError::Unavailable {
            reason: format!("HTTP {status}{}", quoted(body)),
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

/// The ERP's own words: a problem document's `detail` or `title`, a `message` or `error`
/// field, else the start of the body; any word with an `@` masked, since an ERP may quote
/// the record it refused (the log must not hold the email).
fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let from_json = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|json| {
        ["detail", "message", "error", "title"]
            .iter()
            .find_map(|key| json.get(key).and_then(|v| v.as_str()).map(str::to_owned))
    });
    let reason = mask_emails(&from_json.unwrap_or_else(|| text.trim().to_owned()));
    if reason.is_empty() {
        "no reason given".to_owned()
    } else {
        truncate(&reason)
    }
}

fn mask_emails(text: &str) -> String {
    text.split(' ')
        .map(|word| if word.contains('@') { "[email]" } else { word })
        .collect::<Vec<_>>()
        .join(" ")
}

fn quoted(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", reason(body))
    }
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
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
    fn other_client_errors_are_permanent_with_the_erp_reason() {
        let problem = br#"{"title":"Bad Request","detail":"email domain not allowed"}"#;
        assert_eq!(
            classify(400, None, problem, false, now()),
            Err(ErpError::Refused {
                status: 400,
                reason: "email domain not allowed".to_owned()
            })
        );
        let quoting = br#"{"message":"ada@example.com is taken"}"#;
        assert_eq!(
            classify(409, None, quoting, false, now()).unwrap_err().to_string(),
            "the ERP refused the event (HTTP 409): [email] is taken"
        );
        let text = classify(422, None, b"  no such department \n", false, now()).unwrap_err();
        assert_eq!(
            text.to_string(),
            "the ERP refused the event (HTTP 422): no such department"
        );
        let empty = classify(403, None, b"", false, now()).unwrap_err();
        assert_eq!(
            empty.to_string(),
            "the ERP refused the event (HTTP 403): no reason given"
        );
        let long = "x".repeat(500);
        let ErpError::Refused { reason, .. } = classify(400, None, long.as_bytes(), false, now()).unwrap_err() else {
            panic!("a 400 is a refusal")
        };
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS + 1);
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
