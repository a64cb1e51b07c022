//! `watchkeeper headcount start|list|show|answer|close|export`: duty officers' staff
//! headcounts, against the `Headcounts` API. A table for people, `--json` for scripts, CSV
//! for the export (what the operations centre hands on after an incident).

use std::process::ExitCode;

use serde_json::json;
use wk_proto::v1 as pb;
use wk_proto::v1::headcounts_client::HeadcountsClient;

use crate::officer::{Connection, authorized};
use crate::send::{refused, say};

#[derive(clap::Subcommand)]
pub(crate) enum HeadcountCommand {
    /// Start a headcount over one scope of the roster (frozen for it now).
    Start {
        #[arg(long, conflicts_with_all = ["office", "zone", "person"])]
        country: Option<String>,
        /// An office (repeatable).
        #[arg(long)]
        office: Vec<String>,
        /// A warden zone (repeatable).
        #[arg(long)]
        zone: Vec<String>,
        /// A person's roster id (repeatable).
        #[arg(long)]
        person: Vec<String>,
        /// A drill: the mails and any call for help say so.
        #[arg(long)]
        drill: bool,
        /// The alert it is started from.
        #[arg(long)]
        alert: Option<String>,
        /// Minutes between reminders (default: the configuration's).
        #[arg(long)]
        cycle_minutes: Option<u32>,
        /// How many times a non-responder is asked in all.
        #[arg(long)]
        cycles: Option<u32>,
    },
    /// Headcounts, newest first, with their counts.
    List,
    /// One headcount: its counts by office and zone, and each person's latest answer.
    Show { id: String },
    /// Record an answer on someone's behalf (safe, need-help, not-in-area).
    Answer {
        id: String,
        person: String,
        reply: String,
        /// How they were reached (required), e.g. "reached by phone".
        #[arg(long)]
        method: String,
        #[arg(long, default_value = "")]
        text: String,
        #[arg(long, default_value = "")]
        place: String,
    },
    /// Close a headcount with a summary; the people unaccounted for are kept with it.
    Close {
        id: String,
        #[arg(long)]
        summary: String,
    },
    /// Every person's latest answer, as CSV.
    Export { id: String },
}

fn request<T>(message: T, token: &str) -> Result<tonic::Request<T>, tonic::Status> {
    authorized(message, token).map_err(tonic::Status::invalid_argument)
}

fn reply(text: &str) -> Result<pb::HeadcountReply, tonic::Status> {
    match text {
        "safe" => Ok(pb::HeadcountReply::Safe),
        "need-help" => Ok(pb::HeadcountReply::NeedHelp),
        "not-in-area" => Ok(pb::HeadcountReply::NotInArea),
        other => Err(tonic::Status::invalid_argument(format!(
            "{other:?} is not safe, need-help or not-in-area"
        ))),
    }
}

fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|at| wk_core::Timestamp::from_seconds_nanos(at.seconds, at.nanos))
        .map_or_else(|| "-".to_owned(), |at| at.to_string())
}

fn counts_line(counts: &pb::HeadcountCounts) -> String {
    format!(
        "safe {}, need help {}, not in area {}, unaccounted {}, unreachable {}",
        counts.safe, counts.need_help, counts.not_in_area, counts.unaccounted, counts.unreachable
    )
}

fn counts_json(counts: &pb::HeadcountCounts) -> serde_json::Value {
    json!({
        "name": counts.name,
        "safe": counts.safe,
        "need_help": counts.need_help,
        "not_in_area": counts.not_in_area,
        "unaccounted": counts.unaccounted,
        "unreachable": counts.unreachable,
    })
}

/// A person's latest answer, as `(standing, at, via, by, method)`.
fn latest(person: &pb::HeadcountPerson) -> (&'static str, String, String, String, String) {
    let standing = wk_api::headcounts::standing_name(person);
    match person.answers.last() {
        Some(answer) => (
            standing,
            time(answer.at.as_ref()),
            answer.via.clone(),
            answer.by.clone(),
            answer.method.clone(),
        ),
        None => (
            standing,
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ),
    }
}

async fn fetch(
    client: &mut HeadcountsClient<tonic::transport::Channel>,
    token: &str,
    id: String,
) -> Result<pb::HeadcountView, tonic::Status> {
    let request = request(pb::GetHeadcountRequest { headcount_id: id }, token)?;
    Ok(client.get_headcount(request).await?.into_inner())
}

