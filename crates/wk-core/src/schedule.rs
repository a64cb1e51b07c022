//! On-call schedules: who is on call at a given instant. Layers rotate a list of people every
//! N days at a local hand-over time, optionally only within a daily local window (follow the
//! sun: Manila 06:00–18:00 Asia/Manila, Panama the rest); overrides for a date range beat
//! every layer. The first active layer, in configuration order, wins. Pure: time is passed in.

use jiff::civil;
use jiff::tz::TimeZone;

use crate::time::Timestamp;

/// A daily window in a layer's local time, `[start, end)`; wraps midnight when `end <= start`
/// (and `start == end` means all day).
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub start: civil::Time,
    pub end: civil::Time,
}

impl Window {
    pub fn contains(&self, time: civil::Time) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else if self.start > self.end {
            time >= self.start || time < self.end
        } else {
            true
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    pub name: String,
    pub time_zone: TimeZone,
    pub window: Option<Window>,
    /// Person ids in rotation order.
    pub people: Vec<String>,
    /// The local date and time of a hand-over to `people[0]`.
    pub handover: civil::DateTime,
    /// Days between hand-overs (1 = daily, 7 = weekly).
    pub shift_days: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub person: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub id: String,
    pub layers: Vec<Layer>,
    pub overrides: Vec<Override>,
}

/// Days since 1970-01-01 of a civil date.
fn day_number(date: civil::Date) -> i64 {
    // Every civil date jiff can represent exists at midnight UTC.
    date.to_zoned(TimeZone::UTC)
        .map_or(0, |zoned| zoned.timestamp().as_second().div_euclid(86_400))
}

impl Layer {
    /// The person this layer puts on call at `at`, if the layer is active then.
    pub fn on_call(&self, at: Timestamp) -> Option<&str> {
        let instant = jiff::Timestamp::from_millisecond(at.as_unix_millis()).ok()?;
        let local = instant.to_zoned(self.time_zone.clone()).datetime();
        if let Some(window) = &self.window
            && !window.contains(local.time())
        {
            return None;
        }
        if self.people.is_empty() || self.shift_days == 0 {
            return None;
        }
        // The shift day starts at the hand-over time: before it, it is still yesterday's shift.
        let mut shift_date = local.date();
        if local.time() < self.handover.time() {
            shift_date = shift_date.yesterday().ok()?;
        }
        let days = day_number(shift_date) - day_number(self.handover.date());
        let shifts = days.div_euclid(i64::from(self.shift_days));
        let index = shifts.rem_euclid(self.people.len() as i64) as usize;
        self.people.get(index).map(String::as_str)
    }
}

impl Schedule {
    /// Who is on call at `at`: an override covering `at`, else the first active layer.
    pub fn on_call(&self, at: Timestamp) -> Option<&str> {
        if let Some(current) = self.overrides.iter().find(|o| o.start <= at && at < o.end) {
            return Some(&current.person);
        }
        self.layers.iter().find_map(|layer| layer.on_call(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        let ts: jiff::Timestamp = text.parse().unwrap();
        Timestamp::from_unix_millis(ts.as_millisecond())
    }

    fn time(text: &str) -> civil::Time {
        text.parse().unwrap()
    }

    /// Manila 06:00–18:00 Asia/Manila, Panama the rest of the day in America/Panama.
    pub(crate) fn follow_the_sun() -> Schedule {
        Schedule {
            id: "centre-duty".into(),
            layers: vec![
                Layer {
                    name: "manila-day".into(),
                    time_zone: TimeZone::get("Asia/Manila").unwrap(),
                    window: Some(Window {
                        start: time("06:00"),
                        end: time("18:00"),
                    }),
                    people: vec!["maria".into(), "jose".into()],
                    handover: "2026-11-02T06:00".parse().unwrap(),
                    shift_days: 7,
                },
                Layer {
                    name: "panama-night".into(),
                    time_zone: TimeZone::get("America/Panama").unwrap(),
                    window: Some(Window {
                        start: time("05:00"),
                        end: time("17:00"),
                    }),
                    people: vec!["ana".into()],
                    handover: "2026-11-02T05:00".parse().unwrap(),
                    shift_days: 1,
                },
            ],
            overrides: vec![],
        }
    }

    #[test]
    fn follow_the_sun_hands_over_between_manila_and_panama() {
        let schedule = follow_the_sun();
        // 09:00 in Manila is 01:00 UTC.
        assert_eq!(schedule.on_call(at("2026-11-24T01:00:00Z")), Some("jose"));
        // 17:59 Manila: still Manila.
        assert_eq!(schedule.on_call(at("2026-11-24T09:59:00Z")), Some("jose"));
        // 18:00 Manila = 05:00 Panama: Panama takes over.
        assert_eq!(schedule.on_call(at("2026-11-24T10:00:00Z")), Some("ana"));
        // 03:00 Manila = 14:00 Panama the day before.
        assert_eq!(schedule.on_call(at("2026-11-24T19:00:00Z")), Some("ana"));
        // 06:00 Manila = 22:00 UTC: back to Manila.
        assert_eq!(schedule.on_call(at("2026-11-24T22:00:00Z")), Some("jose"));
    }

    #[test]
    fn weekly_rotation_hands_over_at_the_local_time() {
        let schedule = follow_the_sun();
        // Week of 2026-11-02 is maria's, then jose's, then maria's again.
        assert_eq!(schedule.on_call(at("2026-11-03T01:00:00Z")), Some("maria"));
        assert_eq!(schedule.on_call(at("2026-11-09T01:00:00Z")), Some("jose"));
        // Monday 2026-11-16 05:59 Manila is still jose's week...
        let layer = &schedule.layers[0];
        let mut always = layer.clone();
        always.window = None;
        assert_eq!(always.on_call(at("2026-11-15T21:59:00Z")), Some("jose"));
        // ...and 06:00 hands over to maria.
        assert_eq!(always.on_call(at("2026-11-15T22:00:00Z")), Some("maria"));
        // Before the first hand-over the rotation runs backwards consistently.
        assert_eq!(always.on_call(at("2026-10-27T01:00:00Z")), Some("jose"));
    }

    #[test]
    fn overrides_beat_layers_for_their_range_only() {
        let mut schedule = follow_the_sun();
        schedule.overrides.push(Override {
            person: "luis".into(),
            start: at("2026-11-24T00:00:00Z"),
            end: at("2026-11-25T00:00:00Z"),
        });
        assert_eq!(schedule.on_call(at("2026-11-24T01:00:00Z")), Some("luis"));
        assert_eq!(schedule.on_call(at("2026-11-24T23:59:59Z")), Some("luis"));
        assert_eq!(schedule.on_call(at("2026-11-25T01:00:00Z")), Some("jose"));
    }

    #[test]
    fn windows_wrap_midnight() {
        let night = Window {
            start: time("18:00"),
            end: time("06:00"),
        };
        assert!(night.contains(time("23:00")));
        assert!(night.contains(time("05:59")));
        assert!(!night.contains(time("06:00")));
        assert!(!night.contains(time("12:00")));
        assert!(
            Window {
                start: time("00:00"),
                end: time("00:00")
            }
            .contains(time("12:00"))
        );
    }

    #[test]
    fn a_gap_in_coverage_is_nobody() {
        let mut schedule = follow_the_sun();
        schedule.layers.truncate(1);
        assert_eq!(schedule.on_call(at("2026-11-24T12:00:00Z")), None);
    }
}
