//! The `AlertConsole` service: duty officers (and admins) acknowledge, resolve and annotate
//! alerts — written as events to the alerts topic, taking effect through the dispatcher — and
//! everyone reads the alerts their role allows from the state view: get, list, watch.

use std::pin::Pin;
use std::time::Duration;

use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};
use tracing::{info, warn};
use wk_bus::codec::{OfficerAction, encode_action};
use wk_bus::producer::Producer;
use wk_core::alert::AlertId;
use wk_core::escalation::Responder;
use wk_proto::v1 as pb;
use wk_proto::v1::alert_console_server::AlertConsole;

use crate::auth::{Authenticator, Caller};
use crate::error::{ApiError, to_status};
use crate::ingest::now;
use crate::view::{Filter, Place, StateView, millis};

const NOTE_CHARS: usize = 2_000;
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

pub struct ConsoleService {
    authenticator: Authenticator,
    producer: Producer,
    alerts_topic: String,
    view: StateView,
    produce_timeout: Duration,
    /// Where the view's let-go alerts are read back from (the state topic).
    archive: Option<wk_core::config::KafkaConfig>,
    /// One search of the state topic at a time (each may read all of it).
    search: std::sync::Arc<tokio::sync::Semaphore>,
}

/// How long reading one let-go alert back from the state topic may take.
const ARCHIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a search of the whole state topic for an unlocated alert may take.
const SEARCH_TIMEOUT: Duration = Duration::from_secs(30);

type ChangeStream = Pin<Box<dyn Stream<Item = Result<pb::AlertChange, Status>> + Send>>;

/// What `caller` may see of `state`: a field office does not see the duty officers' and
/// consoles' addresses (email recipients, actors who acted from an email link), only that the
/// operations centre was notified and acted.
fn for_caller(caller: &Caller, mut state: pb::EscalationState) -> pb::EscalationState {
    if caller.office_scope().is_none() {
        return state;
    }
    crate::redact::for_office(&mut state);
    state
}

fn may_read(caller: &Caller, state: &pb::EscalationState) -> bool {
    caller.office_scope().is_none_or(|office| {
        state
            .alert
            .as_ref()
            .is_some_and(|alert| alert.office_id == office)
    })
}

