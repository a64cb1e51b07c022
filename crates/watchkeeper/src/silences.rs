//! `watchkeeper silences list|create|preview|expire`: duty officers' silences and
//! maintenance windows, against the `Silences` API. A table for people, `--json` for scripts.

use std::process::ExitCode;

use serde_json::json;
use wk_proto::v1 as pb;
use wk_proto::v1::silences_client::SilencesClient;

use crate::officer::{Connection, authorized};
use crate::send::{refused, say};

#[derive(clap::Args, Clone)]
pub(crate) struct SilenceArgs {
    /// Alertmanager's form, one per flag: `office="ss-juba"`, `severity=~"warning|info"`.
    #[arg(long = "match", short = 'm')]
    matchers: Vec<String>,
    /// How long it lasts, e.g. "2h" (at most silences.max_duration; for a recurring
    /// window, how long its series runs).
    #[arg(long = "for")]
    duration: Option<String>,
    /// When it starts, RFC 3339 (default now).
    #[arg(long)]
    starts: Option<String>,
    /// When it ends, RFC 3339 (instead of --for).
    #[arg(long)]
    ends: Option<String>,
    /// Why (required): the next shift reads it.
    #[arg(long)]
    comment: String,
    /// A maintenance window for this office (pauses its check-in watch too).
    #[arg(long, conflicts_with = "country")]
    office: Option<String>,
    /// A maintenance window for this country.
    #[arg(long)]
    country: Option<String>,
    /// A recurring window: five cron fields, e.g. "0 2 * * Sun", with --each.
    #[arg(long, requires = "each")]
    cron: Option<String>,
    /// How long each occurrence lasts, e.g. "2h".
    #[arg(long)]
    each: Option<String>,
    /// The zone the cron is read in (default the office's).
    #[arg(long)]
    time_zone: Option<String>,
}

#[derive(clap::Subcommand)]
pub(crate) enum SilencesCommand {
    /// Silences in force and to come (with --all, the ended ones too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Create a silence or a maintenance window.
    Create(SilenceArgs),
    /// Which open alerts a silence would match now, and which it may not silence.
    Preview(SilenceArgs),
    /// End a silence now; the alerts it held that are still open escalate from step one.
    Expire { id: String },
}

fn time(at: Option<&prost_types::Timestamp>) -> String {
    at.and_then(|at| wk_core::Timestamp::from_seconds_nanos(at.seconds, at.nanos))
        .map_or_else(|| "-".to_owned(), |at| at.to_string())
}

fn parse_time(text: &str) -> Result<prost_types::Timestamp, tonic::Status> {
    let at: jiff::Timestamp = text
        .parse()
        .map_err(|error| tonic::Status::invalid_argument(format!("{text:?}: {error}")))?;
    Ok(prost_types::Timestamp {
        seconds: at.as_second(),
        nanos: at.subsec_nanosecond(),
    })
}

fn parse_duration(text: &str) -> Result<prost_types::Duration, tonic::Status> {
    let duration =
        wk_core::config::parse_duration(text).map_err(tonic::Status::invalid_argument)?;
    Ok(prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    })
}

fn create_request(args: SilenceArgs) -> Result<pb::CreateSilenceRequest, tonic::Status> {
    let scope = match (args.office, args.country) {
        (Some(office), _) => Some(pb::maintenance_window::Scope::Office(office)),
        (None, Some(country)) => Some(pb::maintenance_window::Scope::Country(country)),
        (None, None) => None,
    };
    let maintenance = match scope {
        Some(scope) => Some(pb::MaintenanceWindow {
            scope: Some(scope),
            cron: args.cron.unwrap_or_default(),
            duration: args.each.as_deref().map(parse_duration).transpose()?,
            time_zone: args.time_zone.unwrap_or_default(),
        }),
        None if args.cron.is_some() => {
            return Err(tonic::Status::invalid_argument(
                "--cron needs --office or --country (a maintenance window)",
            ));
        }
        None => None,
    };
    Ok(pb::CreateSilenceRequest {
        matchers: args.matchers,
        starts_at: args.starts.as_deref().map(parse_time).transpose()?,
        ends_at: args.ends.as_deref().map(parse_time).transpose()?,
        duration: args.duration.as_deref().map(parse_duration).transpose()?,
        comment: args.comment,
        maintenance,
    })
}

