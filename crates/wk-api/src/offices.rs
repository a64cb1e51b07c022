//! The operations centre's view of field offices' check-in watches, built from the state
//! changelog like the alert view, and the `OfficeWatches` service: list the offices, pause
//! and resume one (recorded with who and why, through the dispatcher like every action).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tonic::{Request, Response, Status};
use tracing::info;
use wk_bus::watch_codec::{encode_pause, encode_resume};
use wk_core::Timestamp;
use wk_core::config::Office;
use wk_core::escalation::Responder;
use wk_core::watch::{Every, Pause, WatchConfig};
use wk_proto::convert::{timestamp_from_pb, timestamp_to_pb};
use wk_proto::v1 as pb;
use wk_proto::v1::office_watches_server::OfficeWatches;

use crate::auth::{Authenticator, Caller};
use crate::checkin::CheckIns;
use crate::console::grpc_channel;
use crate::error::{ApiError, to_status};
use crate::ingest::now;

/// The longest pause: a watch paused for longer should be taken out of the configuration.
pub const MAX_PAUSE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most a pause's reason may say.
pub const MAX_REASON: usize = 500;

/// What the configuration says about a watched office.
#[derive(Clone, Debug)]
struct Configured {
    name: String,
    country: String,
    place: String,
    time_zone: String,
    schedule: String,
    grace_ms: i64,
}

struct Inner {
    configured: BTreeMap<String, Configured>,
    states: Mutex<HashMap<String, pb::OfficeWatchState>>,
    /// Bumped on every observed change (for live pages).
    changed: watch::Sender<u64>,
}

/// Every watched office with its latest state; cheap to clone.
#[derive(Clone)]
pub struct OfficesView {
    inner: Arc<Inner>,
}

/// "every 6h", "cron 0 8,18 * * Mon-Fri".
pub fn describe(every: &Every) -> String {
    match every {
        Every::Interval(interval) => {
            let seconds = interval.as_secs();
            let text = match seconds {
                s if s % 3600 == 0 => format!("{}h", s / 3600),
                s if s % 60 == 0 => format!("{}m", s / 60),
                s => format!("{s}s"),
            };
            format!("every {text}")
        }
        Every::Cron { expression, .. } => format!("cron {expression}"),
    }
}

impl OfficesView {
    pub fn new(offices: &[Office]) -> OfficesView {
        let configured = offices
            .iter()
            .filter_map(|office| {
                let watch: &WatchConfig = office.watch.watch.as_ref()?;
                Some((
                    office.id.clone(),
                    Configured {
                        name: watch.name.clone(),
                        country: watch.country.clone(),
                        place: watch.place.clone(),
                        time_zone: watch
                            .schedule
                            .time_zone
                            .iana_name()
                            .unwrap_or("UTC")
                            .to_owned(),
                        schedule: describe(&watch.schedule.every),
                        grace_ms: i64::try_from(watch.schedule.grace.as_millis())
                            .unwrap_or(i64::MAX),
                    },
                ))
            })
            .collect();
        OfficesView {
            inner: Arc::new(Inner {
                configured,
                states: Mutex::new(HashMap::new()),
                changed: watch::Sender::new(0),
            }),
        }
    }

    pub fn is_watched(&self, office: &str) -> bool {
        self.inner.configured.contains_key(office)
    }

    /// A watch's state as the changelog holds it.
    pub fn observe(&self, state: pb::OfficeWatchState) {
        self.inner
            .states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(state.office_id.clone(), state);
        self.inner.changed.send_modify(|version| *version += 1);
    }

    /// Every watched office (or only `only`), in id order.
    pub fn list(&self, only: Option<&str>) -> Vec<pb::OfficeView> {
        let states = self
            .inner
            .states
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.inner
            .configured
            .iter()
            .filter(|(id, _)| only.is_none_or(|only| only == id.as_str()))
            .map(|(id, office)| pb::OfficeView {
                office_id: id.clone(),
                name: office.name.clone(),
                country: office.country.clone(),
                place: office.place.clone(),
                time_zone: office.time_zone.clone(),
                schedule: office.schedule.clone(),
                grace_ms: office.grace_ms,
                state: states.get(id).cloned(),
            })
            .collect()
    }

    /// How many changes it has observed: a page rendered at one version asks the live stream
    /// for what came after it.
    pub fn version(&self) -> u64 {
        *self.inner.changed.borrow()
    }

    /// Changes as they are observed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }
}

pub struct OfficeService {
    authenticator: Authenticator,
    view: OfficesView,
    publisher: Arc<CheckIns>,
}

