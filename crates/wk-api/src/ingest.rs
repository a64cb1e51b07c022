//! The `AlertIngest` service: authenticate, authorise the office, validate, produce to the
//! alerts topic and answer OK only once the broker acknowledged the record.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};
use tracing::{Span, instrument, warn};
use wk_bus::codec::encode_raised;
use wk_bus::producer::{ProduceError, Producer};
use wk_core::Timestamp;
use wk_core::alert::AlertId;
use wk_core::watch::Channel;
use wk_proto::convert::{draft_from_pb, severity_from_pb};
use wk_proto::v1 as pb;
use wk_proto::v1::alert_ingest_server::AlertIngest;

use crate::auth::{Authenticator, Caller};
use crate::checkin::CheckIns;
use crate::error::{ApiError, to_status};
use crate::limits::RateLimits;
use crate::metrics;
use crate::view::StateView;

pub struct IngestService {
    authenticator: Authenticator,
    producer: Producer,
    alerts_topic: String,
    known: StateView,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    max_batch: usize,
    produce_timeout: Duration,
    limits: std::sync::Arc<RateLimits>,
    check_ins: Option<Arc<CheckIns>>,
}

/// The wall clock, read at the boundary and passed into the core.
pub(crate) fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// A time-ordered random id (UUIDv7) for `now`: an alert without a dedup key, a headcount.
pub(crate) fn fresh_id(now: Timestamp) -> AlertId {
    let random = uuid::Uuid::new_v4().into_bytes();
    let mut bits = [0u8; 10];
    bits.copy_from_slice(&random[..10]);
    AlertId::fresh(now, bits)
}

impl IngestService {
    pub fn new(
        authenticator: Authenticator,
        producer: Producer,
        alerts_topic: String,
        known: StateView,
        max_in_flight: usize,
        max_batch: usize,
        produce_timeout: Duration,
    ) -> IngestService {
        IngestService {
            authenticator,
            producer,
            alerts_topic,
            known,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            max_batch,
            produce_timeout,
            limits: std::sync::Arc::default(),
            check_ins: None,
        }
    }

    /// Takes check-ins, and counts the offices' alerts as check-ins where configured.
    pub fn with_check_ins(mut self, check_ins: Arc<CheckIns>) -> IngestService {
        self.check_ins = Some(check_ins);
        self
    }

    /// Refuses an office's submissions beyond its rate (RESOURCE_EXHAUSTED with RetryInfo).
    pub fn with_limits(mut self, limits: std::sync::Arc<RateLimits>) -> IngestService {
        self.limits = limits;
        self
    }

    /// Takes `alerts` from the office's allowance, counting a refusal in the metrics.
    fn admit(&self, office: &str, alerts: usize) -> Result<(), Status> {
        self.limits.check(office, alerts).map_err(|limited| {
            let error = ApiError::RateLimited {
                office: office.to_owned(),
                limited,
            };
            metrics::rate_limited(office, alerts);
            to_status(&error)
        })
    }

    /// Submits one alert and records its outcome and latency.
    async fn submit_one(
        &self,
        office: &str,
        alert: Option<pb::Alert>,
    ) -> Result<pb::SubmitAlertResponse, ApiError> {
        let started = std::time::Instant::now();
        let severity = alert
            .as_ref()
            .and_then(|alert| severity_from_pb(alert.severity))
            .map_or("unspecified", |severity| severity.as_str());
        let result = self.submit(office, alert).await;
        let outcome = match &result {
            Ok(response) if response.updated => "updated",
            Ok(response) if response.duplicate => "duplicate",
            Ok(_) => "accepted",
            Err(error) => error.outcome(),
        };
        metrics::alert_received(office, severity, outcome);
        metrics::ingest_latency(started.elapsed());
        result
    }

