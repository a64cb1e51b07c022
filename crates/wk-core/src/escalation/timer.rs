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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TimerTable([Option<Timestamp>; 3]);

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Timestamp) {
        self.0[timer.index()] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.0[timer.index()] = None;
    }

    pub fn get(&self, timer: Timer) -> Option<Timestamp> {
        self.0[timer.index()]
    }

    pub fn next_timeout(&self) -> Option<Timestamp> {
        self.0.iter().flatten().min().copied()
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