impl ConsoleService {
    pub fn new(
        authenticator: Authenticator,
        producer: Producer,
        alerts_topic: String,
        view: StateView,
        produce_timeout: Duration,
    ) -> ConsoleService {
        ConsoleService {
            authenticator,
            producer,
            alerts_topic,
            view,
            produce_timeout,
            archive: None,
            search: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// Reads alerts the view let go of back from `kafka`'s state topic.
    pub fn with_archive(mut self, kafka: wk_core::config::KafkaConfig) -> ConsoleService {
        self.archive = Some(kafka);
        self
    }

    /// The alert's current state: from the view, or, for one it let go of, from the state
    /// topic (`None` when neither has it, or the broker does not answer).
    pub async fn state_anywhere(&self, id: AlertId) -> Option<pb::EscalationState> {
        if let Some(state) = self.view.get(id) {
            return Some(state);
        }
        let kafka = self.archive.as_ref()?;
        let read = match self.view.place(id) {
            Place::At(partition, offset) => {
                wk_bus::restore::read_one(
                    kafka,
                    &kafka.state_topic,
                    partition,
                    offset,
                    ARCHIVE_TIMEOUT,
                )
                .await
            }
            Place::Unlocated => self.search(kafka, id).await,
            Place::Unknown => return None,
        };
        let record = match read {
            Ok(record) => record?,
            Err(error) => {
                tracing::warn!(%error, alert_id = %id, "an archived alert could not be read back");
                return None;
            }
        };
        match wk_bus::state_codec::decode_state_record(record.payload.as_deref()?) {
            Ok(pb::state_record::Machine::Escalation(mut state))
                if state.alert_id == id.to_string() =>
            {
                // The record leaves out the ids it can make again; clients get them filled in.
                wk_bus::escalation_codec::expand(&mut state)
                    .inspect_err(|error| {
                        tracing::warn!(%error, alert_id = %id, "an archived alert does not expand");
                    })
                    .ok()?;
                Some(state)
            }
            _ => None,
        }
    }

    /// Searches the whole state topic for `id`, one search at a time.
    async fn search(
        &self,
        kafka: &wk_core::config::KafkaConfig,
        id: AlertId,
    ) -> Result<Option<wk_bus::consumer::Record>, wk_bus::BusError> {
        let _turn = self.search.acquire().await;
        let partitions = wk_bus::admin::partition_count(kafka, &kafka.state_topic).await?;
        wk_bus::restore::find_latest(
            kafka,
            &kafka.state_topic,
            partitions,
            id.to_string().as_bytes(),
            SEARCH_TIMEOUT,
        )
        .await
    }

    /// The alert's current state, when the view has it.
    pub fn state_of(&self, id: AlertId) -> Option<pb::EscalationState> {
        self.view.get(id)
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, ApiError> {
        Ok(self.authenticator.authenticate(request.metadata())?)
    }

    /// The acting duty officer or admin; field offices may not act.
    fn officer<T>(&self, request: &Request<T>) -> Result<String, ApiError> {
        match self.caller(request)? {
            Caller::DutyOfficer(id) | Caller::Admin(id) => Ok(id),
            Caller::Office(_) => Err(ApiError::WrongRole {
                action: "acknowledge, resolve or annotate alerts (duty officers only)",
            }),
        }
    }

    /// The alert `text` names, when it exists (in the view, or on the state topic for one the
    /// view let go of).
    async fn known_alert(&self, text: &str) -> Result<AlertId, ApiError> {
        let id: AlertId = text
            .parse()
            .map_err(|_| ApiError::BadAlertId(text.to_owned()))?;
        if self.view.is_known(id)
            || (self.view.place(id) == Place::Unlocated && self.state_anywhere(id).await.is_some())
        {
            Ok(id)
        } else {
            Err(ApiError::NotFound(text.to_owned()))
        }
    }

    /// Records `action` by `actor` through `channel` on alert `alert_id`: the one path every
    /// way of acting (gRPC, email link, console callback, CLI) goes through. `incident` is the
    /// incident a link or callback was issued for: refused for any other (here when the view
    /// already knows, and by the dispatcher in any case); `None` acts on the current one.
    pub async fn record_action(
        &self,
        alert_id: &str,
        action: OfficerAction,
        actor: String,
        channel: &str,
        incident: Option<u32>,
    ) -> Result<pb::AlertActionResponse, ApiError> {
        let id = self.known_alert(alert_id).await?;
        if let Some(issued_for) = incident
            && let Some(state) = self.view.get(id)
            && state.incident != issued_for
        {
            return Err(ApiError::WrongIncident {
                issued_for,
                current: state.incident,
            });
        }
        if action == OfficerAction::Acknowledge
            && let Some(state) = self.view.get(id)
            && state.status == pb::AlertStatus::Acknowledged as i32
        {
            // Idempotent: say who was first instead of recording a second acknowledgement.
            return Ok(pb::AlertActionResponse {
                alert_id: id.to_string(),
                already_acknowledged_by: state.status_by,
            });
        }
        let by = Responder {
            actor,
            channel: channel.to_owned(),
        };
        let key = id.to_string();
        let payload = encode_action(id, &action, &by, incident, now());
        let send = self
            .producer
            .send(&self.alerts_topic, &key, &payload, None, true);
        match tokio::time::timeout(self.produce_timeout, send).await {
            Ok(Ok(_)) => {
                info!(alert_id = %id, ?action, channel, "action recorded");
                let name = match action {
                    OfficerAction::Acknowledge => "acknowledge",
                    OfficerAction::Resolve => "resolve",
                    OfficerAction::Note(_) => "note",
                };
                crate::metrics::officer_action(name, channel);
                Ok(pb::AlertActionResponse {
                    alert_id: key,
                    already_acknowledged_by: None,
                })
            }
            Ok(Err(error)) => {
                warn!(%error, alert_id = %id, "action refused: broker did not acknowledge");
                Err(ApiError::BrokerUnavailable)
            }
            Err(_) => Err(ApiError::BrokerUnavailable),
        }
    }

    async fn act(
        &self,
        request: Request<pb::AlertActionRequest>,
        action: OfficerAction,
    ) -> Result<pb::AlertActionResponse, ApiError> {
        let officer = self.officer(&request)?;
        let channel = grpc_channel(&request);
        self.record_action(&request.get_ref().alert_id, action, officer, channel, None)
            .await
    }

    async fn readable(
        &self,
        caller: &Caller,
        alert_id: &str,
    ) -> Result<pb::EscalationState, ApiError> {
        let id = self.known_alert(alert_id).await?;
        // Known but not yet on the changelog: accepted a moment ago.
        let state = self
            .state_anywhere(id)
            .await
            .ok_or_else(|| ApiError::NotFound(alert_id.to_owned()))?;
        // Another office's alert is answered exactly like an unknown one: ids derive from
        // (office, dedup key), so anything else would tell whether a guessed alert exists.
        if may_read(caller, &state) {
            Ok(for_caller(caller, state))
        } else {
            Err(ApiError::NotFound(alert_id.to_owned()))
        }
    }
}

/// `cli` when the officer CLI says so in `watchkeeper-client` metadata, else `api`.
pub(crate) fn grpc_channel<T>(request: &Request<T>) -> &'static str {
    match request
        .metadata()
        .get("watchkeeper-client")
        .map(|v| v.to_str())
    {
        Some(Ok("cli")) => "cli",
        _ => "api",
    }
}

fn parse_cursor(token: &str) -> Result<Option<(i64, String)>, ApiError> {
    if token.is_empty() {
        return Ok(None);
    }
    let (millis, id) = token
        .split_once('/')
        .ok_or_else(|| ApiError::BadPageToken(token.to_owned()))?;
    let millis = millis
        .parse()
        .map_err(|_| ApiError::BadPageToken(token.to_owned()))?;
    Ok(Some((millis, id.to_owned())))
}

#[tonic::async_trait]
impl AlertConsole for ConsoleService {
    async fn acknowledge(
        &self,
        request: Request<pb::AlertActionRequest>,
    ) -> Result<Response<pb::AlertActionResponse>, Status> {
        self.act(request, OfficerAction::Acknowledge)
            .await
            .map(Response::new)
            .map_err(|error| to_status(&error))
    }

    async fn resolve(
        &self,
        request: Request<pb::AlertActionRequest>,
    ) -> Result<Response<pb::AlertActionResponse>, Status> {
        self.act(request, OfficerAction::Resolve)
            .await
            .map(Response::new)
            .map_err(|error| to_status(&error))
    }

    async fn add_note(
        &self,
        request: Request<pb::AddNoteRequest>,
    ) -> Result<Response<pb::AlertActionResponse>, Status> {
        let result = async {
            let officer = self.officer(&request)?;
            let text = request.get_ref().text.trim().to_owned();
            if text.is_empty() || text.chars().count() > NOTE_CHARS {
                return Err(ApiError::BadNote { max: NOTE_CHARS });
            }
            self.record_action(
                &request.get_ref().alert_id,
                OfficerAction::Note(text),
                officer,
                "api",
                None,
            )
            .await
        };
        result
            .await
            .map(Response::new)
            .map_err(|error| to_status(&error))
    }

    async fn get_alert(
        &self,
        request: Request<pb::GetAlertRequest>,
    ) -> Result<Response<pb::GetAlertResponse>, Status> {
        let result = match self.caller(&request) {
            Ok(caller) => self.readable(&caller, &request.get_ref().alert_id).await,
            Err(error) => Err(error),
        };
        result
            .map(|state| Response::new(pb::GetAlertResponse { state: Some(state) }))
            .map_err(|error| to_status(&error))
    }

    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let result = (|| {
            let caller = self.caller(&request)?;
            let query = request.get_ref();
            let mut office_id = (!query.office_id.is_empty()).then(|| query.office_id.clone());
            if let Some(own) = caller.office_scope() {
                if office_id.as_deref().is_some_and(|asked| asked != own) {
                    return Err(ApiError::WrongRole {
                        action: "read another office's alerts",
                    });
                }
                office_id = Some(own.to_owned());
            }
            let filter = Filter {
                statuses: query.statuses.clone(),
                min_severity: (query.min_severity != 0).then_some(query.min_severity),
                office_id,
                country: (!query.country.is_empty()).then(|| query.country.clone()),
                since_ms: millis(query.since.as_ref()),
                until_ms: millis(query.until.as_ref()),
            };
            let limit = match query.page_size as usize {
                0 => DEFAULT_PAGE,
                size => size.min(MAX_PAGE),
            };
            let (alerts, next) = self
                .view
                .list(&filter, parse_cursor(&query.page_token)?, limit);
            let alerts = alerts
                .into_iter()
                .map(|state| for_caller(&caller, state))
                .collect();
            Ok(pb::ListAlertsResponse {
                alerts,
                next_page_token: next
                    .map(|(millis, id)| format!("{millis}/{id}"))
                    .unwrap_or_default(),
            })
        })();
        result.map(Response::new).map_err(|error| to_status(&error))
    }

    type WatchAlertsStream = ChangeStream;

    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Result<Response<ChangeStream>, Status> {
        let caller = self.caller(&request).map_err(|error| to_status(&error))?;
        let changes =
            BroadcastStream::new(self.view.subscribe()).filter_map(move |change| match change {
                Ok(change) => {
                    change
                        .state()
                        .filter(|state| may_read(&caller, state))
                        .map(|state| {
                            Ok(pb::AlertChange {
                                state: Some(for_caller(&caller, state)),
                            })
                        })
                }
                Err(lagged) => {
                    warn!(%lagged, "watcher too slow; changes skipped");
                    None
                }
            });
        Ok(Response::new(Box::pin(changes)))
    }
}
