//! `watchkeeper offices list|pause|resume`: duty officers' view of the offices' check-in
//! watches, against the `OfficeWatches` API. A table for people, `--json` for scripts.

use std::process::ExitCode;

use serde_json::json;
use wk_proto::v1 as pb;
use wk_proto::v1::office_watches_client::OfficeWatchesClient;

use crate::officer::{Connection, authorized};
use crate::send::{refused, say};

#[derive(clap::Subcommand)]
pub(crate) enum OfficesCommand {
    /// Every watched office: its state, last check-in, next due, pause.
    List,
    /// Pause an office's watch: nothing is raised until it resumes.
    Pause {
        office: String,
        /// Why (required): a known blackout, the office closed for the weekend.
        #[arg(long)]
        reason: String,
        /// Resume by itself after this long, e.g. "48h" (at most 30 days); until resumed
        /// when omitted.
        #[arg(long = "for")]
        duration: Option<String>,
    },
    /// Resume a paused office's watch.
    Resume { office: String },
}

fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|at| wk_core::Timestamp::from_seconds_nanos(at.seconds, at.nanos))
        .map_or_else(|| "-".to_owned(), |at| at.to_string())
}

fn row(office: &pb::OfficeView) -> serde_json::Value {
    let state = office.state.as_ref();
    let last = state.and_then(|state| state.last.as_ref());
    let pause = state.and_then(|state| state.pause.as_ref());
    json!({
        "office_id": office.office_id,
        "name": office.name,
        "state": wk_proto::convert::watch_status_name(state),
        "schedule": office.schedule,
        "last_check_in": last.map(|last| time(last.at.as_ref())),
        "last_channel": last.and_then(|last| last.check_in.as_ref()).map(|c| c.channel.clone()),
        "due": state.map(|state| time(state.due.as_ref())),
        "pause_reason": pause.and_then(|p| p.pause.as_ref()).map(|p| p.reason.clone()),
        "paused_by": pause.and_then(|p| p.pause.as_ref()).and_then(|p| p.by.as_ref()).map(|by| by.actor.clone()),
    })
}

fn request<T>(message: T, token: &str) -> Result<tonic::Request<T>, tonic::Status> {
    authorized(message, token).map_err(tonic::Status::invalid_argument)
}

async fn execute(connection: &Connection, command: OfficesCommand) -> Result<(), tonic::Status> {
    let token = connection.token.clone().unwrap_or_default();
    let mut client = OfficeWatchesClient::connect(connection.server.clone())
        .await
        .map_err(|error| {
            tonic::Status::unavailable(format!("cannot connect to {}: {error}", connection.server))
        })?;
    match command {
        OfficesCommand::List => {
            let offices = client
                .list_offices(request(pb::ListOfficesRequest {}, &token)?)
                .await?
                .into_inner()
                .offices;
            if connection.json {
                say(&json!(offices.iter().map(row).collect::<Vec<_>>()).to_string());
                return Ok(());
            }
            say(&format!(
                "{:<16} {:<7} {:<14} {:<22} {:<22} PAUSE",
                "OFFICE", "STATE", "SCHEDULE", "LAST CHECK-IN (UTC)", "DUE (UTC)"
            ));
            for office in &offices {
                let row = row(office);
                let text = |key: &str| row[key].as_str().unwrap_or("-").to_owned();
                say(&format!(
                    "{:<16} {:<7} {:<14} {:<22} {:<22} {}",
                    office.office_id,
                    text("state"),
                    office.schedule,
                    text("last_check_in"),
                    text("due"),
                    text("pause_reason"),
                ));
            }
        }
        OfficesCommand::Pause {
            office,
            reason,
            duration,
        } => {
            let until = match duration {
                Some(text) => {
                    let duration = wk_core::config::parse_duration(&text)
                        .map_err(tonic::Status::invalid_argument)?;
                    Some(prost_types::Timestamp::from(
                        std::time::SystemTime::now() + duration,
                    ))
                }
                None => None,
            };
            let response = client
                .pause_office(request(
                    pb::PauseOfficeRequest {
                        office_id: office.clone(),
                        reason,
                        until,
                    },
                    &token,
                )?)
                .await?
                .into_inner();
            say(&if connection.json {
                json!({"office_id": office, "paused_at": time(response.at.as_ref())}).to_string()
            } else {
                format!("paused {office}")
            });
        }
        OfficesCommand::Resume { office } => {
            let response = client
                .resume_office(request(
                    pb::ResumeOfficeRequest {
                        office_id: office.clone(),
                    },
                    &token,
                )?)
                .await?
                .into_inner();
            say(&if connection.json {
                json!({"office_id": office, "resumed_at": time(response.at.as_ref())}).to_string()
            } else {
                format!("resumed {office}")
            });
        }
    }
    Ok(())
}

pub(crate) async fn run(connection: Connection, command: OfficesCommand) -> ExitCode {
    match execute(&connection, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => refused(connection.json, &status),
    }
}
