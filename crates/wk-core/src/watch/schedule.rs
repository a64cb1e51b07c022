//! When an office is expected to check in: every N (an interval from its last check-in) or at
//! the times of a cron expression in the office's own time zone, each with a grace period.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use jiff::tz::TimeZone;

use crate::time::Timestamp;

/// At least this much grace, whatever the schedule.
pub const MIN_GRACE: Duration = Duration::from_secs(15 * 60);

/// How often an office checks in.
#[derive(Clone)]
pub enum Every {
    /// Within this long of its last check-in.
    Interval(Duration),
    /// At each time of the expression (minute, hour, day of month, month, day of week, as in
    /// crontab), in the office's zone.
    Cron {
        expression: String,
        schedule: Box<jiff_cron::Schedule>,
    },
}

impl fmt::Debug for Every {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Every::Interval(every) => write!(f, "Interval({every:?})"),
            Every::Cron { expression, .. } => write!(f, "Cron({expression:?})"),
        }
    }
}

impl PartialEq for Every {
    fn eq(&self, other: &Every) -> bool {
        match (self, other) {
            (Every::Interval(one), Every::Interval(two)) => one == two,
            (
                Every::Cron {
                    expression: one, ..
                },
                Every::Cron {
                    expression: two, ..
                },
            ) => one == two,
            _ => false,
        }
    }
}

impl Every {
    /// A five-field crontab expression (`0 8,18 * * Mon-Fri`); names of months and days and
    /// ranges, lists and steps as in crontab.
    pub fn cron(expression: &str) -> Result<Every, String> {
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "{expression:?} has {fields} fields; a check-in schedule has five: minute, \
                 hour, day of month, month, day of week (e.g. \"0 8,18 * * Mon-Fri\")"
            ));
        }
        // jiff-cron reads seconds first; a check-in is due on the minute.
        let schedule = jiff_cron::Schedule::from_str(&format!("0 {expression}"))
            .map_err(|error| format!("{expression:?} is not a cron expression: {error}"))?;
        Ok(Every::Cron {
            expression: expression.to_owned(),
            schedule: Box::new(schedule),
        })
    }
}

/// An office's check-in schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckInSchedule {
    pub every: Every,
    /// How long after a due time the office is late (shown, not paged) before it is down.
    pub grace: Duration,
    /// The office's zone, in which cron times are read.
    pub time_zone: TimeZone,
}

impl CheckInSchedule {
    /// The grace when none is configured: the larger of 15 minutes and a quarter of the
    /// interval (for a cron schedule, of the shortest gap between two of its times over a
    /// year, so that the default does not depend on when the configuration is read).
    pub fn default_grace(every: &Every, time_zone: &TimeZone) -> Duration {
        let period = match every {
            Every::Interval(interval) => *interval,
            Every::Cron { schedule, .. } => shortest_gap(schedule, time_zone),
        };
        (period / 4).max(MIN_GRACE)
    }

    /// When the office is next expected after checking in at `checked_in`. A check-in up to
    /// one grace period before a scheduled time counts for that time (an office that checks
    /// in at 07:50 for 08:00 is not then late at 08:00). `None`: never again (a cron
    /// expression with no future time).
    pub fn due_after(&self, checked_in: Timestamp) -> Option<Timestamp> {
        match &self.every {
            Every::Interval(interval) => Some(checked_in.saturating_add_millis(millis(*interval))),
            Every::Cron { schedule, .. } => next_time(
                schedule,
                &self.time_zone,
                checked_in.saturating_add_millis(millis(self.grace)),
            ),
        }
    }

    /// When a watch that starts (or resumes) at `now` is first expected: a full interval
    /// later, or the first scheduled time after now.
    pub fn due_from(&self, now: Timestamp) -> Option<Timestamp> {
        match &self.every {
            Every::Interval(interval) => Some(now.saturating_add_millis(millis(*interval))),
            Every::Cron { schedule, .. } => next_time(schedule, &self.time_zone, now),
        }
    }

    /// When an office due at `due` is down.
    pub fn down_at(&self, due: Timestamp) -> Timestamp {
        due.saturating_add_millis(millis(self.grace))
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The first time of `schedule` strictly after `after`, in `zone`.
pub(crate) fn next_time(
    schedule: &jiff_cron::Schedule,
    zone: &TimeZone,
    after: Timestamp,
) -> Option<Timestamp> {
    let start = jiff::Timestamp::from_millisecond(after.as_unix_millis())
        .ok()?
        .to_zoned(zone.clone());
    let next = schedule.after(start).next()?;
    Some(Timestamp::from_unix_millis(
        next.timestamp().as_millisecond(),
    ))
}

/// The shortest gap between consecutive times of `schedule` over the year 2001 (any fixed
/// year would do; 2001 has no leap day).
fn shortest_gap(schedule: &jiff_cron::Schedule, zone: &TimeZone) -> Duration {
    const YEAR_2001: i64 = 978_307_200_000;
    const YEAR: i64 = 365 * 24 * 3600 * 1000;
    let mut shortest = i64::MAX;
    let mut previous = next_time(schedule, zone, Timestamp::from_unix_millis(YEAR_2001));
    // At most one time a minute; bounded so that `* * * * *` costs at most this many steps.
    for _ in 0..10_000 {
        let Some(at) = previous else { break };
        if at.as_unix_millis() > YEAR_2001 + YEAR {
            break;
        }
        let next = next_time(schedule, zone, at);
        if let Some(next) = next {
            shortest = shortest.min(next.as_unix_millis() - at.as_unix_millis());
        }
        previous = next;
    }
    Duration::from_millis(u64::try_from(shortest).unwrap_or(u64::MAX))
}
