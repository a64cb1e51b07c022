//! Silences and maintenance windows, and the rule that no silence hides a person in danger.
//!
//! A silence has matchers (Alertmanager's form), a start and a required end, who made it and
//! why. While it is active, an alert it matches is still accepted, stored, shown and written
//! to the timeline, but not notified and not escalated; acknowledgements and resolutions
//! flow as always. When it ends (or is expired early) over an alert still triggered and
//! unacknowledged, that alert's escalation starts from its first step. Nothing is deleted:
//! expiring sets the end to now. Emergency alerts, abductions, offices gone silent (and, with
//! 7/8, a staff member asking for help) are never silenced, whatever the matchers say.
//!
//! A maintenance window is a silence for one office or one country, scheduled, and
//! optionally recurring (a five-field cron expression in a zone, and how long each
//! occurrence lasts); it also pauses the check-in watches of the offices in its scope.
//!
//! The [`SilenceBook`] holds every silence a process knows; the dispatcher asks it for a
//! [`Silencing`] verdict per alert and when it next changes, and hands the verdict to each
//! escalation (`Escalation::handle_silence`), which decides.

mod draft;
mod matcher;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use jiff::tz::TimeZone;

pub use self::draft::{Draft, FieldError, Limits, WindowDraft};
pub use self::matcher::{Field, MAX_VALUE, Matcher, Op};
use crate::alert::{Alert, Category, Severity};
use crate::policy::Directory;
use crate::time::Timestamp;
use crate::watch::schedule::{millis, next_time};

/// The channel a maintenance window's pause of an office watch is recorded with.
pub const MAINTENANCE_CHANNEL: &str = "maintenance";

/// One silence, as its topic holds it (its latest version under its id).
#[derive(Clone, Debug, PartialEq)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: Timestamp,
    /// Required; set to the moment of expiry when expired early.
    pub ends_at: Timestamp,
    pub created_by: String,
    pub created_at: Timestamp,
    pub comment: String,
    pub expired: Option<Expiry>,
    pub window: Option<Window>,
}

/// Expired early: by whom, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expiry {
    pub by: String,
    pub at: Timestamp,
}

/// What makes a silence a maintenance window.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub scope: Scope,
    pub recurrence: Option<Recurrence>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Office(String),
    Country(String),
}

/// Occurrences at each time of a cron expression in a zone, each lasting `duration`, between
/// the silence's start and end.
#[derive(Clone)]
pub struct Recurrence {
    pub cron: String,
    schedule: Box<jiff_cron::Schedule>,
    pub duration: Duration,
    pub time_zone: TimeZone,
}

impl PartialEq for Recurrence {
    fn eq(&self, other: &Recurrence) -> bool {
        (&self.cron, self.duration, &self.time_zone)
            == (&other.cron, other.duration, &other.time_zone)
    }
}

impl fmt::Debug for Recurrence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Recurrence({:?} for {:?} in {:?})",
            self.cron,
            self.duration,
            self.time_zone.iana_name()
        )
    }
}

/// At most this many occurrences are looked at to answer one question (a window every
/// minute for 24 hours is 1,440).
const MAX_OCCURRENCES: usize = 2_000;

impl Recurrence {
    /// `cron`: five fields, as for check-ins.
    pub fn new(cron: &str, duration: Duration, time_zone: TimeZone) -> Result<Recurrence, String> {
        let crate::watch::Every::Cron { schedule, .. } = crate::watch::Every::cron(cron)? else {
            return Err(format!("{cron:?} is not a cron expression"));
        };
        Ok(Recurrence {
            cron: cron.to_owned(),
            schedule,
            duration,
            time_zone,
        })
    }

    /// The end of the occurrence in force at `now` (one started at or after `from`), if any.
    fn occurrence_at(&self, from: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let length = millis(self.duration);
        // The first occurrence that has not ended by `now`, then any later one already begun.
        let mut after = now
            .saturating_add_millis(-length)
            .max(from.saturating_add_millis(-1));
        let mut end = None;
        for _ in 0..MAX_OCCURRENCES {
            match next_time(&self.schedule, &self.time_zone, after) {
                Some(start) if start <= now => {
                    end = Some(start.saturating_add_millis(length));
                    after = start;
                }
                _ => break,
            }
        }
        end
    }

