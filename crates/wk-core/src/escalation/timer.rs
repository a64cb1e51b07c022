//! Every timer of an escalation in one table, with one `next_timeout` (after quinn's
//! `timer.rs`).

use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The current step's acknowledgement timeout.
    Step,
    /// An acknowledged incident not resolved in time returns to triggered.
    AckTimeout,
    /// An integration's alert not sent again before its `endsAt` resolves itself.
    Expiry,
}

impl Timer {
    const ALL: [Timer; 3] = [Timer::Step, Timer::AckTimeout, Timer::Expiry];

    fn index(self) -> usize {
        match self {
            Timer::Step => 0,
            Timer::AckTimeout => 1,
            Timer::Expiry => 2,
        }
    }
}

/// When each timer is due, if it is set. Held as milliseconds with a sentinel for "stopped"
/// (24 bytes instead of 48 for three `Option<Timestamp>`s: a dispatcher holds one per open
/// alert).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerTable([i64; 3]);

const STOPPED: i64 = i64::MIN;

impl Default for TimerTable {
    fn default() -> TimerTable {
        TimerTable([STOPPED; 3])
    }
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Timestamp) {
        // The one instant that cannot be held is 292 million years before 1970.
        self.0[timer.index()] = at.as_unix_millis().max(STOPPED + 1);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.0[timer.index()] = STOPPED;
    }

    pub fn get(&self, timer: Timer) -> Option<Timestamp> {
        let at = self.0[timer.index()];
        (at != STOPPED).then(|| Timestamp::from_unix_millis(at))
    }

    pub fn next_timeout(&self) -> Option<Timestamp> {
        Timer::ALL
            .into_iter()
            .filter_map(|timer| self.get(timer))
            .min()
    }

    /// The earliest timer due at `now`, if any.
    pub fn expired(&self, now: Timestamp) -> Option<Timer> {
        Timer::ALL
            .into_iter()
            .filter_map(|timer| {
                self.get(timer)
                    .filter(|at| *at <= now)
                    .map(|at| (at, timer))
            })
            .min()
            .map(|(_, timer)| timer)
    }
}
