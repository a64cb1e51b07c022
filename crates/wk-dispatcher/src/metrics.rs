//! The dispatcher's metrics, named in one place. Recorded through the `metrics` facade; the
//! binary installs the Prometheus recorder.

use std::time::Duration;

/// An escalation held back by a silence: the steps it would fire are not (counted once per
/// hold, at trigger or mid-chain).
pub(crate) fn silenced_step() {
    metrics::counter!("watchkeeper_silence_suppressed_escalations_total").increment(1);
}

/// A silence that held an escalation ended (or was expired early).
pub(crate) fn silence_released() {
    metrics::counter!("watchkeeper_silence_releases_total").increment(1);
}

/// Silences in force, and open alerts they hold back.
pub(crate) fn silences(active: usize, holding: usize) {
    metrics::gauge!("watchkeeper_silences_active").set(active as f64);
    metrics::gauge!("watchkeeper_open_alerts_silenced").set(holding as f64);
}

pub(crate) fn step_fired() {
    metrics::counter!("watchkeeper_escalation_steps_fired_total").increment(1);
}

/// A notification's final outcome (`delivered` or `given_up`) and how long it took.
pub(crate) fn delivery(
    channel: &'static str,
    console: &str,
    outcome: &'static str,
    elapsed: Duration,
) {
    let labels = [
        ("channel", channel.to_owned()),
        ("console", console.to_owned()),
        ("outcome", outcome.to_owned()),
    ];
    metrics::counter!("watchkeeper_deliveries_total", &labels).increment(1);
    metrics::histogram!("watchkeeper_delivery_latency_seconds", &labels)
        .record(elapsed.as_secs_f64());
}

pub(crate) fn failover(from: &str, to: &str) {
    metrics::counter!("watchkeeper_failovers_total", "from" => from.to_owned(), "to" => to.to_owned())
        .increment(1);
}

/// A notification parked: its console could not be reached; it waits and fails over.
pub(crate) fn parked(console: &str) {
    metrics::counter!("watchkeeper_notifications_parked_total", "console" => console.to_owned())
        .increment(1);
}

/// A notification finally given up (`refused`: a permanent refusal; `horizon`: not delivered
/// in time); the escalation then tells a human.
pub(crate) fn given_up(channel: &'static str, reason: &'static str) {
    metrics::counter!(
        "watchkeeper_notifications_given_up_total",
        "channel" => channel,
        "reason" => reason
    )
    .increment(1);
}

/// An open alert updated by its office (severity raised, title or description changed).
pub(crate) fn updated() {
    metrics::counter!("watchkeeper_alerts_updated_total").increment(1);
}

/// An acknowledgement or resolution issued for another incident, refused.
pub(crate) fn action_refused() {
    metrics::counter!("watchkeeper_actions_refused_total").increment(1);
}

pub(crate) fn dead_letter() {
    metrics::counter!("watchkeeper_dead_letters_total").increment(1);
}

pub(crate) fn time_to_acknowledge(elapsed: Duration) {
    metrics::histogram!("watchkeeper_time_to_acknowledge_seconds").record(elapsed.as_secs_f64());
}

/// Open alerts held by this dispatcher, by status.
pub(crate) fn open_alerts(triggered: usize, acknowledged: usize) {
    metrics::gauge!("watchkeeper_open_alerts", "status" => "triggered").set(triggered as f64);
    metrics::gauge!("watchkeeper_open_alerts", "status" => "acknowledged").set(acknowledged as f64);
}

/// Escalation timers armed, and changelog writes not yet acknowledged (queued or changed
/// since the last flush): both should follow the load, not grow without bound.
pub(crate) fn backlog(armed_timers: usize, pending_writes: usize) {
    metrics::gauge!("watchkeeper_armed_timers").set(armed_timers as f64);
    metrics::gauge!("watchkeeper_changelog_writes_pending").set(pending_writes as f64);
}

/// Machines held live, held packed (`Store::sweep`) and let go (`Store::let_go`).
pub(crate) fn machines((live, packed, away): (usize, usize, usize)) {
    metrics::gauge!("watchkeeper_machines_held", "form" => "live").set(live as f64);
    metrics::gauge!("watchkeeper_machines_held", "form" => "packed").set(packed as f64);
    metrics::gauge!("watchkeeper_machines_held", "form" => "away").set(away as f64);
}

pub(crate) fn produce_error() {
    metrics::counter!("watchkeeper_kafka_produce_errors_total", "client" => "dispatcher")
        .increment(1);
}

/// A check-in applied to its office's watch, by how it arrived.
pub(crate) fn check_in(channel: wk_core::watch::Channel) {
    metrics::counter!("watchkeeper_check_ins_applied_total", "channel" => channel.as_str())
        .increment(1);
}

/// Watched offices this dispatcher holds, by state (every state, zeros included).
pub(crate) fn offices(by_status: &std::collections::HashMap<wk_core::watch::Status, u64>) {
    for status in wk_core::watch::Status::ALL {
        let count = by_status.get(&status).copied().unwrap_or(0);
        metrics::gauge!("watchkeeper_offices", "state" => status.as_str()).set(count as f64);
    }
}

/// A silence alert published for an office gone down.
pub(crate) fn silence_alert_raised() {
    metrics::counter!("watchkeeper_office_silence_alerts_total").increment(1);
}
