//! Per-office rate limits: one GCRA limiter (governor) per configured office, so a runaway
//! script at one field office is refused with RESOURCE_EXHAUSTED while every other office goes
//! on unaffected. Checked before validation and before anything reaches the broker.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota};
use wk_core::config::Office;

/// Why a submission was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limited {
    pub rate_per_second: u32,
    pub burst: u32,
    /// When the same request could succeed (none for a batch larger than the burst).
    pub retry_after: Option<Duration>,
}

struct Limit {
    limiter: DefaultDirectRateLimiter,
    rate_per_second: u32,
    burst: u32,
}

#[derive(Default)]
pub struct RateLimits {
    offices: HashMap<String, Limit>,
    clock: DefaultClock,
}

impl RateLimits {
    pub fn new(offices: &[Office]) -> RateLimits {
        let offices = offices
            .iter()
            .map(|office| {
                let rate = NonZeroU32::new(office.rate_per_second).unwrap_or(NonZeroU32::MIN);
                let burst = NonZeroU32::new(office.burst).unwrap_or(NonZeroU32::MIN);
                let limit = Limit {
                    limiter: DefaultDirectRateLimiter::direct(
                        Quota::per_second(rate).allow_burst(burst),
                    ),
                    rate_per_second: rate.get(),
                    burst: burst.get(),
                };
                (office.id.clone(), limit)
            })
            .collect();
        RateLimits {
            offices,
            clock: DefaultClock::default(),
        }
    }

    /// Takes `alerts` from `office`'s allowance, or says when to retry. Offices without a
    /// configured limit (none, in a validated configuration) pass.
    pub fn check(&self, office: &str, alerts: usize) -> Result<(), Limited> {
        let Some(limit) = self.offices.get(office) else {
            return Ok(());
        };
        let refused = |retry_after| Limited {
            rate_per_second: limit.rate_per_second,
            burst: limit.burst,
            retry_after,
        };
        let Some(alerts) = u32::try_from(alerts).ok().and_then(NonZeroU32::new) else {
            return Ok(());
        };
        match limit.limiter.check_n(alerts) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(refused(Some(not_until.wait_time_from(self.clock.now())))),
            Err(_insufficient_capacity) => Err(refused(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(id: &str, rate_per_second: u32, burst: u32) -> Office {
        Office {
            id: id.into(),
            name: id.into(),
            token_hashes: vec![],
            rate_per_second,
            burst,
            password_hash: None,
            watch: Default::default(),
        }
    }

    #[test]
    fn a_flooding_office_is_refused_and_the_others_are_not() {
        let limits = RateLimits::new(&[office("flood", 1, 5), office("calm", 1, 5)]);
        for _ in 0..5 {
            assert_eq!(limits.check("flood", 1), Ok(()));
        }
        let refused = limits.check("flood", 1).unwrap_err();
        assert_eq!((refused.rate_per_second, refused.burst), (1, 5));
        let wait = refused.retry_after.unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limits.check("calm", 5), Ok(()));
    }

    #[test]
    fn a_batch_larger_than_the_burst_can_never_pass() {
        let limits = RateLimits::new(&[office("flood", 100, 10)]);
        assert_eq!(limits.check("flood", 11).unwrap_err().retry_after, None);
        assert_eq!(limits.check("flood", 10), Ok(()));
    }
}
