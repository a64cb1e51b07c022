//! The `Silences` service: duty officers create, list, preview and expire silences and
//! maintenance windows. A silence is written to the silences topic (the latest version under
//! its id) and answered once durable and visible in this process's book, which every api and
//! dispatcher follows; nothing is deleted, expiring sets the end to now. The web console and
//! the CLI take the same paths.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tracing::{info, warn};
use wk_bus::producer::{ProduceError, Producer};
use wk_bus::silence_codec::{duration_from_pb, encode_silence, silence_to_pb};
use wk_core::config::Config;
use wk_core::policy::Directory;
use wk_core::silence::{Draft, Expiry, Limits, Silence, SilenceBook, WindowDraft, exemption};
use wk_core::{Alert, Timestamp};
use wk_proto::convert::{category_from_pb, severity_from_pb, timestamp_from_pb, timestamp_to_pb};
use wk_proto::v1 as pb;
use wk_proto::v1::silences_server::Silences;

use crate::auth::{Authenticator, Caller};
use crate::error::{ApiError, to_status};
use crate::ingest::now;
use crate::view::{Row, StateView};

/// How long a write waits to show in this process's own book before it is answered anyway.
const VISIBLE_WITHIN: Duration = Duration::from_secs(5);
const HOUR: i64 = 3_600_000;

/// What the board reminds duty officers of.
#[derive(Clone, Debug, Default)]
pub struct Reminders {
    /// Silences in force that end within the hour.
    pub ending: Vec<pb::SilenceView>,
    /// Silences in force for a day or more that have matched no alert for a day.
    pub idle: Vec<pb::SilenceView>,
}

pub struct SilenceService {
    authenticator: Authenticator,
    producer: Producer,
    topic: String,
    produce_timeout: Duration,
    book: watch::Receiver<Arc<SilenceBook>>,
    alerts: StateView,
    directory: Directory,
    limits: Limits,
    zones: BTreeMap<String, TimeZone>,
}

impl SilenceService {
    pub fn new(
        config: &Config,
        authenticator: Authenticator,
        producer: Producer,
        book: watch::Receiver<Arc<SilenceBook>>,
        alerts: StateView,
    ) -> SilenceService {
        let zones = config
            .offices
            .iter()
            .map(|office| {
                let zone = office
                    .watch
                    .watch
                    .as_ref()
                    .map(|watch| watch.schedule.time_zone.clone())
                    .unwrap_or(TimeZone::UTC);
                (office.id.clone(), zone)
            })
            .collect();
        SilenceService {
            authenticator,
            producer,
            topic: config.kafka.silences_topic.clone(),
            produce_timeout: config.kafka.produce_timeout,
            book,
            alerts,
            directory: config.policy.directory.clone(),
            limits: config.silences,
            zones,
        }
    }

    /// The book as this process knows it.
    pub fn book(&self) -> Arc<SilenceBook> {
        self.book.borrow().clone()
    }

    fn officer<T>(&self, request: &Request<T>) -> Result<String, ApiError> {
        match self.authenticator.authenticate(request.metadata())? {
            Caller::DutyOfficer(id) | Caller::Admin(id) => Ok(id),
            Caller::Office(_) => Err(ApiError::WrongRole {
                action: "manage silences (duty officers only)",
            }),
        }
    }

    fn validate(&self, draft: Draft, id: String, at: Timestamp) -> Result<Silence, ApiError> {
        let zone = |office: &str| self.zones.get(office).cloned();
        draft
            .validate(id, at, &self.limits, &zone)
            .map_err(ApiError::BadSilence)
    }

    /// Creates the silence `draft` asks for, as `by`: durable and in force once this returns.
    pub async fn create(&self, mut draft: Draft, by: &str) -> Result<Silence, ApiError> {
        draft.created_by = by.to_owned();
        let silence = self.validate(draft, uuid::Uuid::now_v7().to_string(), now())?;
        self.write(&silence).await?;
        crate::metrics::silence("created");
        info!(silence = %silence.id, by, "silence created");
        Ok(silence)
    }

    /// Ends silence `id` now, as `by` (an ended one is left as it is).
    pub async fn expire(&self, id: &str, by: &str) -> Result<Silence, ApiError> {
        let Some(mut silence) = self.book().get(id).cloned() else {
            return Err(ApiError::NotFound(format!("silence {id}")));
        };
        let at = now();
        if silence.ends_at <= at {
            return Ok(silence);
        }
        silence.starts_at = silence.starts_at.min(at);
        silence.ends_at = at;
        silence.expired = Some(Expiry {
            by: by.to_owned(),
            at,
        });
        self.write(&silence).await?;
        crate::metrics::silence("expired");
        info!(silence = %silence.id, by, "silence expired early");
        Ok(silence)
    }

