//! `watchkeeper check-in`: a field office says it is alive and talking (its scheduled
//! check-in), with an optional status line and position.

use std::process::ExitCode;

use wk_proto::v1 as pb;

use crate::officer::Connection;
use crate::send::{office_request, refused, say};

#[derive(clap::Args)]
pub(crate) struct CheckInArgs {
    /// The office checking in (its token's).
    #[arg(long)]
    office: String,
    /// A short status line, e.g. "all staff accounted for".
    #[arg(long, default_value = "")]
    status: String,
    #[arg(long, requires = "longitude", allow_hyphen_values = true)]
    latitude: Option<f64>,
    #[arg(long, requires = "latitude", allow_hyphen_values = true)]
    longitude: Option<f64>,
}

pub(crate) async fn run(connection: Connection, args: CheckInArgs) -> ExitCode {
    let request = pb::CheckInRequest {
        office_id: args.office,
        status: args.status,
        coordinates: args
            .latitude
            .zip(args.longitude)
            .map(|(latitude, longitude)| pb::Coordinates {
                latitude,
                longitude,
            }),
        via: "cli".into(),
    };
    let (mut client, request) = match office_request(&connection, Ok(request)).await {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    match client.check_in(request).await {
        Ok(response) => {
            let at = response
                .into_inner()
                .at
                .map(|at| at.to_string())
                .unwrap_or_default();
            if connection.json {
                say(&serde_json::json!({ "checked_in_at": at }).to_string());
            } else {
                say(&format!("checked in at {at}"));
            }
            ExitCode::SUCCESS
        }
        Err(status) => refused(connection.json, &status),
    }
}