fn row(view: &pb::SilenceView) -> serde_json::Value {
    let silence = view.silence.clone().unwrap_or_default();
    json!({
        "id": silence.id,
        "state": view.state,
        "matchers": silence.matchers,
        "starts_at": time(silence.starts_at.as_ref()),
        "ends_at": time(silence.ends_at.as_ref()),
        "active_until": view.active_until.as_ref().map(|at| time(Some(at))),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "expired_by": Some(silence.expired_by).filter(|by| !by.is_empty()),
        "maintenance": silence.maintenance.is_some(),
        "matching_open": view.matching_open,
        "last_matched": view.last_matched.as_ref().map(|at| time(Some(at))),
    })
}

fn request<T>(message: T, token: &str) -> Result<tonic::Request<T>, tonic::Status> {
    authorized(message, token).map_err(tonic::Status::invalid_argument)
}

async fn execute(connection: &Connection, command: SilencesCommand) -> Result<(), tonic::Status> {
    let token = connection.token.clone().unwrap_or_default();
    let mut client = SilencesClient::connect(connection.server.clone())
        .await
        .map_err(|error| {
            tonic::Status::unavailable(format!("cannot connect to {}: {error}", connection.server))
        })?;
    match command {
        SilencesCommand::List { all } => {
            let list = pb::ListSilencesRequest {
                include_expired: all,
            };
            let silences = client
                .list_silences(request(list, &token)?)
                .await?
                .into_inner()
                .silences;
            if connection.json {
                say(&json!(silences.iter().map(row).collect::<Vec<_>>()).to_string());
                return Ok(());
            }
            say(&format!(
                "{:<36} {:<8} {:<22} {:<5} {:<14} MATCHERS — COMMENT",
                "ID", "STATE", "ENDS (UTC)", "OPEN", "BY"
            ));
            for view in &silences {
                let silence = view.silence.clone().unwrap_or_default();
                say(&format!(
                    "{:<36} {:<8} {:<22} {:<5} {:<14} {} — {}",
                    silence.id,
                    view.state,
                    time(silence.ends_at.as_ref()),
                    view.matching_open,
                    silence.created_by,
                    silence.matchers.join(", "),
                    silence.comment,
                ));
            }
        }
        SilencesCommand::Create(args) => {
            let created = client
                .create_silence(request(create_request(args)?, &token)?)
                .await?
                .into_inner();
            let view = created.silence.unwrap_or_default();
            say(&if connection.json {
                row(&view).to_string()
            } else {
                let silence = view.silence.unwrap_or_default();
                format!(
                    "silence {} {} until {}",
                    silence.id,
                    view.state,
                    time(silence.ends_at.as_ref())
                )
            });
        }
        SilencesCommand::Preview(args) => {
            let matches = client
                .preview_silence(request(create_request(args)?, &token)?)
                .await?
                .into_inner()
                .matches;
            if connection.json {
                let rows: Vec<_> = matches
                    .iter()
                    .map(|m| json!({"alert_id": m.alert_id, "office_id": m.office_id, "severity": m.severity, "title": m.title, "never_silenced": Some(&m.never_silenced).filter(|r| !r.is_empty())}))
                    .collect();
                say(&json!(rows).to_string());
                return Ok(());
            }
            say(&format!("{} open alert(s) match", matches.len()));
            for m in &matches {
                let note = if m.never_silenced.is_empty() {
                    "would be silenced".to_owned()
                } else {
                    format!("NOT silenced: {}", m.never_silenced)
                };
                say(&format!(
                    "{}  [{}] {}: {} — {note}",
                    m.alert_id, m.severity, m.office_id, m.title
                ));
            }
        }
        SilencesCommand::Expire { id } => {
            let expired = client
                .expire_silence(request(
                    pb::ExpireSilenceRequest { id: id.clone() },
                    &token,
                )?)
                .await?
                .into_inner();
            let view = expired.silence.unwrap_or_default();
            say(&if connection.json {
                row(&view).to_string()
            } else {
                format!("silence {id} expired")
            });
        }
    }
    Ok(())
}

pub(crate) async fn run(connection: Connection, command: SilencesCommand) -> ExitCode {
    match execute(&connection, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(status) => refused(connection.json, &status),
    }
}