    /// The open alerts `draft` would match now, each with why it would be notified all the
    /// same if it is of a class never silenced.
    pub fn preview(&self, mut draft: Draft, by: &str) -> Result<Vec<pb::PreviewMatch>, ApiError> {
        draft.created_by = by.to_owned();
        let silence = self.validate(draft, "preview".into(), now())?;
        let mut matches = Vec::new();
        self.alerts.for_each_whole(Row::is_open, |state| {
            let Some(alert) = matchable(&state) else {
                return;
            };
            let region = self
                .directory
                .region_of(&alert.country)
                .map(|r| r.id.as_str());
            if silence.matches(&alert, region) {
                matches.push(pb::PreviewMatch {
                    alert_id: state.alert_id.clone(),
                    title: alert.title.clone(),
                    office_id: alert.office_id.clone(),
                    severity: alert.severity.as_str().into(),
                    category: alert.category.as_str().into(),
                    never_silenced: exemption(&alert)
                        .map(|e| e.reason().to_owned())
                        .unwrap_or_default(),
                });
            }
        });
        matches.sort_by(|a, b| a.alert_id.cmp(&b.alert_id).reverse());
        Ok(matches)
    }

    /// Every silence (the ended ones too with `include_expired`), newest first.
    pub fn list(&self, include_expired: bool) -> Vec<pb::SilenceView> {
        let at = now();
        let book = self.book();
        let stats = if book.is_empty() {
            BTreeMap::new()
        } else {
            self.stats()
        };
        let mut views: Vec<pb::SilenceView> = book
            .iter()
            .filter(|silence| include_expired || silence.ends_at > at)
            .map(|silence| view(silence, at, stats.get(&silence.id)))
            .collect();
        views.sort_by(|a, b| {
            let created = |v: &pb::SilenceView| {
                v.silence
                    .as_ref()
                    .and_then(|s| s.created_at)
                    .map(|t| (t.seconds, t.nanos))
            };
            created(b).cmp(&created(a))
        });
        views
    }

    /// Silences ending within the hour, and silences in force for a day that matched
    /// nothing for a day: forgotten silences hide real pages.
    pub fn reminders(&self) -> Reminders {
        let at = now();
        let mut reminders = Reminders::default();
        let book = self.book();
        // Every board render asks: without a silence in force, no walk over the alerts.
        if book.active(at) == 0 {
            return reminders;
        }
        let stats = self.stats();
        for silence in book.iter() {
            let Some(until) = silence.active_until(at) else {
                continue;
            };
            let stats = stats.get(&silence.id);
            let shown = view(silence, at, stats);
            if until.as_unix_millis() - at.as_unix_millis() <= HOUR {
                reminders.ending.push(shown.clone());
            }
            let day_ago = at.saturating_add_millis(-24 * HOUR);
            let quiet = stats
                .and_then(|s| s.last_matched)
                .is_none_or(|last| last < day_ago);
            if silence.starts_at <= day_ago && quiet {
                reminders.idle.push(shown);
            }
        }
        reminders
    }

    /// Per silence: open alerts it marks now, and the last time it held or marked one (now,
    /// while it marks an open alert).
    fn stats(&self) -> BTreeMap<String, Stats> {
        let at = now();
        let mut stats: BTreeMap<String, Stats> = BTreeMap::new();
        self.alerts.for_each(|row| {
            if let Some((silence, _)) = row.silence.as_ref().filter(|_| row.is_open()) {
                let entry = stats.entry(silence.to_string()).or_default();
                entry.matching_open += 1;
                // It matches an open alert now: not a forgotten silence.
                entry.last_matched = Some(at);
            }
        });
        for (id, at) in self.alerts.silences_seen() {
            let known = stats.entry(id).or_default();
            known.last_matched = known
                .last_matched
                .max(Some(wk_core::time::Timestamp::from_unix_millis(at)));
        }
        stats
    }

