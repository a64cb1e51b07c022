//! Pure delivery policy: exponential backoff with full jitter inside a retry budget, and a
//! per-console circuit breaker whose open state feeds the escalation engine's failover. Time
//! and randomness are passed in, so both are tested without sleeping.

use std::time::Duration;

use wk_core::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry waits up to this long.
    pub base: Duration,
    /// No single wait is longer.
    pub max_delay: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No retry starts once this long has passed since the first attempt (emails are retried
    /// until the SMTP server takes them or this runs out; webhooks give up sooner, by count,
    /// so their console fails over).
    pub max_elapsed: Option<Duration>,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 = the first retry): uniformly random in
    /// `[0, min(max_delay, base * 2^(retry-1))]` ("full jitter"), where `unit` is a random
    /// number in `[0, 1)`.
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Whether another attempt may follow `attempts` made so far, `elapsed` after the first.
    pub fn may_retry(&self, attempts: u32, elapsed: Duration) -> bool {
        attempts < self.max_attempts && self.max_elapsed.is_none_or(|limit| elapsed < limit)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Timestamp,
    },
    /// One trial request is allowed through.
    HalfOpen,
}

/// Opens after `threshold` consecutive failures, stays open for `open_for`, then lets one trial
/// through: success closes it, failure opens it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for_ms: i64,
    state: State,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration) -> CircuitBreaker {
        CircuitBreaker {
            threshold: threshold.max(1),
            open_for_ms: i64::try_from(open_for.as_millis()).unwrap_or(i64::MAX),
            state: State::Closed {
                consecutive_failures: 0,
            },
        }
    }

    /// Whether a request may be sent at `now`.
    pub fn allow(&mut self, now: Timestamp) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::HalfOpen => false,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen;
                true
            }
            State::Open { .. } => false,
        }
    }

    pub fn is_open(&self, now: Timestamp) -> bool {
        matches!(self.state, State::Open { until } if now < until)
    }

    pub fn record_success(&mut self) {
        self.state = State::Closed {
            consecutive_failures: 0,
        };
    }

    pub fn record_failure(&mut self, now: Timestamp) {
        self.state = match self.state {
            State::Closed {
                consecutive_failures,
            } if consecutive_failures + 1 < self.threshold => State::Closed {
                consecutive_failures: consecutive_failures + 1,
            },
            _ => State::Open {
                until: now.saturating_add_millis(self.open_for_ms),
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_attempts: 5,
            max_elapsed: None,
        };
        assert_eq!(policy.delay(1, 0.999_999).as_millis(), 99);
        assert_eq!(policy.delay(2, 0.5), Duration::from_millis(100));
        assert_eq!(policy.delay(3, 0.5), Duration::from_millis(200));
        assert_eq!(policy.delay(10, 0.5), Duration::from_millis(500));
        assert_eq!(policy.delay(1_000, 1.0), Duration::from_secs(1));
        assert_eq!(policy.delay(3, 0.0), Duration::ZERO);
        assert!(policy.may_retry(4, Duration::from_secs(3600)));
        assert!(!policy.may_retry(5, Duration::ZERO));
    }

    #[test]
    fn a_time_budget_bounds_retries_whatever_their_count() {
        let policy = RetryPolicy {
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: u32::MAX,
            max_elapsed: Some(Duration::from_secs(600)),
        };
        assert!(policy.may_retry(10_000, Duration::from_secs(599)));
        assert!(!policy.may_retry(2, Duration::from_secs(600)));
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_and_half_opens_after_the_pause() {
        let t = |ms| Timestamp::from_unix_millis(ms);
        let mut breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        breaker.record_failure(t(0));
        breaker.record_failure(t(1));
        assert!(breaker.allow(t(2)));
        breaker.record_failure(t(2));
        assert!(breaker.is_open(t(3)));
        assert!(!breaker.allow(t(29_999)));
        // After the pause one trial goes through; others wait for its result.
        assert!(breaker.allow(t(30_002)));
        assert!(!breaker.allow(t(30_003)));
        breaker.record_failure(t(30_004));
        assert!(breaker.is_open(t(30_005)));
        assert!(breaker.allow(t(60_004)));
        breaker.record_success();
        assert!(breaker.allow(t(60_005)));
        assert!(!breaker.is_open(t(60_005)));
    }
}