    fn next_start(&self, now: Timestamp) -> Option<Timestamp> {
        next_time(&self.schedule, &self.time_zone, now)
    }
}

/// Where a silence stands at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Active,
    /// Between two occurrences of a recurring window.
    Waiting,
    Expired,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Active => "active",
            State::Waiting => "waiting",
            State::Expired => "expired",
        }
    }
}

impl Silence {
    /// When the silencing in force at `now` ends, if it is in force.
    pub fn active_until(&self, now: Timestamp) -> Option<Timestamp> {
        if now < self.starts_at || now >= self.ends_at {
            return None;
        }
        match self
            .window
            .as_ref()
            .and_then(|window| window.recurrence.as_ref())
        {
            None => Some(self.ends_at),
            Some(recurrence) => recurrence
                .occurrence_at(self.starts_at, now)
                .map(|end| end.min(self.ends_at))
                .filter(|end| *end > now),
        }
    }

    pub fn state(&self, now: Timestamp) -> State {
        if now >= self.ends_at {
            State::Expired
        } else if now < self.starts_at {
            State::Pending
        } else if self.active_until(now).is_some() {
            State::Active
        } else {
            State::Waiting
        }
    }

    /// The next instant after `now` at which it starts or stops silencing.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        if now >= self.ends_at {
            return None;
        }
        if now < self.starts_at {
            return Some(self.starts_at);
        }
        let Some(recurrence) = self.window.as_ref().and_then(|w| w.recurrence.as_ref()) else {
            return Some(self.ends_at);
        };
        let next_start = recurrence
            .next_start(now)
            .filter(|start| *start < self.ends_at);
        [self.active_until(now), next_start, Some(self.ends_at)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether every matcher matches `alert` (in `region`).
    pub fn matches(&self, alert: &Alert, region: Option<&str>) -> bool {
        self.matchers
            .iter()
            .all(|matcher| matcher.matches(alert, region))
    }

    /// Whether it is a maintenance window covering the office `office` in `country`.
    pub fn covers_office(&self, office: &str, country: &str) -> bool {
        match self.window.as_ref().map(|window| &window.scope) {
            Some(Scope::Office(id)) => id == office,
            Some(Scope::Country(code)) => code == country,
            None => false,
        }
    }

    fn silencing(&self, until: Timestamp, exempt: Option<Exemption>) -> Silencing {
        Silencing {
            silence: self.id.clone(),
            by: self.created_by.clone(),
            until,
            comment: self.comment.clone(),
            exempt,
        }
    }
}

/// Why an alert is never silenced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exemption {
    Emergency,
    Abduction,
    OfficeSilent,
    /// A staff member asking for help in a headcount.
    StaffHelp,
}

impl Exemption {
    pub fn as_str(self) -> &'static str {
        match self {
            Exemption::Emergency => "emergency",
            Exemption::Abduction => "abduction",
            Exemption::OfficeSilent => "office_silent",
            Exemption::StaffHelp => "staff_help",
        }
    }

    pub fn parse(text: &str) -> Option<Exemption> {
        [
            Exemption::Emergency,
            Exemption::Abduction,
            Exemption::OfficeSilent,
            Exemption::StaffHelp,
        ]
        .into_iter()
        .find(|exemption| exemption.as_str() == text)
    }

    /// For the console: why a silence that matched did not silence.
    pub fn reason(self) -> &'static str {
        match self {
            Exemption::Emergency => "emergency alerts are never silenced",
            Exemption::Abduction => "abductions and hostage-takings are never silenced",
            Exemption::OfficeSilent => "an office gone silent is never silenced",
            Exemption::StaffHelp => "a staff member asking for help is never silenced",
        }
    }
}

/// The classes no silence may hide, whatever its matchers say. (7/8 adds a staff member
/// asking for help.)
pub fn exemption(alert: &Alert) -> Option<Exemption> {
    if alert.severity == Severity::Emergency {
        Some(Exemption::Emergency)
    } else if alert.category == Category::Abduction {
        Some(Exemption::Abduction)
    } else if alert.category == Category::OfficeSilent {
        Some(Exemption::OfficeSilent)
    } else if alert.category == Category::StaffHelp {
        Some(Exemption::StaffHelp)
    } else {
        None
    }
}

