//! Slowing down repeated failed sign-ins, per account and per address: the first
//! `free_attempts` failures cost nothing, each further one doubles the wait before the next
//! try (1 s, 2 s, 4 s … up to 15 minutes). A success clears the account's count. Pure: time is
//! passed in; the map is bounded so a spray of addresses cannot grow it without limit.

use std::collections::HashMap;
use std::time::Duration;

use wk_core::Timestamp;

const MAX_WAIT_MS: i64 = 15 * 60 * 1000;
/// A count older than this is forgotten.
const FORGET_MS: i64 = 60 * 60 * 1000;

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Timestamp,
    until: Timestamp,
}

#[derive(Debug)]
pub struct Throttle {
    by_key: HashMap<String, Failures>,
    free_attempts: u32,
    capacity: usize,
}

impl Throttle {
    pub fn new(free_attempts: u32, capacity: usize) -> Throttle {
        Throttle {
            by_key: HashMap::new(),
            free_attempts,
            capacity: capacity.max(1),
        }
    }

    /// `Err(wait)` while `key` must wait before another try.
    pub fn check(&self, key: &str, now: Timestamp) -> Result<(), Duration> {
        match self.by_key.get(key) {
            Some(failures) if failures.until > now => Err(Duration::from_millis(
                u64::try_from(failures.until.as_unix_millis() - now.as_unix_millis()).unwrap_or(0),
            )),
            _ => Ok(()),
        }
    }

    /// Records a failed try by `key`.
    pub fn failed(&mut self, key: &str, now: Timestamp) {
        if !self.by_key.contains_key(key) && self.by_key.len() >= self.capacity {
            self.by_key.retain(|_, failures| {
                now.as_unix_millis() - failures.last.as_unix_millis() < FORGET_MS
            });
            if self.by_key.len() >= self.capacity
                && let Some(oldest) = self
                    .by_key
                    .iter()
                    .min_by_key(|(_, failures)| failures.last)
                    .map(|(key, _)| key.clone())
            {
                self.by_key.remove(&oldest);
            }
        }
        let failures = self.by_key.entry(key.to_owned()).or_insert(Failures {
            count: 0,
            last: now,
            until: now,
        });
        if now.as_unix_millis() - failures.last.as_unix_millis() >= FORGET_MS {
            failures.count = 0;
        }
        failures.count = failures.count.saturating_add(1);
        failures.last = now;
        let beyond = failures.count.saturating_sub(self.free_attempts);
        if beyond > 0 {
            let wait = 1000_i64
                .checked_shl(beyond - 1)
                .unwrap_or(MAX_WAIT_MS)
                .min(MAX_WAIT_MS);
            failures.until = now.saturating_add_millis(wait);
        }
    }

    /// A successful sign-in clears `key`.
    pub fn succeeded(&mut self, key: &str) {
        self.by_key.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_unix_millis(ms)
    }

    #[test]
    fn free_attempts_then_doubling_waits() {
        let mut throttle = Throttle::new(3, 100);
        for i in 0..3 {
            assert_eq!(throttle.check("maria", at(i)), Ok(()));
            throttle.failed("maria", at(i));
        }
        // Three failures are free; the fourth try is still allowed.
        assert_eq!(throttle.check("maria", at(3)), Ok(()));
        throttle.failed("maria", at(10));
        assert_eq!(throttle.check("maria", at(10)), Err(Duration::from_secs(1)));
        assert_eq!(throttle.check("maria", at(1010)), Ok(()));
        throttle.failed("maria", at(1010));
        assert_eq!(
            throttle.check("maria", at(1010)),
            Err(Duration::from_secs(2))
        );
        for _ in 0..40 {
            throttle.failed("maria", at(5000));
        }
        assert_eq!(
            throttle.check("maria", at(5000)),
            Err(Duration::from_secs(15 * 60))
        );
        // Other accounts are not affected.
        assert_eq!(throttle.check("jose", at(5000)), Ok(()));
    }

    #[test]
    fn success_clears_and_old_failures_are_forgotten() {
        let mut throttle = Throttle::new(1, 100);
        throttle.failed("maria", at(0));
        throttle.failed("maria", at(0));
        assert!(throttle.check("maria", at(0)).is_err());
        throttle.succeeded("maria");
        assert_eq!(throttle.check("maria", at(0)), Ok(()));
        throttle.failed("maria", at(0));
        throttle.failed("maria", at(FORGET_MS + 1));
        // The first failure was forgotten: this is failure 1, free.
        assert_eq!(throttle.check("maria", at(FORGET_MS + 1)), Ok(()));
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut throttle = Throttle::new(1, 10);
        for i in 0..1000 {
            throttle.failed(&format!("203.0.113.{i}"), at(i));
        }
        assert!(throttle.by_key.len() <= 10);
    }
}
