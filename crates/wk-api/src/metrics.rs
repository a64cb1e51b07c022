//! The api's metrics, named in one place. Recorded through the `metrics` facade; the binary
//! installs the Prometheus recorder.

use std::time::Duration;

/// An ingest submission's outcome: `accepted`, `duplicate` or the gRPC code name.
pub(crate) fn alert_received(office: &str, severity: &str, outcome: &'static str) {
    metrics::counter!(
        "watchkeeper_alerts_received_total",
        "office" => office.to_owned(),
        "severity" => severity.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// A silence `created` or `expired` early.
pub(crate) fn silence(what: &'static str) {
    metrics::counter!("watchkeeper_silences_total", "action" => what).increment(1);
}

/// Alerts refused by the office's rate limit, before validation (so severity unknown).
pub(crate) fn rate_limited(office: &str, alerts: usize) {
    metrics::counter!(
        "watchkeeper_alerts_received_total",
        "office" => office.to_owned(),
        "severity" => "unchecked",
        "outcome" => "rate_limited"
    )
    .increment(u64::try_from(alerts).unwrap_or(u64::MAX));
}

/// From request to the broker's acknowledgement (or refusal).
pub(crate) fn ingest_latency(elapsed: Duration) {
    metrics::histogram!("watchkeeper_ingest_latency_seconds").record(elapsed.as_secs_f64());
}

pub(crate) fn produce_error() {
    metrics::counter!("watchkeeper_kafka_produce_errors_total", "client" => "api").increment(1);
}

pub(crate) fn in_flight(count: usize) {
    metrics::gauge!("watchkeeper_kafka_produce_in_flight").set(count as f64);
}

pub(crate) fn officer_action(action: &'static str, channel: &str) {
    metrics::counter!(
        "watchkeeper_officer_actions_total",
        "action" => action,
        "channel" => channel.to_owned()
    )
    .increment(1);
}

/// A check-in accepted, by how it arrived (`grpc`, `http`, `cli`, `alert`).
pub(crate) fn check_in(channel: &'static str) {
    metrics::counter!("watchkeeper_check_ins_total", "channel" => channel).increment(1);
}

/// A request from an integration, by its outcome (`accepted`, `invalid`, `unauthenticated`,
/// `rate_limited`, `unavailable`), and the alerts and actions it carried.
pub(crate) fn integration_request(integration: &str, outcome: &'static str, items: usize) {
    metrics::counter!(
        "watchkeeper_integration_requests_total",
        "integration" => integration.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
    metrics::counter!(
        "watchkeeper_integration_items_total",
        "integration" => integration.to_owned(),
        "outcome" => outcome
    )
    .increment(u64::try_from(items).unwrap_or(u64::MAX));
}
