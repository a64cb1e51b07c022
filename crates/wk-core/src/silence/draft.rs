//! A silence as a duty officer asks for it, validated into a [`Silence`] with every problem
//! named by its field.

use std::time::Duration;

use jiff::tz::TimeZone;

use super::{Matcher, Recurrence, Scope, Silence, Window};
use crate::time::Timestamp;
use crate::watch::schedule::millis;

/// The longest comment kept.
const MAX_COMMENT: usize = 1_000;
/// At most this many matchers.
const MAX_MATCHERS: usize = 20;

/// How long silences may last (from the configuration's `[silences]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest one silence, or one occurrence of a recurring window, lasts.
    pub max_duration: Duration,
    /// The longest a recurring window's series runs.
    pub max_series: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_duration: Duration::from_secs(24 * 3600),
            max_series: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// A problem with one field of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A silence to create.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// In Alertmanager's form, `severity=~"warning|info"`.
    pub matchers: Vec<String>,
    /// Now when absent (or in the past).
    pub starts_at: Option<Timestamp>,
    /// One of `ends_at` and `duration` is required: no silence lasts forever.
    pub ends_at: Option<Timestamp>,
    pub duration: Option<Duration>,
    pub comment: String,
    pub created_by: String,
    pub window: Option<WindowDraft>,
}

/// A maintenance window: one office or one country, optionally recurring.
#[derive(Clone, Debug, Default)]
pub struct WindowDraft {
    pub office: Option<String>,
    pub country: Option<String>,
    /// Five fields, as `0 2 * * Sun`; with `every_for`, how long each occurrence lasts.
    pub cron: Option<String>,
    pub every_for: Option<Duration>,
    /// The zone `cron` is read in: the office's when absent, required for a country.
    pub time_zone: Option<String>,
}

struct Problems(Vec<FieldError>);

impl Problems {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
}

impl Draft {
    /// The silence `id` this draft asks for, created at `now`. `office_zone` gives a known
    /// office's time zone (`None`: no such office).
    pub fn validate(
        self,
        id: String,
        now: Timestamp,
        limits: &Limits,
        office_zone: &dyn Fn(&str) -> Option<TimeZone>,
    ) -> Result<Silence, Vec<FieldError>> {
        let mut problems = Problems(Vec::new());
        let (window, scope_matcher) = match &self.window {
            Some(draft) => match draft.check(&mut problems, limits, office_zone) {
                Some((window, matcher)) => (Some(window), Some(matcher)),
                None => (None, None),
            },
            None => (None, None),
        };
        let mut matchers: Vec<Matcher> = scope_matcher.into_iter().collect();
        if self.matchers.len() > MAX_MATCHERS {
            problems.push("matchers", format!("at most {MAX_MATCHERS} matchers"));
        }
        for (index, text) in self.matchers.iter().enumerate() {
            match Matcher::parse(text) {
                Ok(matcher) => matchers.push(matcher),
                Err(message) => problems.push(format!("matchers[{index}]"), message),
            }
        }
        if matchers.is_empty() && self.window.is_none() {
            problems.push("matchers", "required: at least one matcher");
        } else if !matchers.is_empty() && matchers.iter().all(Matcher::matches_empty) {
            problems.push(
                "matchers",
                "would silence every alert: at least one matcher must not match an empty value",
            );
        }
        let comment = self.comment.trim().to_owned();
        if comment.is_empty() {
            problems.push("comment", "required: say why (the next shift reads it)");
        } else if comment.chars().count() > MAX_COMMENT {
            problems.push("comment", format!("longer than {MAX_COMMENT} characters"));
        }
        if self.created_by.trim().is_empty() {
            problems.push("created_by", "required");
        }
        let starts_at = self.starts_at.unwrap_or(now).max(now);
        // The series' limit for a recurring window, even one refused for another reason.
        let recurring = self.window.as_ref().is_some_and(|w| w.cron.is_some());
        let longest = if recurring {
            ("max_series", limits.max_series)
        } else {
            ("max_duration", limits.max_duration)
        };
        if starts_at > now.saturating_add_millis(millis(limits.max_series)) {
            problems.push(
                "starts_at",
                format!("more than {} ahead", words(limits.max_series)),
            );
        }
        let ends_at = match (self.ends_at, self.duration) {
            (Some(_), Some(_)) => {
                problems.push("ends_at", "give ends_at or duration, not both");
                None
            }
            (Some(ends_at), None) => Some(ends_at),
            (None, Some(duration)) => Some(starts_at.saturating_add_millis(millis(duration))),
            (None, None) => {
                problems.push(
                    "ends_at",
                    "required (or duration): no silence lasts forever",
                );
                None
            }
        };
        let field = if self.duration.is_some() {
            "duration"
        } else {
            "ends_at"
        };
        if let Some(ends_at) = ends_at {
            let length = ends_at.as_unix_millis() - starts_at.as_unix_millis();
            if length <= 0 {
                problems.push(field, "must end after it starts");
            } else if length > millis(longest.1) {
                problems.push(
                    field,
                    format!(
                        "longer than {} (silences.{} in the configuration)",
                        words(longest.1),
                        longest.0
                    ),
                );
            }
        }
        match (problems.0.is_empty(), ends_at) {
            (true, Some(ends_at)) => Ok(Silence {
                id,
                matchers,
                starts_at,
                ends_at,
                created_by: self.created_by.trim().to_owned(),
                created_at: now,
                comment,
                expired: None,
                window,
            }),
            _ => Err(problems.0),
        }
    }
}

