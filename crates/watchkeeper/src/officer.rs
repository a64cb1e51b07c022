//! The duty officer's CLI: `watchkeeper ack|resolve|note|show|list|watch` against the
//! `AlertConsole` API. Readable tables for people, `--json` (one JSON document, or one per
//! line for `watch`) for scripts.

use std::io::Write as _;
use std::process::ExitCode;

use serde_json::{Value, json};
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;
use wk_proto::v1 as pb;
use wk_proto::v1::alert_console_client::AlertConsoleClient;
use wk_proto::v1::timeline_entry::Event;

#[derive(clap::Args)]
pub(crate) struct Connection {
    /// The api's address.
    #[arg(
        long,
        env = "WATCHKEEPER_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    pub(crate) server: String,
    /// The caller's bearer token: a field office's for `send`, a duty officer's for the rest.
    #[arg(long, env = "WATCHKEEPER_TOKEN", hide_env_values = true, global = true)]
    pub(crate) token: Option<String>,
    /// Print JSON instead of text and tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(clap::Subcommand)]
pub(crate) enum OfficerCommand {
    /// Acknowledge an alert: stops its escalation.
    Ack { alert_id: String },
    /// Resolve an alert.
    Resolve { alert_id: String },
    /// Add a note to an alert's timeline.
    Note { alert_id: String, text: String },
    /// Show an alert with its timeline.
    Show { alert_id: String },
    /// List alerts, newest first.
    List {
        /// open, acknowledged or resolved (repeatable).
        #[arg(long = "status")]
        statuses: Vec<String>,
        #[arg(long)]
        office: Option<String>,
        #[arg(long)]
        country: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Print every change of every alert as it happens, until interrupted.
    Watch,
}

fn say(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|at| wk_core::Timestamp::from_seconds_nanos(at.seconds, at.nanos))
        .map_or_else(|| "-".into(), |at| at.to_string())
}

fn status_name(status: i32) -> &'static str {
    match pb::AlertStatus::try_from(status) {
        Ok(pb::AlertStatus::Open) => "open",
        Ok(pb::AlertStatus::Acknowledged) => "acknowledged",
        Ok(pb::AlertStatus::Resolved) => "resolved",
        _ => "unknown",
    }
}

fn parse_status(text: &str) -> Result<i32, String> {
    match text {
        "open" => Ok(pb::AlertStatus::Open as i32),
        "acknowledged" => Ok(pb::AlertStatus::Acknowledged as i32),
        "resolved" => Ok(pb::AlertStatus::Resolved as i32),
        other => Err(format!("{other:?} is not open, acknowledged or resolved")),
    }
}

fn severity_name(severity: i32) -> String {
    pb::Severity::try_from(severity)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("SEVERITY_")
                .to_lowercase()
        })
        .unwrap_or_default()
}

fn who(by: &pb::Responder) -> String {
    format!("{} via {}", by.actor, by.channel)
}

