//! The `AlertConsole` service for duty officers: acknowledge and resolve (written as events to
//! the alerts topic, taking effect through the dispatcher) and read an alert with its timeline
//! (from the state view).

use std::time::Duration;

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
use crate::view::StateView;

pub struct ConsoleService {
    authenticator: Authenticator,
    producer: Producer,
    alerts_topic: String,
    view: StateView,
    produce_timeout: Duration,
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
        }
    }

    fn officer<T>(&self, request: &Request<T>, action: &'static str) -> Result<String, ApiError> {
        match self.authenticator.authenticate(request.metadata())? {
            Caller::DutyOfficer(id) => Ok(id),
            Caller::Office(_) => Err(ApiError::WrongRole { action }),
        }
    }

    fn known_alert(&self, text: &str) -> Result<AlertId, ApiError> {
        let id: AlertId = text
            .parse()
            .map_err(|_| ApiError::BadAlertId(text.to_owned()))?;
        if self.view.is_known(id) {
            Ok(id)
        } else {
            Err(ApiError::NotFound(text.to_owned()))
        }
    }

    async fn act(
        &self,
        request: Request<pb::AlertActionRequest>,
        action: OfficerAction,
    ) -> Result<pb::AlertActionResponse, ApiError> {
        let officer = self.officer(
            &request,
            "acknowledge or resolve alerts (duty officers only)",
        )?;
        let id = self.known_alert(&request.get_ref().alert_id)?;
        let by = Responder {
            actor: officer,
            channel: "api".into(),
        };
        let key = id.to_string();
        let payload = encode_action(id, action, &by, now());
        let send = self
            .producer
            .send(&self.alerts_topic, &key, &payload, None, Some(&key));
        match tokio::time::timeout(self.produce_timeout, send).await {
            Ok(Ok(_)) => {
                info!(alert_id = %id, ?action, officer = %by.actor, "action recorded");
                Ok(pb::AlertActionResponse { alert_id: key })
            }
            Ok(Err(error)) => {
                warn!(%error, alert_id = %id, "action refused: broker did not acknowledge");
                Err(ApiError::BrokerUnavailable)
            }
            Err(_) => Err(ApiError::BrokerUnavailable),
        }
    }
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

    async fn get_alert(
        &self,
        request: Request<pb::GetAlertRequest>,
    ) -> Result<Response<pb::GetAlertResponse>, Status> {
        let result = (|| {
            self.officer(&request, "read alerts (duty officers only, for now)")?;
            let id = self.known_alert(&request.get_ref().alert_id)?;
            // Known but not yet on the changelog: accepted here a moment ago.
            let state = self
                .view
                .get(id)
                .ok_or_else(|| ApiError::NotFound(request.get_ref().alert_id.clone()))?;
            Ok(pb::GetAlertResponse { state: Some(state) })
        })();
        result
            .map(Response::new)
            .map_err(|error: ApiError| to_status(&error))
    }
}