    #[instrument(skip_all, fields(office = %office, alert_id))]
    async fn submit(
        &self,
        office: &str,
        alert: Option<pb::Alert>,
    ) -> Result<pb::SubmitAlertResponse, ApiError> {
        let alert = alert.ok_or(ApiError::MissingAlert)?;
        let reserved = match pb::Category::try_from(alert.category) {
            Ok(pb::Category::OfficeSilent) => Some(
                "office_silent is raised by Watchkeeper itself when an office misses a check-in",
            ),
            Ok(pb::Category::StaffHelp) => Some(
                "staff_help is raised by Watchkeeper itself when a person answers \"I need help\" \
                 in a headcount",
            ),
            _ => None,
        };
        if let Some(description) = reserved {
            return Err(ApiError::Invalid(wk_core::validate::Violations(vec![
                wk_core::validate::FieldViolation {
                    field: "alert.category".into(),
                    description: description.into(),
                },
            ])));
        }
        if alert.origin.is_some() {
            return Err(ApiError::Invalid(wk_core::validate::Violations(vec![
                wk_core::validate::FieldViolation {
                    field: "alert.origin".into(),
                    description: "is set by Watchkeeper's integrations, not by a field office"
                        .into(),
                },
            ])));
        }
        if alert.office_id != office {
            return Err(ApiError::WrongOffice {
                own: office.to_owned(),
                requested: alert.office_id,
            });
        }
        let now = now();
        let alert = draft_from_pb(alert).validate(now, fresh_id(now))?;
        let sent = crate::view::version(
            wk_proto::convert::severity_to_pb(alert.severity) as i32,
            &alert.title,
            &alert.description,
        );
        Span::current().record("alert_id", tracing::field::display(alert.id));
        let _permit = self
            .in_flight
            .try_acquire()
            .map_err(|_| ApiError::Overloaded)?;
        metrics::in_flight(self.max_in_flight - self.in_flight.available_permits());
        let key = alert.id.to_string();
        let payload = encode_raised(&alert, now);
        let send = self
            .producer
            .send(&self.alerts_topic, &key, &payload, None, true);
        match tokio::time::timeout(self.produce_timeout, send).await {
            Ok(Ok(_)) => {}
            Ok(Err(ProduceError::QueueFull)) => return Err(ApiError::Overloaded),
            Ok(Err(error @ ProduceError::NotAcknowledged(_))) => {
                metrics::produce_error();
                warn!(%error, "alert refused: broker did not acknowledge");
                return Err(ApiError::BrokerUnavailable);
            }
            Err(_elapsed) => {
                metrics::produce_error();
                warn!(timeout = ?self.produce_timeout, "alert refused: no broker acknowledgement in time");
                return Err(ApiError::BrokerUnavailable);
            }
        }
        if let Some(check_ins) = &self.check_ins {
            check_ins.alert_accepted(office, now);
        }
        let submitted = self.known.accepted(alert.id, sent);
        Ok(pb::SubmitAlertResponse {
            alert_id: key,
            duplicate: submitted.duplicate,
            updated: submitted.updated,
        })
    }

    /// The calling office; other roles may not submit.
    fn office<T>(&self, request: &Request<T>) -> Result<String, Status> {
        match self.authenticator.authenticate(request.metadata()) {
            Ok(Caller::Office(office)) => Ok(office),
            Ok(Caller::DutyOfficer(_) | Caller::Admin(_)) => Err(to_status(&ApiError::WrongRole {
                action: "submit alerts (field-office tokens only)",
            })),
            Err(error) => Err(to_status(&ApiError::Unauthenticated(error))),
        }
    }
}

fn item_error(error: &ApiError) -> pb::ItemError {
    pb::ItemError {
        code: error.code() as i32,
        message: error.to_string(),
        field_violations: error
            .violations()
            .into_iter()
            .map(|(field, description)| pb::FieldViolation { field, description })
            .collect(),
    }
}

#[tonic::async_trait]
impl AlertIngest for IngestService {
    async fn submit_alert(
        &self,
        request: Request<pb::SubmitAlertRequest>,
    ) -> Result<Response<pb::SubmitAlertResponse>, Status> {
        let office = self.office(&request)?;
        self.admit(&office, 1)?;
        self.submit_one(&office, request.into_inner().alert)
            .await
            .map(Response::new)
            .map_err(|error| to_status(&error))
    }

    async fn submit_alerts(
        &self,
        request: Request<pb::SubmitAlertsRequest>,
    ) -> Result<Response<pb::SubmitAlertsResponse>, Status> {
        let office = self.office(&request)?;
        let alerts = request.into_inner().alerts;
        if alerts.len() > self.max_batch {
            return Err(to_status(&ApiError::BatchTooLarge {
                size: alerts.len(),
                max: self.max_batch,
            }));
        }
        self.admit(&office, alerts.len())?;
        // Produce concurrently; librdkafka batches them into few requests.
        let outcomes = futures_util::future::join_all(
            alerts
                .into_iter()
                .map(|alert| self.submit_one(&office, Some(alert))),
        )
        .await;
        let results = outcomes
            .into_iter()
            .map(|outcome| pb::SubmitAlertsResult {
                outcome: Some(match outcome {
                    Ok(accepted) => pb::submit_alerts_result::Outcome::Accepted(accepted),
                    Err(error) => pb::submit_alerts_result::Outcome::Error(item_error(&error)),
                }),
            })
            .collect();
        Ok(Response::new(pb::SubmitAlertsResponse { results }))
    }

    async fn check_in(
        &self,
        request: Request<pb::CheckInRequest>,
    ) -> Result<Response<pb::CheckInResponse>, Status> {
        let office = self.office(&request)?;
        let request = request.into_inner();
        let refuse = |error: ApiError| to_status(&error);
        if request.office_id != office {
            return Err(refuse(ApiError::WrongOffice {
                own: office,
                requested: request.office_id,
            }));
        }
        let channel = match request.via.as_str() {
            "" => Channel::Grpc,
            "cli" => Channel::Cli,
            other => {
                return Err(refuse(ApiError::BadCheckIn {
                    field: "via",
                    reason: format!("{other:?} is not empty or \"cli\""),
                }));
            }
        };
        let Some(check_ins) = &self.check_ins else {
            return Err(refuse(ApiError::NotWatched(office)));
        };
        let coordinates = request.coordinates.map(|c| (c.latitude, c.longitude));
        let at = check_ins
            .check_in(&office, channel, &request.status, coordinates)
            .await
            .map_err(refuse)?;
        Ok(Response::new(pb::CheckInResponse {
            at: Some(wk_proto::convert::timestamp_to_pb(at)),
        }))
    }
}