/// A verdict: the silence that matches an alert now (the one that lasts longest), and
/// whether the alert is exempt from it. Held on the escalation while it applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Silencing {
    pub silence: String,
    pub by: String,
    pub until: Timestamp,
    pub comment: String,
    /// Set when the silence matched an alert that is never silenced: shown, not obeyed.
    pub exempt: Option<Exemption>,
}

impl Silencing {
    /// Whether it holds the escalation back.
    pub fn holds(&self) -> bool {
        self.exempt.is_none()
    }
}

/// Every silence a process knows, by id, and the ones not yet ended: nothing is deleted, so
/// the ended ones pile up over the years, and judging 100,000 alerts must not look at them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SilenceBook {
    silences: BTreeMap<String, Silence>,
    /// Ids of the silences that had not ended at the last `prune` (or since inserted).
    open: std::collections::BTreeSet<String>,
}

impl SilenceBook {
    /// Adds a silence, or replaces its earlier version (the topic's latest record wins).
    pub fn insert(&mut self, silence: Silence) {
        self.open.insert(silence.id.clone());
        self.silences.insert(silence.id.clone(), silence);
    }

    /// Forgets, for judging, the silences ended by `now` (they stay listed).
    pub fn prune(&mut self, now: Timestamp) {
        let silences = &self.silences;
        self.open.retain(|id| {
            silences
                .get(id)
                .is_some_and(|silence| silence.ends_at > now)
        });
    }

    /// The silences not ended at the last prune: the only ones that can judge.
    fn open(&self) -> impl Iterator<Item = &Silence> {
        self.open.iter().filter_map(|id| self.silences.get(id))
    }

    pub fn get(&self, id: &str) -> Option<&Silence> {
        self.silences.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Silence> {
        self.silences.values()
    }

    pub fn len(&self) -> usize {
        self.silences.len()
    }

    pub fn is_empty(&self) -> bool {
        self.silences.is_empty()
    }

    /// Silences silencing at `now`.
    pub fn active(&self, now: Timestamp) -> usize {
        self.open()
            .filter(|silence| silence.active_until(now).is_some())
            .count()
    }

    /// The verdict for `alert` at `now`, its region looked up in `directory`.
    pub fn verdict(
        &self,
        alert: &Alert,
        directory: &Directory,
        now: Timestamp,
    ) -> Option<Silencing> {
        let region = directory
            .region_of(&alert.country)
            .map(|region| region.id.as_str());
        self.verdict_in(alert, region, now)
    }

    /// The verdict for `alert` in `region` at `now`: the matching silence in force that lasts
    /// longest (ties: the smallest id), marked exempt for the classes never silenced.
    pub fn verdict_in(
        &self,
        alert: &Alert,
        region: Option<&str>,
        now: Timestamp,
    ) -> Option<Silencing> {
        let (silence, until) = self
            .open()
            .filter_map(|silence| Some((silence, silence.active_until(now)?)))
            .filter(|(silence, _)| silence.matches(alert, region))
            .max_by(|(one, one_until), (two, two_until)| {
                one_until.cmp(two_until).then_with(|| two.id.cmp(&one.id))
            })?;
        Some(silence.silencing(until, exemption(alert)))
    }

    /// The maintenance window in force at `now` over office `office` in `country` (the one
    /// that lasts longest), if any.
    pub fn maintenance(&self, office: &str, country: &str, now: Timestamp) -> Option<Silencing> {
        self.open()
            .filter(|silence| silence.covers_office(office, country))
            .filter_map(|silence| Some((silence, silence.active_until(now)?)))
            .max_by(|(one, one_until), (two, two_until)| {
                one_until.cmp(two_until).then_with(|| two.id.cmp(&one.id))
            })
            .map(|(silence, until)| silence.silencing(until, None))
    }

    /// The next instant after `now` at which any silence starts or stops silencing.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.open()
            .filter_map(|silence| silence.next_change(now))
            .min()
    }
}

#[cfg(test)]
mod tests;
