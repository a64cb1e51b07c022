//! A per-console circuit breaker whose open state parks that console's notifications (and
//! fails them over) instead of giving them up. Pure: time is passed in.

use std::time::Duration;

use wk_core::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed {
        consecutive_failures: u32,
    },
    Open {
        until: Timestamp,
    },
    /// One trial request is out since `since`; the others wait for its outcome.
    HalfOpen {
        since: Timestamp,
    },
}

/// What the breaker says to a request about to be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send it.
    Go,
    /// Send it as the half-open trial: its outcome decides for the others.
    Trial,
    /// Do not send it yet: wait (never give up because of this), and ask again at `until` at
    /// the latest (sooner is allowed, and is how waiters learn that a trial succeeded).
    Wait { until: Timestamp },
}

/// The outcome of one request, for the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attempt {
    /// Delivered.
    Success,
    /// The receiver answered and refused (401, 404, ...): it is reachable, so the circuit
    /// closes; the notification itself is given up (and escalated) by the caller.
    Refused,
    /// Timed out, refused the connection, or answered 408/429/5xx.
    Failed,
}

/// Opens after `threshold` consecutive failures, stays open for `open_for`, then lets one
/// trial through while every other request waits: a trial that reaches the receiver (success
/// or a refusal) closes it, a failed one opens it again. A trial that never reports (its task
/// gone) is replaced by another after `open_for`, so the breaker cannot stay half-open.
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

    /// Whether a request may be sent at `now`, and as what.
    pub fn admit(&mut self, now: Timestamp) -> Admission {
        let next_trial = match self.state {
            State::Closed { .. } => return Admission::Go,
            State::Open { until } => until,
            State::HalfOpen { since } => since.saturating_add_millis(self.open_for_ms),
        };
        if now >= next_trial {
            self.state = State::HalfOpen { since: now };
            Admission::Trial
        } else {
            Admission::Wait { until: next_trial }
        }
    }

    /// Whether requests are being held back at `now` (open, or half-open with a trial out).
    pub fn is_open(&self, now: Timestamp) -> bool {
        match self.state {
            State::Closed { .. } => false,
            State::Open { until } => now < until,
            State::HalfOpen { .. } => true,
        }
    }

    /// Records the outcome of a request sent at `admitted` (`Trial` or `Go`) at `now`.
    pub fn record(&mut self, admitted: Admission, attempt: Attempt, now: Timestamp) {
        let trial = admitted == Admission::Trial;
        self.state = match (self.state, attempt) {
            (_, Attempt::Success | Attempt::Refused) => State::Closed {
                consecutive_failures: 0,
            },
            (
                State::Closed {
                    consecutive_failures,
                },
                Attempt::Failed,
            ) if consecutive_failures + 1 < self.threshold => State::Closed {
                consecutive_failures: consecutive_failures + 1,
            },
            (State::Closed { .. }, Attempt::Failed) => self.open(now),
            (State::HalfOpen { .. }, Attempt::Failed) if trial => self.open(now),
            // A request sent before the circuit opened, failing late, changes nothing.
            (state @ (State::HalfOpen { .. } | State::Open { .. }), Attempt::Failed) => state,
        };
    }

    fn open(&self, now: Timestamp) -> State {
        State::Open {
            until: now.saturating_add_millis(self.open_for_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    /// A breaker opened at 2 ms by three failures, open for 30 s.
    fn opened() -> CircuitBreaker {
        let mut breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        for at in 0..3 {
            assert_eq!(breaker.admit(t(at)), Admission::Go);
            breaker.record(Admission::Go, Attempt::Failed, t(at));
        }
        breaker
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_and_makes_requests_wait() {
        let mut breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        breaker.record(Admission::Go, Attempt::Failed, t(0));
        breaker.record(Admission::Go, Attempt::Failed, t(1));
        assert_eq!(breaker.admit(t(2)), Admission::Go);
        // A success in between resets the count.
        breaker.record(Admission::Go, Attempt::Success, t(2));
        breaker.record(Admission::Go, Attempt::Failed, t(3));
        breaker.record(Admission::Go, Attempt::Failed, t(4));
        assert!(!breaker.is_open(t(5)));
        let mut breaker = opened();
        assert!(breaker.is_open(t(3)));
        assert_eq!(
            breaker.admit(t(29_999)),
            Admission::Wait { until: t(30_002) }
        );
    }

    #[test]
    fn half_open_admits_one_trial_and_the_others_wait_for_it() {
        let mut breaker = opened();
        assert_eq!(breaker.admit(t(30_002)), Admission::Trial);
        for at in [30_003, 40_000, 60_001] {
            assert_eq!(breaker.admit(t(at)), Admission::Wait { until: t(60_002) });
        }
        breaker.record(Admission::Trial, Attempt::Success, t(30_500));
        assert_eq!(breaker.admit(t(30_501)), Admission::Go);
        assert!(!breaker.is_open(t(30_501)));
    }

    #[test]
    fn every_outcome_of_the_trial_moves_the_breaker_on() {
        // Success and a refusal (401, 404: reachable but refusing) close it.
        for attempt in [Attempt::Success, Attempt::Refused] {
            let mut breaker = opened();
            assert_eq!(breaker.admit(t(30_002)), Admission::Trial);
            breaker.record(Admission::Trial, attempt, t(30_010));
            assert_eq!(breaker.admit(t(30_011)), Admission::Go, "{attempt:?}");
        }
        // A failure or a timeout opens it again for a whole period.
        let mut breaker = opened();
        assert_eq!(breaker.admit(t(30_002)), Admission::Trial);
        breaker.record(Admission::Trial, Attempt::Failed, t(32_002));
        assert_eq!(
            breaker.admit(t(32_003)),
            Admission::Wait { until: t(62_002) }
        );
        assert_eq!(breaker.admit(t(62_002)), Admission::Trial);
        // A trial that never reports is replaced after a period: never stuck half-open.
        assert_eq!(
            breaker.admit(t(92_001)),
            Admission::Wait { until: t(92_002) }
        );
        assert_eq!(breaker.admit(t(92_002)), Admission::Trial);
    }

    #[test]
    fn a_late_failure_of_a_request_sent_before_the_trial_changes_nothing() {
        let mut breaker = opened();
        assert_eq!(breaker.admit(t(30_002)), Admission::Trial);
        breaker.record(Admission::Go, Attempt::Failed, t(30_003));
        assert_eq!(
            breaker.admit(t(30_004)),
            Admission::Wait { until: t(60_002) }
        );
        breaker.record(Admission::Trial, Attempt::Success, t(30_005));
        assert_eq!(breaker.admit(t(30_006)), Admission::Go);
        // Open: a late failure does not extend the pause.
        let mut breaker = opened();
        breaker.record(Admission::Go, Attempt::Failed, t(20_000));
        assert_eq!(breaker.admit(t(30_002)), Admission::Trial);
    }
}
