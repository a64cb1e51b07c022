//! Pure delivery policy: exponential backoff with full jitter, and the rule that decides, after
//! each failure or each "wait" from the console's circuit breaker, whether a notification is
//! retried, parked (its console unreachable: it fails over, and keeps waiting) or finally given
//! up (its horizon spent). Time and randomness are passed in, so it is tested without sleeping.

use std::time::Duration;

use wk_core::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry waits up to this long.
    pub base: Duration,
    /// No single wait is longer.
    pub max_delay: Duration,
    /// After this many failed attempts the notification is parked (reported so its console
    /// fails over) and retried on; `u32::MAX` never parks (emails: they have no failover).
    pub park_after: u32,
    /// Retried until this long has passed since the first attempt (or since it was parked,
    /// for one restored parked); then given up.
    pub horizon: Duration,
    /// While the console's circuit holds requests back, ask it again at least this often, so
    /// a successful trial releases the waiting notifications promptly.
    pub poll: Duration,
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
}

/// What to do next with a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again after this wait.
    Retry(Duration),
    /// Report it parked (its console fails over now), then try again after this wait.
    Park(Duration),
    /// Already parked: try again after this wait.
    Wait(Duration),
    /// The horizon is spent: give it up (the escalation then tells a human).
    GiveUp,
}

/// One notification's way through failures and waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    policy: RetryPolicy,
    deadline: Timestamp,
    failures: u32,
    parked: bool,
}

impl Plan {
    /// A plan starting at `now`, or, for a notification restored while parked, from the
    /// instant it was parked (so a restart does not extend its horizon).
    pub fn new(policy: RetryPolicy, now: Timestamp, parked_since: Option<Timestamp>) -> Plan {
        let horizon_ms = i64::try_from(policy.horizon.as_millis()).unwrap_or(i64::MAX);
        Plan {
            policy,
            deadline: parked_since
                .unwrap_or(now)
                .saturating_add_millis(horizon_ms),
            failures: 0,
            parked: parked_since.is_some(),
        }
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// No wait runs past the deadline: the last one ends there, and the next call gives up.
    fn until_deadline(&self, wait: Duration, now: Timestamp) -> Duration {
        let left =
            u64::try_from(self.deadline.as_unix_millis() - now.as_unix_millis()).unwrap_or(0);
        wait.min(Duration::from_millis(left))
    }

    fn park_or_wait(&mut self, wait: Duration) -> Next {
        if std::mem::replace(&mut self.parked, true) {
            Next::Wait(wait)
        } else {
            Next::Park(wait)
        }
    }

    /// A transient failure at `now` (refused connection, timeout, 408, 429, 5xx; an SMTP 4xx).
    pub fn failed(&mut self, now: Timestamp, unit: f64) -> Next {
        self.failures = self.failures.saturating_add(1);
        if now >= self.deadline {
            return Next::GiveUp;
        }
        let wait = self.until_deadline(self.policy.delay(self.failures, unit), now);
        if self.failures >= self.policy.park_after {
            self.park_or_wait(wait)
        } else {
            Next::Retry(wait)
        }
    }

    /// The console's circuit holds requests back until `until` (open, or a trial out). The
    /// notification waits, parked; it is never given up for this before its horizon.
    /// `unit` spreads the waiters so they do not all ask at once.
    pub fn held_back(&mut self, now: Timestamp, until: Timestamp, unit: f64) -> Next {
        if now >= self.deadline {
            return Next::GiveUp;
        }
        let to_until = u64::try_from(until.as_unix_millis() - now.as_unix_millis()).unwrap_or(0);
        let spread = self.policy.poll.mul_f64(unit.clamp(0.0, 1.0) / 2.0);
        let wait = Duration::from_millis(to_until).min(self.policy.poll) + spread;
        let wait = self.until_deadline(wait, now);
        self.park_or_wait(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    fn webhooks() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            park_after: 3,
            horizon: Duration::from_secs(3600),
            poll: Duration::from_millis(500),
        }
    }

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..webhooks()
        };
        assert_eq!(policy.delay(1, 0.999_999).as_millis(), 99);
        assert_eq!(policy.delay(2, 0.5), Duration::from_millis(100));
        assert_eq!(policy.delay(3, 0.5), Duration::from_millis(200));
        assert_eq!(policy.delay(10, 0.5), Duration::from_millis(500));
        assert_eq!(policy.delay(1_000, 1.0), Duration::from_secs(1));
        assert_eq!(policy.delay(3, 0.0), Duration::ZERO);
    }

    #[test]
    fn a_webhook_is_retried_then_parked_then_retried_until_its_horizon() {
        let mut plan = Plan::new(webhooks(), t(0), None);
        assert_eq!(
            plan.failed(t(10), 0.5),
            Next::Retry(Duration::from_millis(100))
        );
        assert_eq!(
            plan.failed(t(20), 0.5),
            Next::Retry(Duration::from_millis(200))
        );
        // The third failure parks it: reported once, so its console fails over.
        assert_eq!(
            plan.failed(t(30), 0.5),
            Next::Park(Duration::from_millis(400))
        );
        assert_eq!(
            plan.failed(t(40), 1.0),
            Next::Wait(Duration::from_millis(1600))
        );
        assert_eq!(plan.failures(), 4);
        // The last wait ends at the horizon; the next failure gives it up.
        assert_eq!(
            plan.failed(t(3_599_000), 1.0),
            Next::Wait(Duration::from_secs(1))
        );
        assert_eq!(plan.failed(t(3_600_000), 0.5), Next::GiveUp);
    }

    #[test]
    fn an_open_circuit_parks_and_never_gives_up_before_the_horizon() {
        let mut plan = Plan::new(webhooks(), t(0), None);
        // Open until 30 s: park, and ask again within the poll interval (spread by unit).
        assert_eq!(
            plan.held_back(t(0), t(30_000), 0.0),
            Next::Park(Duration::from_millis(500))
        );
        assert_eq!(
            plan.held_back(t(500), t(30_000), 1.0),
            Next::Wait(Duration::from_millis(750))
        );
        // Shortly before the trial: wait only until then.
        assert_eq!(
            plan.held_back(t(29_900), t(30_000), 0.0),
            Next::Wait(Duration::from_millis(100))
        );
        assert_eq!(
            plan.held_back(t(3_600_000), t(3_630_000), 0.0),
            Next::GiveUp
        );
    }

    #[test]
    fn a_restored_parked_notification_keeps_its_horizon_and_is_not_parked_twice() {
        let mut plan = Plan::new(webhooks(), t(3_000_000), Some(t(0)));
        assert_eq!(
            plan.held_back(t(3_000_000), t(3_010_000), 0.0),
            Next::Wait(Duration::from_millis(500))
        );
        assert_eq!(plan.failed(t(3_600_001), 0.5), Next::GiveUp);
    }

    #[test]
    fn an_email_is_never_parked_and_is_retried_until_its_horizon() {
        let emails = RetryPolicy {
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            park_after: u32::MAX,
            horizon: Duration::from_secs(600),
            poll: Duration::from_millis(500),
        };
        let mut plan = Plan::new(emails, t(0), None);
        for attempt in 0..10_000 {
            assert!(matches!(plan.failed(t(attempt), 0.5), Next::Retry(_)));
        }
        assert_eq!(plan.failed(t(600_000), 0.5), Next::GiveUp);
    }
}
