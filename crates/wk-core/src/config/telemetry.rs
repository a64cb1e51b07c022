//! `[telemetry]`: where `/metrics`, `/healthz` and `/readyz` listen, and OTLP trace export.

use std::net::SocketAddr;

use serde::Deserialize;

use super::Errors;

/// Where spans go: an OpenTelemetry collector's OTLP/HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The traces URL, `<otlp_endpoint>/v1/traces`.
    pub traces_url: url::Url,
    /// `service.name` of the exported spans (the role is added as `watchkeeper.role`).
    pub service_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTelemetry {
    #[serde(default)]
    pub(super) listen: Option<String>,
    /// The collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318`.
    #[serde(default)]
    pub(super) otlp_endpoint: Option<String>,
    #[serde(default = "default_service_name")]
    pub(super) service_name: String,
}

pub(super) fn default_service_name() -> String {
    "watchkeeper".to_owned()
}

pub(super) fn check(
    raw_telemetry: Option<RawTelemetry>,
    errors: &mut Errors,
) -> (Option<SocketAddr>, Option<OtlpConfig>) {
    let telemetry = raw_telemetry.unwrap_or(RawTelemetry {
        listen: None,
        otlp_endpoint: None,
        service_name: default_service_name(),
    });
    let telemetry_listen = telemetry.listen.and_then(|listen| {
        listen
            .parse::<SocketAddr>()
            .map_err(|_| {
                errors.push(
                    "telemetry.listen",
                    format!("{listen:?} is not an address such as 0.0.0.0:9090"),
                )
            })
            .ok()
    });
    let otlp = telemetry
        .otlp_endpoint
        .filter(|endpoint| !endpoint.is_empty())
        .and_then(|endpoint| {
            let traces_url = url::Url::parse(&endpoint)
                .ok()
                .filter(|url| {
                    matches!(url.scheme(), "http" | "https")
                        && url.host().is_some()
                        && url.query().is_none()
                })
                .and_then(|url| {
                    let base = url.as_str().trim_end_matches('/');
                    url::Url::parse(&format!("{base}/v1/traces")).ok()
                });
            if traces_url.is_none() {
                errors.push(
                    "telemetry.otlp_endpoint",
                    format!(
                        "{endpoint:?} is not a collector's base URL such as http://otel-collector:4318"
                    ),
                );
            }
            if telemetry.service_name.trim().is_empty() {
                errors.push("telemetry.service_name", "must not be empty");
            }
            Some(OtlpConfig {
                traces_url: traces_url?,
                service_name: telemetry.service_name,
            })
        });
    (telemetry_listen, otlp)
}