impl OfficeService {
    pub fn new(
        authenticator: Authenticator,
        view: OfficesView,
        publisher: Arc<CheckIns>,
    ) -> OfficeService {
        OfficeService {
            authenticator,
            view,
            publisher,
        }
    }

    pub fn view(&self) -> &OfficesView {
        &self.view
    }

    fn officer<T>(&self, request: &Request<T>) -> Result<String, ApiError> {
        match self.authenticator.authenticate(request.metadata())? {
            Caller::DutyOfficer(id) | Caller::Admin(id) => Ok(id),
            Caller::Office(_) => Err(ApiError::WrongRole {
                action: "pause or resume an office's watch (duty officers only)",
            }),
        }
    }

    /// Pauses `office`'s watch for `reason` until `until`, as `by`: the one path the gRPC
    /// API, the CLI and the web console take.
    pub async fn pause(
        &self,
        office: &str,
        reason: &str,
        until: Option<Timestamp>,
        by: Responder,
    ) -> Result<Timestamp, ApiError> {
        if !self.view.is_watched(office) {
            return Err(ApiError::NotWatched(office.to_owned()));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(ApiError::BadCheckIn {
                field: "reason",
                reason: format!("is required, at most {MAX_REASON} characters"),
            });
        }
        let at = now();
        let longest =
            at.saturating_add_millis(i64::try_from(MAX_PAUSE.as_millis()).unwrap_or(i64::MAX));
        if let Some(until) = until
            && (until <= at || until > longest)
        {
            return Err(ApiError::BadCheckIn {
                field: "until",
                reason: "must be in the future, at most 30 days ahead".into(),
            });
        }
        let pause = Pause {
            reason: reason.to_owned(),
            until,
            by,
            at,
        };
        self.publisher
            .publish(office, &encode_pause(office, &pause))
            .await?;
        info!(office, "office watch pause recorded");
        Ok(at)
    }

    pub async fn resume(&self, office: &str, by: Responder) -> Result<Timestamp, ApiError> {
        if !self.view.is_watched(office) {
            return Err(ApiError::NotWatched(office.to_owned()));
        }
        let at = now();
        self.publisher
            .publish(office, &encode_resume(office, &by, at))
            .await?;
        info!(office, "office watch resumption recorded");
        Ok(at)
    }
}

/// When an office action was recorded, or why not.
fn answer(
    result: Result<Timestamp, ApiError>,
) -> Result<Response<pb::OfficeActionResponse>, Status> {
    result
        .map(|at| {
            Response::new(pb::OfficeActionResponse {
                at: Some(timestamp_to_pb(at)),
            })
        })
        .map_err(|error| to_status(&error))
}

#[tonic::async_trait]
impl OfficeWatches for OfficeService {
    async fn list_offices(
        &self,
        request: Request<pb::ListOfficesRequest>,
    ) -> Result<Response<pb::ListOfficesResponse>, Status> {
        let caller = self
            .authenticator
            .authenticate(request.metadata())
            .map_err(|error| to_status(&ApiError::Unauthenticated(error)))?;
        let offices = match caller {
            Caller::DutyOfficer(_) | Caller::Admin(_) => self.view.list(None),
            Caller::Office(office) => self.view.list(Some(&office)),
        };
        Ok(Response::new(pb::ListOfficesResponse { offices }))
    }

    async fn pause_office(
        &self,
        request: Request<pb::PauseOfficeRequest>,
    ) -> Result<Response<pb::OfficeActionResponse>, Status> {
        let result = async {
            let officer = self.officer(&request)?;
            let channel = grpc_channel(&request);
            let request = request.into_inner();
            let until = match request.until.as_ref() {
                Some(until) => Some(timestamp_from_pb(until).ok_or(ApiError::BadCheckIn {
                    field: "until",
                    reason: "is not a valid time".into(),
                })?),
                None => None,
            };
            let by = Responder {
                actor: officer,
                channel: channel.into(),
            };
            self.pause(&request.office_id, &request.reason, until, by)
                .await
        }
        .await;
        answer(result)
    }

    async fn resume_office(
        &self,
        request: Request<pb::ResumeOfficeRequest>,
    ) -> Result<Response<pb::OfficeActionResponse>, Status> {
        let result = async {
            let officer = self.officer(&request)?;
            let by = Responder {
                actor: officer,
                channel: grpc_channel(&request).into(),
            };
            self.resume(&request.into_inner().office_id, by).await
        }
        .await;
        answer(result)
    }
}