/// A timeline event as (kind, detail).
pub(crate) fn describe(event: Option<&Event>) -> (&'static str, String) {
    match event {
        Some(Event::Raised(raised)) => (
            "raised",
            format!("route {}, chain {}", raised.route, raised.chain),
        ),
        Some(Event::StepFired(fired)) => (
            "step",
            format!("step {} round {}", fired.step + 1, fired.round + 1),
        ),
        Some(Event::Notified(id)) => ("notified", id.clone()),
        Some(Event::NobodyToNotify(target)) => ("nobody on call", target.clone()),
        Some(Event::Delivered(id)) => ("delivered", id.clone()),
        // Only in a state record: the api gives its clients the ids.
        Some(Event::NotifiedIndex(at)) => ("notified", format!("notification {}", at + 1)),
        Some(Event::DeliveredIndex(at)) => ("delivered", format!("notification {}", at + 1)),
        Some(Event::AttemptFailed(failed)) => (
            "attempt failed",
            format!(
                "{} (attempt {}): {}",
                failed.id, failed.attempt, failed.reason
            ),
        ),
        Some(Event::GivenUp(given_up)) => (
            "GIVEN UP",
            format!("{}: {} (notified onwards)", given_up.id, given_up.reason),
        ),
        Some(Event::Parked(parked)) => (
            "parked",
            format!("{}: {} (waiting for its console)", parked.id, parked.reason),
        ),
        Some(Event::Updated(updated)) => {
            let version = |version: Option<&pb::timeline_entry::Version>| {
                version.map_or_else(String::new, |version| {
                    format!("[{}] {}", severity_name(version.severity), version.title)
                })
            };
            (
                "updated",
                format!(
                    "revision {}: {} -> {}",
                    updated.revision,
                    version(updated.previous.as_ref()),
                    version(updated.current.as_ref())
                ),
            )
        }
        Some(Event::Rerouted(rerouted)) => (
            "rerouted",
            format!("route {}, chain {}", rerouted.route, rerouted.chain),
        ),
        Some(Event::ActionRefused(refused)) => (
            "refused",
            format!(
                "{} (issued for incident {})",
                refused.by.as_ref().map(who).unwrap_or_default(),
                refused.incident
            ),
        ),
        Some(Event::FailedOver(failed_over)) => (
            "failover",
            format!(
                "{} -> {}: {}",
                failed_over.from, failed_over.to, failed_over.reason
            ),
        ),
        Some(Event::Silenced(silenced)) => (
            "silenced",
            format!(
                "by silence {} of {} until {}: {}",
                silenced.silence,
                silenced.by,
                silenced
                    .until
                    .as_ref()
                    .and_then(wk_proto::convert::timestamp_from_pb)
                    .map(|until| until.to_string())
                    .unwrap_or_default(),
                silenced.comment
            ),
        ),
        Some(Event::SilenceEnded(ended)) => (
            "silence ended",
            format!(
                "{}{}{}",
                ended.silence,
                if ended.expired_by.is_empty() {
                    String::new()
                } else {
                    format!(" (expired early by {})", ended.expired_by)
                },
                if ended.restarted {
                    ": escalation starts from the first step"
                } else {
                    ""
                }
            ),
        ),
        Some(Event::NotSilenced(matched)) => (
            "NOT SILENCED",
            format!(
                "{} matched; {}",
                matched.silence,
                wk_core::silence::Exemption::parse(&matched.exempt)
                    .map_or("never silenced", |exemption| exemption.reason())
            ),
        ),
        Some(Event::Acknowledged(by)) => ("acknowledged", who(by)),
        Some(Event::AckTimedOut(_)) => ("ack timed out", String::new()),
        Some(Event::Resolved(by)) => ("resolved", who(by)),
        Some(Event::Repeated(occurrences)) => ("repeated", format!("{occurrences} occurrences")),
        Some(Event::Exhausted(rounds)) => ("exhausted", format!("after {rounds} rounds")),
        Some(Event::Note(note)) => (
            "note",
            format!(
                "{}: {}",
                note.by.as_ref().map(who).unwrap_or_default(),
                note.text
            ),
        ),
        None => ("unknown", String::new()),
    }
}

fn summary(state: &pb::EscalationState) -> Value {
    let alert = state.alert.clone().unwrap_or_default();
    json!({
        "alert_id": state.alert_id,
        "status": status_name(state.status),
        "severity": severity_name(alert.severity),
        "office_id": alert.office_id,
        "country": alert.country,
        "place": alert.place,
        "title": alert.title,
        "incident": state.incident,
        "route": state.route,
        "step": state.step,
        "round": state.round,
        "occurrences": state.occurrences,
        "first_seen": time(state.first_seen.as_ref()),
        "last_seen": time(state.last_seen.as_ref()),
        "status_by": state.status_by.as_ref().map(|by| json!({"actor": by.actor, "channel": by.channel})),
    })
}

fn full(state: &pb::EscalationState) -> Value {
    let mut value = summary(state);
    value["timeline"] = state
        .timeline
        .iter()
        .map(|entry| {
            let (kind, detail) = describe(entry.event.as_ref());
            json!({"at": time(entry.at.as_ref()), "event": kind, "detail": detail})
        })
        .collect();
    value
}

fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(column, cell)| format!("{cell:<width$}", width = widths[column]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn authorized<T>(message: T, token: &str) -> Result<tonic::Request<T>, String> {
    let mut request = tonic::Request::new(message);
    let value = MetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| "the token contains characters not allowed in a header".to_owned())?;
    request.metadata_mut().insert("authorization", value);
    // Lets the timeline say an action came from the CLI.
    request
        .metadata_mut()
        .insert("watchkeeper-client", MetadataValue::from_static("cli"));
    Ok(request)
}