async fn execute(connection: &Connection, command: HeadcountCommand) -> Result<(), tonic::Status> {
    let token = connection.token.clone().unwrap_or_default();
    let mut client = HeadcountsClient::connect(connection.server.clone())
        .await
        .map_err(|error| {
            tonic::Status::unavailable(format!("cannot connect to {}: {error}", connection.server))
        })?;
    match command {
        HeadcountCommand::Start {
            country,
            office,
            zone,
            person,
            drill,
            alert,
            cycle_minutes,
            cycles,
        } => {
            let started = client
                .start_headcount(request(
                    pb::StartHeadcountRequest {
                        country: country.unwrap_or_default(),
                        offices: office,
                        zones: zone,
                        people: person,
                        drill,
                        alert_id: alert.unwrap_or_default(),
                        cycle_minutes: cycle_minutes.unwrap_or(0),
                        cycles: cycles.unwrap_or(0),
                    },
                    &token,
                )?)
                .await?
                .into_inner();
            say(&if connection.json {
                json!({"headcount_id": started.headcount_id, "people": started.people, "unreachable": started.unreachable}).to_string()
            } else {
                format!(
                    "headcount {} started: {} people asked ({} without an address)",
                    started.headcount_id, started.people, started.unreachable
                )
            });
        }
        HeadcountCommand::List => {
            let views = client
                .list_headcounts(request(pb::ListHeadcountsRequest {}, &token)?)
                .await?
                .into_inner()
                .headcounts;
            for view in views {
                let state = view.state.unwrap_or_default();
                let all = view.all.unwrap_or_default();
                say(&if connection.json {
                    json!({"id": state.id, "scope": state.scope, "started_at": time(state.started_at.as_ref()), "closed": state.closed.is_some(), "all": counts_json(&all)}).to_string()
                } else {
                    format!(
                        "{}  {}  {}{}  {}",
                        state.id,
                        time(state.started_at.as_ref()),
                        state.scope,
                        if state.closed.is_some() {
                            " (closed)"
                        } else {
                            ""
                        },
                        counts_line(&all)
                    )
                });
            }
        }
        HeadcountCommand::Show { id } => {
            let view = fetch(&mut client, &token, id).await?;
            let state = view.state.clone().unwrap_or_default();
            if connection.json {
                say(&json!({
                    "id": state.id,
                    "all": view.all.as_ref().map(counts_json),
                    "offices": view.offices.iter().map(counts_json).collect::<Vec<_>>(),
                    "zones": view.zones.iter().map(counts_json).collect::<Vec<_>>(),
                    "unaccounted_at_close": state.unaccounted_at_close,
                })
                .to_string());
                return Ok(());
            }
            say(&format!(
                "headcount {} ({}), started {} by {}",
                state.id,
                state.scope,
                time(state.started_at.as_ref()),
                state.started_by
            ));
            say(&format!(
                "all: {}",
                counts_line(&view.all.unwrap_or_default())
            ));
            for counts in view.offices.iter().chain(&view.zones) {
                say(&format!("{}: {}", counts.name, counts_line(counts)));
            }
            for person in &state.people {
                let member = person.member.clone().unwrap_or_default();
                let (standing, at, via, by, method) = latest(person);
                say(&format!(
                    "  {:<10} {:<24} {:<14} {standing:<12} {at} {via} {by} {method}",
                    member.id, member.name, member.zone
                ));
            }
        }
        HeadcountCommand::Answer {
            id,
            person,
            reply: text,
            method,
            text: said,
            place,
        } => {
            client
                .record_answer(request(
                    pb::RecordAnswerRequest {
                        headcount_id: id,
                        person: person.clone(),
                        reply: reply(&text)? as i32,
                        method,
                        text: said,
                        place,
                    },
                    &token,
                )?)
                .await?;
            say(&format!("answer recorded for {person}: {text}"));
        }
        HeadcountCommand::Close { id, summary } => {
            client
                .close_headcount(request(
                    pb::CloseHeadcountRequest {
                        headcount_id: id.clone(),
                        summary,
                    },
                    &token,
                )?)
                .await?;
            say(&format!("headcount {id} closed"));
        }
        HeadcountCommand::Export { id } => {
            let view = fetch(&mut client, &token, id).await?;
            let csv = wk_api::headcounts::export_csv(&view.state.unwrap_or_default());
            say(csv.trim_end());
        }
    }
    Ok(())
}

pub(crate) async fn run(connection: Connection, command: HeadcountCommand) -> ExitCode {
    match execute(&connection, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => refused(connection.json, &status),
    }
}
