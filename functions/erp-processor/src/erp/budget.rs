//! How long the ERP calls of an invocation may take: until the invocation's deadline, less
//! what completing the records needs afterwards.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What is kept back from the deadline for the writes after the ERP call (the audit
/// record and the ERP view: a few DynamoDB round trips).
pub const RESERVE: Duration = Duration::from_secs(2);

/// How long before its deadline a batch answers with what it finished: posting the answer
/// takes milliseconds, and an invocation past its deadline answers nothing.
pub const ANSWER_MARGIN: Duration = Duration::from_millis(250);

/// When an invocation with this deadline (ms since the epoch) answers: `ANSWER_MARGIN`
/// before it. `None` when the deadline is unknown (not in the future, as under `cargo
/// lambda watch`).
pub fn answer_by(deadline_ms: u64, now: SystemTime) -> Option<Instant> {
    left_until(deadline_ms, now).map(|left| Instant::now() + left.saturating_sub(ANSWER_MARGIN))
}

/// The time from `now` to `deadline_ms` (ms since the epoch, as the runtime gives it);
/// `None` for a deadline not in the future, which is unknown rather than passed: `cargo
/// lambda watch` sends a constant 600000 (1970).
fn left_until(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    Duration::from_millis(deadline_ms)
        .checked_sub(since_epoch)
        .filter(|left| !left.is_zero())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    until: Instant,
}

impl Budget {
    /// Ends `RESERVE` before `deadline_ms`; `fallback` from now when the deadline is
    /// unknown (`left_until`).
    pub fn from_deadline(deadline_ms: u64, now: SystemTime, fallback: Duration) -> Self {
        let started = Instant::now();
        let until = match left_until(deadline_ms, now) {
            Some(left) => started + left.saturating_sub(RESERVE),
            None => started + fallback,
        };
        Self { until }
    }

    /// `length` from now.
    pub fn lasting(length: Duration) -> Self {
        Self {
            until: Instant::now() + length,
        }
    }

    /// This budget, or `length` from now if that ends sooner.
    pub fn at_most(self, length: Duration) -> Self {
        Self {
            until: self.until.min(Instant::now() + length),
        }
    }

    pub fn remaining(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FALLBACK: Duration = Duration::from_secs(9);

    #[test]
    fn a_future_deadline_less_the_reserve() {
        let now = SystemTime::now();
        let deadline = now.duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
        let budget = Budget::from_deadline(deadline.as_millis() as u64, now, FALLBACK);
        let left = budget.remaining();
        assert!(
            left <= Duration::from_secs(28) && left > Duration::from_secs(27),
            "{left:?}"
        );
    }

    #[test]
    fn a_deadline_closer_than_the_reserve_leaves_nothing() {
        let now = SystemTime::now();
        let deadline = now.duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(1);
        let budget = Budget::from_deadline(deadline.as_millis() as u64, now, FALLBACK);
        assert_eq!(budget.remaining(), Duration::ZERO);
    }

    #[test]
    fn a_cap_ends_it_sooner_never_later() {
        let long = Budget::lasting(Duration::from_secs(60)).at_most(Duration::from_secs(5));
        assert!(long.remaining() <= Duration::from_secs(5));
        let short = Budget::lasting(Duration::from_secs(1)).at_most(Duration::from_secs(5));
        assert!(short.remaining() <= Duration::from_secs(1));
    }

    #[test]
    fn a_deadline_in_the_past_is_unknown() {
        // What cargo lambda watch sends.
        let budget = Budget::from_deadline(600_000, SystemTime::now(), FALLBACK);
        let left = budget.remaining();
        assert!(left <= FALLBACK && left > Duration::from_secs(8), "{left:?}");
    }

    #[test]
    fn a_batch_answers_its_margin_before_a_known_deadline_only() {
        let now = SystemTime::now();
        let deadline = now.duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(10);
        let at = answer_by(deadline.as_millis() as u64, now).expect("a future deadline");
        let left = at.saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_secs(10) - ANSWER_MARGIN, "{left:?}");
        assert!(left > Duration::from_secs(9), "{left:?}");
        assert_eq!(answer_by(600_000, now), None, "cargo lambda watch's constant deadline");
    }
}
