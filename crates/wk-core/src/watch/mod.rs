//! An office's check-in watch: the second [`Machine`] kind. An office in an insecure place
//! that stops talking is itself the alarm, so each office with a schedule is watched.
//!
//! States, after Healthchecks.io: `new` (never checked in: nothing is expected yet), `up`,
//! `late` (past its due time, inside the grace: shown, not paged), `down` (grace spent: one
//! "office silent" alert, raised through the normal routing and escalation) and `paused` (a
//! known blackout or closure, with a reason and an optional end at which it resumes by
//! itself). The office's next check-in resolves its silence alert, whoever acknowledged it.
//!
//! What the watch decides to publish (the silence alert, its resolution) is kept in its
//! snapshot until the broker acknowledges it ([`OfficeWatch::handle_published`]), so a
//! dispatcher killed in between decides it again, under the same deterministic alert id.

mod maintenance;
pub(crate) mod schedule;
#[cfg(test)]
mod tests;

use std::fmt;

pub use schedule::{CheckInSchedule, Every, MIN_GRACE};

use crate::alert::{Alert, AlertId, Category, Coordinates, Severity};
use crate::escalation::Responder;
use crate::machine::{Kind, Machine};
use crate::time::Timestamp;

/// UTC, for callers that do not otherwise depend on jiff.
pub fn utc() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::UTC
}

/// The typed key of a watch: its office's id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OfficeKey(pub String);

impl fmt::Display for OfficeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a check-in arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Grpc,
    Http,
    Cli,
    /// Any alert the office submitted.
    Alert,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Grpc, Channel::Http, Channel::Cli, Channel::Alert];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Grpc => "grpc",
            Channel::Http => "http",
            Channel::Cli => "cli",
            Channel::Alert => "alert",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == text)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckIn {
    pub at: Timestamp,
    pub channel: Channel,
    /// A short status line from the office ("all well", "generator down").
    pub status: Option<String>,
    pub coordinates: Option<Coordinates>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pause {
    pub reason: String,
    /// When it resumes by itself; `None`: when someone resumes it.
    pub until: Option<Timestamp>,
    pub by: Responder,
    pub at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    New,
    Up,
    Late,
    Down,
    Paused,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::New,
        Status::Up,
        Status::Late,
        Status::Down,
        Status::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Up => "up",
            Status::Late => "late",
            Status::Down => "down",
            Status::Paused => "paused",
        }
    }
}

/// A fact the watch has decided to put on the alerts topic.
#[derive(Clone, Debug, PartialEq)]
pub enum Publication {
    /// The office went silent: its alert, raised through routing and escalation.
    Raise { alert: Alert, at: Timestamp },
    /// The office checked in again: its silence alert is resolved, with a note saying how.
    Resolve {
        alert_id: AlertId,
        note: String,
        by: Responder,
        at: Timestamp,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Owed {
    /// Which publication the broker acknowledged, in [`OfficeWatch::handle_published`].
    pub seq: u64,
    pub publication: Publication,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Publish(Owed),
}

/// What the watch needs from the configuration: the office as the silence alert names it.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchConfig {
    pub office: String,
    pub name: String,
    pub country: String,
    pub place: String,
    pub schedule: CheckInSchedule,
    /// The silence alert's severity (critical unless configured).
    pub severity: Severity,
}

/// The persisted state of a watch (what the state changelog holds under `office:<id>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub office: OfficeKey,
    pub status: Status,
    pub last: Option<CheckIn>,
    /// When the next check-in is expected (up and late).
    pub due: Option<Timestamp>,
    /// When it is down if nothing comes (up and late).
    pub down_at: Option<Timestamp>,
    pub pause: Option<Pause>,
    /// Its open silence alert, from going down until its next check-in.
    pub silence_alert: Option<AlertId>,
    /// Decided publications the broker has not acknowledged yet.
    pub owed: Vec<Owed>,
    pub next_seq: u64,
    /// Silence alerts raised over the watch's life.
    pub raised: u32,
}

pub struct OfficeWatch {
    state: Snapshot,
    actions: Vec<Action>,
}

impl OfficeWatch {
    /// A watch for an office that has not checked in yet.
    pub fn new(office: OfficeKey) -> OfficeWatch {
        OfficeWatch {
            state: Snapshot {
                office,
                status: Status::New,
                last: None,
                due: None,
                down_at: None,
                pause: None,
                silence_alert: None,
                owed: Vec::new(),
                next_seq: 0,
                raised: 0,
            },
            actions: Vec::new(),
        }
    }

    pub fn state(&self) -> &Snapshot {
        &self.state
    }

    pub fn status(&self) -> Status {
        self.state.status
    }

    /// The office checked in. An older check-in than the last one known (records read out
    /// of order) changes nothing; a check-in while paused resumes the watch (the office is
    /// demonstrably talking again). Returns whether anything changed.
    pub fn handle_check_in(&mut self, check_in: CheckIn, config: &WatchConfig) -> bool {
        if self
            .state
            .last
            .as_ref()
            .is_some_and(|last| check_in.at < last.at)
        {
            return false;
        }
        if let Some(alert_id) = self.state.silence_alert.take() {
            let by = Responder {
                actor: self.state.office.0.clone(),
                channel: crate::escalation::CHECK_IN_CHANNEL.into(),
            };
            let note = format!(
                "office checked in at {} via {}",
                check_in.at, check_in.channel
            );
            self.publish(Publication::Resolve {
                alert_id,
                note,
                by,
                at: check_in.at,
            });
        }
        self.state.pause = None;
        self.watch_from(config.schedule.due_after(check_in.at), config);
        self.state.last = Some(check_in);
        true
    }