impl WindowDraft {
    fn check(
        &self,
        problems: &mut Problems,
        limits: &Limits,
        office_zone: &dyn Fn(&str) -> Option<TimeZone>,
    ) -> Option<(Window, Matcher)> {
        let (scope, zone) = match (&self.office, &self.country) {
            (Some(office), None) => match office_zone(office) {
                Some(zone) => (Scope::Office(office.clone()), Some(zone)),
                None => {
                    problems.push("maintenance.office", format!("{office:?} is not an office"));
                    return None;
                }
            },
            (None, Some(country)) => (Scope::Country(country.clone()), None),
            _ => {
                problems.push(
                    "maintenance",
                    "a maintenance window is for one office or one country",
                );
                return None;
            }
        };
        let matcher = match &scope {
            Scope::Office(office) => Matcher::new(super::Field::Office, super::Op::Equal, office),
            Scope::Country(country) => {
                Matcher::new(super::Field::Country, super::Op::Equal, country)
            }
        };
        let matcher = match matcher {
            Ok(matcher) => matcher,
            Err(message) => {
                let field = match scope {
                    Scope::Office(_) => "maintenance.office",
                    Scope::Country(_) => "maintenance.country",
                };
                problems.push(field, message);
                return None;
            }
        };
        let zone = match (&self.time_zone, zone) {
            (Some(name), _) => match TimeZone::get(name) {
                Ok(zone) => Some(zone),
                Err(_) => {
                    problems.push(
                        "maintenance.time_zone",
                        format!("{name:?} is not an IANA time zone"),
                    );
                    return None;
                }
            },
            (None, zone) => zone,
        };
        let recurrence = match (&self.cron, self.every_for) {
            (None, None) => None,
            (Some(cron), Some(length)) => {
                let Some(zone) = zone else {
                    problems.push(
                        "maintenance.time_zone",
                        "required for a recurring window over a country",
                    );
                    return None;
                };
                if length.is_zero() || length > limits.max_duration {
                    problems.push(
                        "maintenance.duration",
                        format!(
                            "each occurrence lasts more than nothing and at most {} \
                             (silences.max_duration)",
                            words(limits.max_duration)
                        ),
                    );
                    return None;
                }
                match Recurrence::new(cron, length, zone) {
                    Ok(recurrence) => Some(recurrence),
                    Err(message) => {
                        problems.push("maintenance.cron", message);
                        return None;
                    }
                }
            }
            (Some(_), None) => {
                problems.push(
                    "maintenance.duration",
                    "required with cron: how long each occurrence lasts",
                );
                return None;
            }
            (None, Some(_)) => {
                problems.push("maintenance.cron", "required with duration");
                return None;
            }
        };
        Some((Window { scope, recurrence }, matcher))
    }
}

/// "24h", "90 days", "45m" for messages.
fn words(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 2 * 24 * 3600 && seconds.is_multiple_of(24 * 3600) {
        format!("{} days", seconds / (24 * 3600))
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}
