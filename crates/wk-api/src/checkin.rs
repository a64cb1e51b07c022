//! Office check-ins: over gRPC (`AlertIngest.CheckIn`), over HTTP (`POST /v1/check-in` with the
//! office's bearer token, for a cron job or a router with curl), from the CLI, and (unless the
//! office turns it off) with every alert the office submits. A check-in is accepted once the
//! broker acknowledges it on the alerts topic, keyed `office:<id>` so that one dispatcher holds
//! each office's watch.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tracing::warn;
use wk_bus::producer::{ProduceError, Producer};
use wk_bus::watch_codec::{MAX_STATUS, encode_check_in, office_record_key};
use wk_core::Timestamp;
use wk_core::alert::Coordinates;
use wk_core::config::Office;
use wk_core::watch::{Channel, CheckIn};

use crate::auth::{Authenticator, Caller};
use crate::error::ApiError;
use crate::ingest::now;
use crate::metrics;

/// An alert counts as a check-in at most this often per office (the watch needs minutes, not
/// every alert of a burst).
const ALERT_CHECK_IN_EVERY: Duration = Duration::from_secs(30);

pub struct CheckIns {
    authenticator: Authenticator,
    producer: Producer,
    alerts_topic: String,
    produce_timeout: Duration,
    /// Watched offices, and whether their alerts count as check-ins.
    watched: BTreeMap<String, bool>,
    /// When each office's alert last counted as a check-in.
    last_from_alert: Mutex<HashMap<String, Timestamp>>,
}

impl CheckIns {
    pub fn new(
        authenticator: Authenticator,
        producer: Producer,
        alerts_topic: String,
        produce_timeout: Duration,
        offices: &[Office],
    ) -> CheckIns {
        CheckIns {
            authenticator,
            producer,
            alerts_topic,
            produce_timeout,
            watched: offices
                .iter()
                .filter(|office| office.watch.watch.is_some())
                .map(|office| (office.id.clone(), office.watch.check_in_on_alert))
                .collect(),
            last_from_alert: Mutex::new(HashMap::new()),
        }
    }

    /// Checks in `office`; `Ok` once the broker acknowledged it.
    pub async fn check_in(
        &self,
        office: &str,
        channel: Channel,
        status: &str,
        coordinates: Option<(f64, f64)>,
    ) -> Result<Timestamp, ApiError> {
        if !self.watched.contains_key(office) {
            return Err(ApiError::NotWatched(office.to_owned()));
        }
        if status.chars().count() > MAX_STATUS {
            return Err(ApiError::BadCheckIn {
                field: "status",
                reason: format!("at most {MAX_STATUS} characters"),
            });
        }
        let coordinates = match coordinates {
            Some((latitude, longitude))
                if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) =>
            {
                Some(Coordinates {
                    latitude,
                    longitude,
                })
            }
            Some(_) => {
                return Err(ApiError::BadCheckIn {
                    field: "coordinates",
                    reason: "latitude -90..=90, longitude -180..=180".into(),
                });
            }
            None => None,
        };
        let check_in = CheckIn {
            at: now(),
            channel,
            status: Some(status.trim().to_owned()).filter(|status| !status.is_empty()),
            coordinates,
        };
        self.publish(office, &encode_check_in(office, &check_in))
            .await?;
        metrics::check_in(channel.as_str());
        Ok(check_in.at)
    }

    /// Puts one of `office`'s facts (a check-in, a pause, a resumption) on the alerts topic
    /// under its key; `Ok` once the broker acknowledged it.
    pub async fn publish(&self, office: &str, payload: &[u8]) -> Result<(), ApiError> {
        let key = office_record_key(office);
        let send = self
            .producer
            .send(&self.alerts_topic, &key, payload, None, true);
        match tokio::time::timeout(self.produce_timeout, send).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(ProduceError::QueueFull)) => Err(ApiError::Overloaded),
            Ok(Err(_)) | Err(_) => {
                metrics::produce_error();
                warn!("office fact refused: broker did not acknowledge");
                Err(ApiError::BrokerUnavailable)
            }
        }
    }

    /// An alert from `office` was accepted: it counts as a check-in (at most every 30 s per
    /// office), queued without waiting. Not acknowledged to the office: its alert was.
    pub fn alert_accepted(&self, office: &str, at: Timestamp) {
        if self.watched.get(office) != Some(&true) {
            return;
        }
        if let Ok(mut last) = self.last_from_alert.lock() {
            let every = i64::try_from(ALERT_CHECK_IN_EVERY.as_millis()).unwrap_or(i64::MAX);
            if last
                .get(office)
                .is_some_and(|last| at.as_unix_millis() - last.as_unix_millis() < every)
            {
                return;
            }
            last.insert(office.to_owned(), at);
        }
        let check_in = CheckIn {
            at,
            channel: Channel::Alert,
            status: None,
            coordinates: None,
        };
        let payload = encode_check_in(office, &check_in);
        match self.producer.enqueue(
            &self.alerts_topic,
            &office_record_key(office),
            &payload,
            None,
            true,
        ) {
            Ok(_) => metrics::check_in(Channel::Alert.as_str()),
            Err(error) => warn!(%error, "check-in from an alert not queued"),
        }
    }

    /// The office a bearer token names; other roles may not check in.
    fn office(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        match self.authenticator.authenticate_header(value) {
            Ok(Caller::Office(office)) => Ok(office),
            Ok(_) => Err(ApiError::WrongRole {
                action: "check in (field-office tokens only)",
            }),
            Err(error) => Err(ApiError::Unauthenticated(error)),
        }
    }
}

/// The optional body of `POST /v1/check-in`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    #[serde(default)]
    status: String,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

/// `POST /v1/check-in`: `Authorization: Bearer <office token>`, an empty body or JSON
/// `{"status": …, "latitude": …, "longitude": …}`. 202 with the time once durable.
pub async fn http_check_in(
    State(check_ins): State<std::sync::Arc<CheckIns>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let office = match check_ins.office(&headers) {
        Ok(office) => office,
        Err(error) => return refuse(&error),
    };
    let body: CheckInBody = if body.iter().all(u8::is_ascii_whitespace) {
        CheckInBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(body) => body,
            Err(error) => {
                let error = ApiError::BadCheckIn {
                    field: "body",
                    reason: format!("not the expected JSON: {error}"),
                };
                return refuse(&error);
            }
        }
    };
    let coordinates = match (body.latitude, body.longitude) {
        (Some(latitude), Some(longitude)) => Some((latitude, longitude)),
        (None, None) => None,
        _ => {
            return refuse(&ApiError::BadCheckIn {
                field: "coordinates",
                reason: "give both latitude and longitude".into(),
            });
        }
    };
    match check_ins
        .check_in(&office, Channel::Http, &body.status, coordinates)
        .await
    {
        Ok(at) => (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"office": office, "at": at.to_string()})),
        )
            .into_response(),
        Err(error) => refuse(&error),
    }
}

fn refuse(error: &ApiError) -> Response {
    let status = match error.code() {
        tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
        tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        tonic::Code::PermissionDenied => StatusCode::FORBIDDEN,
        tonic::Code::FailedPrecondition => StatusCode::CONFLICT,
        tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    (
        status,
        Json(serde_json::json!({"error": error.to_string()})),
    )
        .into_response()
}

/// The check-in route, to merge into the api's HTTP router.
pub fn router(check_ins: std::sync::Arc<CheckIns>) -> axum::Router {
    axum::Router::new()
        .route("/v1/check-in", axum::routing::post(http_check_in))
        .with_state(check_ins)
}