    /// A duty officer paused the watch: nothing is raised until it resumes. An open silence
    /// alert stays open (a person decides about it); the next check-in still resolves it.
    pub fn handle_pause(&mut self, pause: Pause) {
        self.state.status = Status::Paused;
        self.state.due = None;
        self.state.down_at = None;
        self.state.pause = Some(pause);
    }

    /// Resumed by a duty officer, or by itself at its end: the office gets a full interval
    /// (or until its next scheduled time) from `now`. One that never checked in is new again;
    /// one paused while down, and silent since, is down again (its alert is still open).
    /// Returns whether it was paused.
    pub fn handle_resume(&mut self, config: &WatchConfig, now: Timestamp) -> bool {
        if self.state.status != Status::Paused {
            return false;
        }
        self.state.pause = None;
        if self.state.last.is_none() {
            self.state.status = Status::New;
            return true;
        }
        if self.state.silence_alert.is_some() {
            // Paused while down and silent since: still down, under the alert already open.
            self.state.status = Status::Down;
            return true;
        }
        self.watch_from(config.schedule.due_from(now), config);
        true
    }

    /// The broker acknowledged publication `seq`.
    pub fn handle_published(&mut self, seq: u64) {
        self.state.owed.retain(|owed| owed.seq != seq);
    }

    fn watch_from(&mut self, due: Option<Timestamp>, config: &WatchConfig) {
        self.state.status = Status::Up;
        self.state.due = due;
        self.state.down_at = due.map(|due| config.schedule.down_at(due));
    }

    fn publish(&mut self, publication: Publication) {
        let owed = Owed {
            seq: self.state.next_seq,
            publication,
        };
        self.state.next_seq += 1;
        self.state.owed.push(owed.clone());
        self.actions.push(Action::Publish(owed));
    }

    /// Late at its due time; down, with one silence alert, once the grace is spent (at once
    /// if the clock jumped past both).
    fn advance(&mut self, config: &WatchConfig, now: Timestamp) {
        if self.state.status == Status::Paused {
            if self
                .state
                .pause
                .as_ref()
                .and_then(|pause| pause.until)
                .is_some_and(|until| until <= now)
            {
                self.handle_resume(config, now);
            } else {
                return;
            }
        }
        if !matches!(self.state.status, Status::Up | Status::Late) {
            return;
        }
        let (Some(due), Some(down_at)) = (self.state.due, self.state.down_at) else {
            return;
        };
        if now >= down_at {
            self.go_down(due, down_at, config);
        } else if now >= due {
            self.state.status = Status::Late;
        }
    }

    fn go_down(&mut self, due: Timestamp, down_at: Timestamp, config: &WatchConfig) {
        self.state.status = Status::Down;
        self.state.due = None;
        self.state.down_at = None;
        let alert = self.silence_alert(due, down_at, config);
        self.state.silence_alert = Some(alert.id);
        self.state.raised += 1;
        self.publish(Publication::Raise { alert, at: down_at });
    }

    /// The alert for a silence that began at `due`: its id is derived from the office and
    /// the due time, so a restart or a second dispatcher raises the same alert, not another.
    fn silence_alert(&self, due: Timestamp, down_at: Timestamp, config: &WatchConfig) -> Alert {
        let dedup_key = format!("office-silent/{}", due.as_unix_millis());
        let last = match &self.state.last {
            Some(last) => format!(
                "Last check-in: {} via {}{}.",
                last.at,
                last.channel,
                last.status
                    .as_deref()
                    .map(|status| format!(" (\"{status}\")"))
                    .unwrap_or_default()
            ),
            None => "No check-in on record.".into(),
        };
        Alert {
            id: AlertId::for_dedup_key(&config.office, &dedup_key),
            office_id: config.office.clone(),
            severity: config.severity,
            category: Category::OfficeSilent,
            title: format!("Office silent: {} has not checked in", config.name),
            description: format!(
                "{} was due to check in by {due} and has not (grace ended {down_at}). {last}",
                config.name
            ),
            country: config.country.clone(),
            place: config.place.clone(),
            coordinates: self.state.last.as_ref().and_then(|last| last.coordinates),
            occurred_at: down_at,
            staff_affected: 0,
            dedup_key: Some(dedup_key),
            labels: [("due".to_owned(), due.to_string())].into_iter().collect(),
            origin: None,
        }
    }
}

impl Machine for OfficeWatch {
    const KIND: Kind = Kind::OfficeWatch;
    type Key = OfficeKey;
    type Snapshot = Snapshot;
    type Action = Action;
    type Context = WatchConfig;

    fn key(&self) -> OfficeKey {
        self.state.office.clone()
    }

    fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            None
        } else {
            Some(self.actions.remove(0))
        }
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        match self.state.status {
            Status::Up => self.state.due,
            Status::Late => self.state.down_at,
            Status::Paused => self.state.pause.as_ref().and_then(|pause| pause.until),
            Status::New | Status::Down => None,
        }
    }

    fn handle_timeout(&mut self, config: &WatchConfig, now: Timestamp) {
        self.advance(config, now);
    }

    fn snapshot(&self) -> Snapshot {
        self.state.clone()
    }

    fn restore(snapshot: Snapshot) -> OfficeWatch {
        let actions = snapshot.owed.iter().cloned().map(Action::Publish).collect();
        OfficeWatch {
            state: snapshot,
            actions,
        }
    }
}