    /// Writes `silence` and waits until this process's book shows it.
    async fn write(&self, silence: &Silence) -> Result<(), ApiError> {
        let payload = encode_silence(silence);
        let send = self
            .producer
            .send(&self.topic, &silence.id, &payload, None, true);
        match tokio::time::timeout(self.produce_timeout, send).await {
            Ok(Ok(_)) => {}
            Ok(Err(ProduceError::QueueFull)) => return Err(ApiError::Overloaded),
            Ok(Err(_)) | Err(_) => {
                crate::metrics::produce_error();
                warn!(silence = %silence.id, "silence not acknowledged by the broker");
                return Err(ApiError::BrokerUnavailable);
            }
        }
        let mut book = self.book.clone();
        let shown = tokio::time::timeout(VISIBLE_WITHIN, async {
            loop {
                if book.borrow_and_update().get(&silence.id) == Some(silence) {
                    return;
                }
                if book.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if shown.is_err() {
            warn!(silence = %silence.id, "silence durable but not yet read back");
        }
        Ok(())
    }
}

/// What matchers look at, from a state the view holds (it was validated on its way in; this
/// only reads the fields a matcher can name).
fn matchable(state: &pb::EscalationState) -> Option<Alert> {
    let alert = state.alert.as_ref()?;
    Some(Alert {
        id: state.alert_id.parse().ok()?,
        office_id: alert.office_id.clone(),
        severity: severity_from_pb(alert.severity)?,
        category: category_from_pb(alert.category)?,
        title: alert.title.clone(),
        description: String::new(),
        country: alert.country.clone(),
        place: alert.place.clone(),
        coordinates: None,
        occurred_at: Timestamp::from_unix_millis(0),
        staff_affected: 0,
        dedup_key: None,
        labels: alert.labels.clone().into_iter().collect(),
        origin: None,
    })
}

#[derive(Clone, Copy, Debug, Default)]
struct Stats {
    matching_open: u32,
    last_matched: Option<Timestamp>,
}

fn view(silence: &Silence, at: Timestamp, stats: Option<&Stats>) -> pb::SilenceView {
    pb::SilenceView {
        silence: Some(silence_to_pb(silence)),
        state: silence.state(at).as_str().into(),
        active_until: silence.active_until(at).map(timestamp_to_pb),
        next_change: silence.next_change(at).map(timestamp_to_pb),
        matching_open: stats.map_or(0, |s| s.matching_open),
        last_matched: stats.and_then(|s| s.last_matched).map(timestamp_to_pb),
    }
}

/// A request's draft (its creator is set by the service).
pub fn draft_from_pb(request: pb::CreateSilenceRequest) -> Result<Draft, ApiError> {
    let time = |field: &'static str, value: Option<&prost_types::Timestamp>| {
        value
            .map(|at| {
                timestamp_from_pb(at).ok_or(ApiError::BadCheckIn {
                    field,
                    reason: "is not a valid time".into(),
                })
            })
            .transpose()
    };
    let duration = |field: &'static str, value: Option<&prost_types::Duration>| {
        value
            .map(|d| {
                duration_from_pb(d).ok_or(ApiError::BadCheckIn {
                    field,
                    reason: "must not be negative".into(),
                })
            })
            .transpose()
    };
    let window = match request.maintenance {
        None => None,
        Some(window) => {
            let (office, country) = match window.scope {
                Some(pb::maintenance_window::Scope::Office(office)) => (Some(office), None),
                Some(pb::maintenance_window::Scope::Country(country)) => (None, Some(country)),
                None => (None, None),
            };
            Some(WindowDraft {
                office,
                country,
                cron: Some(window.cron).filter(|cron| !cron.is_empty()),
                every_for: duration("maintenance.duration", window.duration.as_ref())?,
                time_zone: Some(window.time_zone).filter(|zone| !zone.is_empty()),
            })
        }
    };
    Ok(Draft {
        matchers: request.matchers,
        starts_at: time("starts_at", request.starts_at.as_ref())?,
        ends_at: time("ends_at", request.ends_at.as_ref())?,
        duration: duration("duration", request.duration.as_ref())?,
        comment: request.comment,
        created_by: String::new(),
        window,
    })
}

fn answer(result: Result<Silence, ApiError>) -> Result<Response<pb::SilenceResponse>, Status> {
    let at = now();
    result
        .map(|silence| {
            Response::new(pb::SilenceResponse {
                silence: Some(view(&silence, at, None)),
            })
        })
        .map_err(|error| to_status(&error))
}

#[tonic::async_trait]
impl Silences for SilenceService {
    async fn create_silence(
        &self,
        request: Request<pb::CreateSilenceRequest>,
    ) -> Result<Response<pb::SilenceResponse>, Status> {
        let result = async {
            let officer = self.officer(&request)?;
            let draft = draft_from_pb(request.into_inner())?;
            self.create(draft, &officer).await
        }
        .await;
        answer(result)
    }

    async fn list_silences(
        &self,
        request: Request<pb::ListSilencesRequest>,
    ) -> Result<Response<pb::ListSilencesResponse>, Status> {
        self.officer(&request).map_err(|error| to_status(&error))?;
        let silences = self.list(request.into_inner().include_expired);
        Ok(Response::new(pb::ListSilencesResponse { silences }))
    }

    async fn preview_silence(
        &self,
        request: Request<pb::CreateSilenceRequest>,
    ) -> Result<Response<pb::PreviewSilenceResponse>, Status> {
        let officer = self.officer(&request).map_err(|error| to_status(&error))?;
        let matches = draft_from_pb(request.into_inner())
            .and_then(|draft| self.preview(draft, &officer))
            .map_err(|error| to_status(&error))?;
        Ok(Response::new(pb::PreviewSilenceResponse { matches }))
    }

    async fn expire_silence(
        &self,
        request: Request<pb::ExpireSilenceRequest>,
    ) -> Result<Response<pb::SilenceResponse>, Status> {
        let result = async {
            let officer = self.officer(&request)?;
            self.expire(&request.into_inner().id, &officer).await
        }
        .await;
        answer(result)
    }
}

#[cfg(test)]
#[path = "silences_tests.rs"]
mod tests;
