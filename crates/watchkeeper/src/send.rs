//! `watchkeeper send`: a field office's client. Builds one alert from flags or a JSON file,
//! submits it with the office token, and prints the outcome (field violations included).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Deserialize;
use tonic_types::StatusExt as _;
use wk_core::alert::{Category, Severity};
use wk_proto::convert::{category_to_pb, severity_to_pb};
use wk_proto::v1 as pb;
use wk_proto::v1::alert_ingest_client::AlertIngestClient;

use crate::officer::{Connection, authorized};

#[derive(clap::Args)]
pub(crate) struct SendArgs {
    /// The api's address.
    #[arg(
        long,
        env = "WATCHKEEPER_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// The office's bearer token.
    #[arg(long, env = "WATCHKEEPER_TOKEN", hide_env_values = true)]
    token: String,
    /// Read the alert from this JSON file (fields as in proto/watchkeeper/v1/alert.proto).
    #[arg(long, conflicts_with_all = ["office", "title"])]
    file: Option<PathBuf>,
    #[arg(long, required_unless_present = "file")]
    office: Option<String>,
    /// info, warning, critical or emergency.
    #[arg(long, default_value = "warning")]
    severity: String,
    /// security_incident, abduction, armed_conflict, civil_unrest, crime, natural_hazard,
    /// medical, travel_safety, infrastructure or other.
    #[arg(long, default_value = "security_incident")]
    category: String,
    #[arg(long, required_unless_present = "file")]
    title: Option<String>,
    #[arg(long, default_value = "")]
    description: String,
    /// ISO 3166-1 alpha-2.
    #[arg(long, default_value = "")]
    country: String,
    #[arg(long, default_value = "")]
    place: String,
    #[arg(long, requires = "longitude", allow_hyphen_values = true)]
    latitude: Option<f64>,
    #[arg(long, requires = "latitude", allow_hyphen_values = true)]
    longitude: Option<f64>,
    /// RFC 3339; now when omitted.
    #[arg(long)]
    occurred_at: Option<String>,
    #[arg(long, default_value_t = 0)]
    staff_affected: u32,
    #[arg(long, default_value = "")]
    dedup_key: String,
    /// key=value, repeatable.
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, String)>,
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{text:?} is not key=value"))
}

/// The JSON file form of an alert.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertFile {
    office_id: String,
    severity: String,
    category: String,
    title: String,
    #[serde(default)]
    description: String,
    country: String,
    place: String,
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
    #[serde(default)]
    occurred_at: Option<String>,
    #[serde(default)]
    staff_affected: u32,
    #[serde(default)]
    dedup_key: String,
    #[serde(default)]
    labels: HashMap<String, String>,
}

fn enum_value<T: std::str::FromStr<Err = String>>(text: &str, to_pb: impl Fn(T) -> i32) -> i32 {
    // Unknown names are sent as UNSPECIFIED so the server names the field in its answer.
    text.parse::<T>().map_or(0, to_pb)
}

fn occurred_at(text: Option<&str>) -> Result<prost_types::Timestamp, String> {
    match text {
        Some(text) => text
            .parse::<prost_types::Timestamp>()
            .map_err(|_| format!("occurred_at {text:?} is not an RFC 3339 time")),
        None => Ok(prost_types::Timestamp::from(std::time::SystemTime::now())),
    }
}

fn build_alert(args: &SendArgs) -> Result<pb::Alert, String> {
    let file: AlertFile = match &args.file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            serde_json::from_str(&text).map_err(|error| format!("{}: {error}", path.display()))?
        }
        None => AlertFile {
            office_id: args.office.clone().unwrap_or_default(),
            severity: args.severity.clone(),
            category: args.category.clone(),
            title: args.title.clone().unwrap_or_default(),
            description: args.description.clone(),
            country: args.country.clone(),
            place: args.place.clone(),
            latitude: args.latitude,
            longitude: args.longitude,
            occurred_at: args.occurred_at.clone(),
            staff_affected: args.staff_affected,
            dedup_key: args.dedup_key.clone(),
            labels: args.labels.iter().cloned().collect(),
        },
    };
    Ok(pb::Alert {
        office_id: file.office_id,
        severity: enum_value::<Severity>(&file.severity, |s| severity_to_pb(s) as i32),
        category: enum_value::<Category>(&file.category, |c| category_to_pb(c) as i32),
        title: file.title,
        description: file.description,
        country: file.country,
        place: file.place,
        coordinates: match (file.latitude, file.longitude) {
            (Some(latitude), Some(longitude)) => Some(pb::Coordinates {
                latitude,
                longitude,
            }),
            _ => None,
        },
        occurred_at: Some(occurred_at(file.occurred_at.as_deref())?),
        staff_affected: file.staff_affected,
        dedup_key: file.dedup_key,
        labels: file.labels,
        origin: None,
    })
}

pub(crate) fn say(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `message` with the office's token, and a client of the api: what every field-office
/// command starts with. On failure, what it printed and the exit code to end with.
pub(crate) async fn office_request<T>(
    connection: &Connection,
    message: Result<T, String>,
) -> Result<
    (
        AlertIngestClient<tonic::transport::Channel>,
        tonic::Request<T>,
    ),
    ExitCode,
> {
    let request = message.and_then(|message| {
        let token = connection
            .token
            .as_deref()
            .ok_or("a field-office token is required: --token or WATCHKEEPER_TOKEN")?;
        authorized(message, token)
    });
    let request = request.map_err(|error| {
        eprintln!("{error}");
        ExitCode::from(crate::EXIT_USAGE)
    })?;
    let client = AlertIngestClient::connect(connection.server.clone())
        .await
        .map_err(|error| {
            eprintln!("cannot connect to {}: {error}", connection.server);
            ExitCode::from(69) // EX_UNAVAILABLE
        })?;
    Ok((client, request))
}

pub(crate) async fn run(connection: Connection, args: SendArgs) -> ExitCode {
    let message = build_alert(&args).map(|alert| pb::SubmitAlertRequest { alert: Some(alert) });
    let (mut client, request) = match office_request(&connection, message).await {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    match client.submit_alert(request).await {
        Ok(response) => {
            let response = response.into_inner();
            if connection.json {
                say(&serde_json::json!({
                    "alert_id": response.alert_id,
                    "duplicate": response.duplicate,
                    "updated": response.updated,
                })
                .to_string());
            } else {
                let duplicate = match (response.duplicate, response.updated) {
                    (true, true) => " (updated the open alert: notified again)",
                    (true, false) => " (duplicate of an open alert)",
                    _ => "",
                };
                say(&format!("accepted alert {}{duplicate}", response.alert_id));
            }
            ExitCode::SUCCESS
        }
        Err(status) => refused(connection.json, &status),
    }
}

/// Prints a refusal (with its field violations) and fails.
pub(crate) fn refused(json: bool, status: &tonic::Status) -> ExitCode {
    let violations: Vec<(String, String)> = status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default();
    if json {
        let fields: Vec<_> = violations
            .iter()
            .map(|(field, description)| serde_json::json!({"field": field, "description": description}))
            .collect();
        say(&serde_json::json!({"code": format!("{:?}", status.code()), "message": status.message(), "field_violations": fields}).to_string());
    } else {
        eprintln!("refused: {:?}: {}", status.code(), status.message());
        for (field, description) in &violations {
            eprintln!("  {field}: {description}");
        }
    }
    ExitCode::FAILURE
}
