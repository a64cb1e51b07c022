//! `Timestamp`: a wall-clock instant. Escalations must survive restarts, so time is wall-clock
//! (not monotonic) and always passed in by the caller.

use std::fmt;

/// A wall-clock instant with millisecond precision, as Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const UNIX_EPOCH: Timestamp = Timestamp(0);

    pub const fn from_unix_millis(millis: i64) -> Timestamp {
        Timestamp(millis)
    }

    pub const fn as_unix_millis(self) -> i64 {
        self.0
    }

    /// Seconds since the Unix epoch, rounded down.
    pub const fn as_unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// From protobuf-style seconds and nanoseconds; `None` when out of range.
    pub fn from_seconds_nanos(seconds: i64, nanos: i32) -> Option<Timestamp> {
        let millis = seconds
            .checked_mul(1000)?
            .checked_add(i64::from(nanos) / 1_000_000)?;
        // jiff's supported range (years -9999..=9999) bounds what we accept.
        jiff::Timestamp::from_millisecond(millis).ok()?;
        Some(Timestamp(millis))
    }

    /// Protobuf-style (seconds, nanos).
    pub fn to_seconds_nanos(self) -> (i64, i32) {
        let seconds = self.0.div_euclid(1000);
        // The remainder is in 0..1000, so the product fits an i32.
        let nanos = (self.0.rem_euclid(1000) * 1_000_000) as i32;
        (seconds, nanos)
    }

    /// Converts a wall-clock reading the caller made (wk-core never reads the clock itself).
    pub fn from_system_time(time: std::time::SystemTime) -> Timestamp {
        let millis = match time.duration_since(std::time::SystemTime::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        };
        Timestamp(millis)
    }

    /// `millis` later (earlier if negative); `None` outside the range `from_seconds_nanos`
    /// accepts.
    pub fn checked_add_millis(self, millis: i64) -> Option<Timestamp> {
        let millis = self.0.checked_add(millis)?;
        jiff::Timestamp::from_millisecond(millis).ok()?;
        Some(Timestamp(millis))
    }

    pub fn saturating_add_millis(self, millis: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(millis))
    }

    fn to_jiff(self) -> Option<jiff::Timestamp> {
        jiff::Timestamp::from_millisecond(self.0).ok()
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, e.g. `2026-11-24T05:34:22Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_jiff() {
            Some(ts) => write!(f, "{ts:.0}"),
            None => write!(f, "@{}ms", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_protobuf_time_and_formats_utc() {
        let ts = Timestamp::from_seconds_nanos(1_795_000_000, 250_000_000).unwrap();
        assert_eq!(ts.as_unix_millis(), 1_795_000_000_250);
        assert_eq!(ts.to_seconds_nanos(), (1_795_000_000, 250_000_000));
        assert_eq!(
            Timestamp::from_unix_millis(0).to_string(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix_millis(-1).to_seconds_nanos(),
            (-1, 999_000_000)
        );
    }

    #[test]
    fn converts_system_times_on_both_sides_of_the_epoch() {
        let epoch = std::time::SystemTime::UNIX_EPOCH;
        let later = epoch + std::time::Duration::from_millis(1_500);
        let earlier = epoch - std::time::Duration::from_millis(1_500);
        assert_eq!(Timestamp::from_system_time(later).as_unix_millis(), 1_500);
        assert_eq!(
            Timestamp::from_system_time(earlier).as_unix_millis(),
            -1_500
        );
    }

    #[test]
    fn rejects_out_of_range_times() {
        assert!(Timestamp::from_seconds_nanos(i64::MAX, 0).is_none());
        assert!(Timestamp::from_seconds_nanos(400_000_000_000, 0).is_none());
    }
}