async fn execute(connection: &Connection, command: OfficerCommand) -> Result<(), String> {
    let token = connection
        .token
        .clone()
        .ok_or("a token is required: --token or WATCHKEEPER_TOKEN")?;
    let mut client: AlertConsoleClient<Channel> =
        AlertConsoleClient::connect(connection.server.clone())
            .await
            .map_err(|error| format!("cannot connect to {}: {error}", connection.server))?;
    let refused =
        |status: tonic::Status| format!("refused: {:?}: {}", status.code(), status.message());
    match command {
        OfficerCommand::Ack { alert_id } => {
            let response = client
                .acknowledge(authorized(
                    pb::AlertActionRequest {
                        alert_id: alert_id.clone(),
                    },
                    &token,
                )?)
                .await
                .map_err(refused)?
                .into_inner();
            let first = response.already_acknowledged_by.as_ref();
            if connection.json {
                say(&json!({"alert_id": response.alert_id, "already_acknowledged_by": first.map(|by| json!({"actor": by.actor, "channel": by.channel}))}).to_string());
            } else if let Some(by) = first {
                say(&format!(
                    "{alert_id} was already acknowledged by {}",
                    who(by)
                ));
            } else {
                say(&format!("acknowledged {alert_id}"));
            }
        }
        OfficerCommand::Resolve { alert_id } => {
            let response = client
                .resolve(authorized(pb::AlertActionRequest { alert_id }, &token)?)
                .await
                .map_err(refused)?
                .into_inner();
            say(&if connection.json {
                json!({"alert_id": response.alert_id}).to_string()
            } else {
                format!("resolved {}", response.alert_id)
            });
        }
        OfficerCommand::Note { alert_id, text } => {
            let response = client
                .add_note(authorized(pb::AddNoteRequest { alert_id, text }, &token)?)
                .await
                .map_err(refused)?
                .into_inner();
            say(&if connection.json {
                json!({"alert_id": response.alert_id}).to_string()
            } else {
                format!("note added to {}", response.alert_id)
            });
        }
        OfficerCommand::Show { alert_id } => {
            let state = client
                .get_alert(authorized(pb::GetAlertRequest { alert_id }, &token)?)
                .await
                .map_err(refused)?
                .into_inner()
                .state
                .unwrap_or_default();
            if connection.json {
                say(&full(&state).to_string());
            } else {
                let alert = state.alert.clone().unwrap_or_default();
                say(&format!(
                    "{}  {}  [{}] {}: {}\n{} {}  first seen {}  occurrences {}  incident {}  chain route {}",
                    state.alert_id,
                    status_name(state.status),
                    severity_name(alert.severity).to_uppercase(),
                    alert.office_id,
                    alert.title,
                    alert.country,
                    alert.place,
                    time(state.first_seen.as_ref()),
                    state.occurrences,
                    state.incident,
                    state.route,
                ));
                let mut rows = vec![vec!["AT".into(), "EVENT".into(), "DETAIL".into()]];
                rows.extend(state.timeline.iter().map(|entry| {
                    let (kind, detail) = describe(entry.event.as_ref());
                    vec![time(entry.at.as_ref()), kind.to_owned(), detail]
                }));
                say(&table(&rows));
            }
        }
        OfficerCommand::List {
            statuses,
            office,
            country,
            limit,
        } => {
            let statuses = statuses
                .iter()
                .map(|s| parse_status(s))
                .collect::<Result<Vec<_>, _>>()?;
            let request = pb::ListAlertsRequest {
                statuses,
                office_id: office.unwrap_or_default(),
                country: country.unwrap_or_default(),
                page_size: limit,
                ..pb::ListAlertsRequest::default()
            };
            let alerts = client
                .list_alerts(authorized(request, &token)?)
                .await
                .map_err(refused)?
                .into_inner()
                .alerts;
            if connection.json {
                say(&Value::Array(alerts.iter().map(summary).collect()).to_string());
            } else {
                let mut rows = vec![
                    [
                        "ALERT",
                        "STATUS",
                        "SEVERITY",
                        "OFFICE",
                        "COUNTRY",
                        "FIRST SEEN",
                        "TITLE",
                    ]
                    .map(String::from)
                    .to_vec(),
                ];
                rows.extend(alerts.iter().map(|state| {
                    let alert = state.alert.clone().unwrap_or_default();
                    vec![
                        state.alert_id.clone(),
                        status_name(state.status).into(),
                        severity_name(alert.severity),
                        alert.office_id,
                        alert.country,
                        time(state.first_seen.as_ref()),
                        alert.title,
                    ]
                }));
                say(&table(&rows));
            }
        }
        OfficerCommand::Watch => {
            let mut stream = client
                .watch_alerts(authorized(pb::WatchAlertsRequest {}, &token)?)
                .await
                .map_err(refused)?
                .into_inner();
            while let Some(change) = stream.message().await.map_err(refused)? {
                let state = change.state.unwrap_or_default();
                if connection.json {
                    say(&summary(&state).to_string());
                } else {
                    let alert = state.alert.clone().unwrap_or_default();
                    let last = state
                        .timeline
                        .last()
                        .map(|entry| describe(entry.event.as_ref()));
                    let (kind, detail) = last.unwrap_or(("", String::new()));
                    say(&format!(
                        "{}  {}  {:<12}  {}: {}  ({kind} {detail})",
                        time(state.last_seen.as_ref()),
                        state.alert_id,
                        status_name(state.status),
                        alert.office_id,
                        alert.title
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(crate) async fn run(connection: Connection, command: OfficerCommand) -> ExitCode {
    match execute(&connection, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
