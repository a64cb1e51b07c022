//! What a notification says: the webhook's JSON body and the email's subject, plain-text and
//! HTML parts. Every alert field appears in each.

use std::fmt::Write as _;

use serde_json::json;
use wk_core::escalation::{Purpose, Recipient};
use wk_core::{Alert, Timestamp};

/// What one notification is about: the alert, and where in its escalation it stands.
pub struct Context<'a> {
    pub alert: &'a Alert,
    pub notification_id: &'a str,
    pub purpose: &'a Purpose,
    pub incident: u32,
    pub first_seen: Timestamp,
    pub occurrences: u32,
    /// The recipient's own signed one-click links, for emails.
    pub links: Option<ActionLinks>,
    /// The recipient's time zone: emails give times in it as well as in UTC.
    pub time_zone: Option<&'a jiff::tz::TimeZone>,
    /// The alert's page in the web console, when its address is known.
    pub console_url: Option<String>,
}

/// One recipient's signed links to acknowledge and to resolve the alert.
pub struct ActionLinks {
    pub acknowledge: String,
    pub resolve: String,
}

impl Context<'_> {
    /// `alert.raised` for the first step, then `alert.escalated`, `alert.failover`,
    /// `alert.exhausted` (also when failed over: `failover_from` says so), `alert.updated`
    /// (the office raised the severity or changed the text) or `alert.undeliverable` (another
    /// notification of this alert could not be delivered), `alert.unsilenced` (a silence
    /// held it back and has ended while it is still unacknowledged).
    pub fn kind(&self) -> &'static str {
        match self.purpose {
            Purpose::Step { step: 0, round: 0 } => "alert.raised",
            Purpose::Step { .. } => "alert.escalated",
            Purpose::Failover { .. } => "alert.failover",
            Purpose::Exhausted | Purpose::ExhaustedFailover { .. } => "alert.exhausted",
            Purpose::Updated { .. } => "alert.updated",
            Purpose::Undeliverable(_) => "alert.undeliverable",
            Purpose::Informed { .. } => "alert.informed",
            Purpose::AfterSilence { .. } => "alert.unsilenced",
        }
    }

    fn situation(&self) -> Option<String> {
        match self.purpose {
            Purpose::Step { step: 0, round: 0 } => None,
            Purpose::Step { step, round } => Some(format!(
                "not acknowledged: escalation step {} (round {})",
                step + 1,
                round + 1
            )),
            Purpose::Failover { from, .. } => Some(format!("console {from} unreachable: failover")),
            Purpose::Exhausted => Some("NOT ACKNOWLEDGED: escalation chain exhausted".into()),
            Purpose::ExhaustedFailover { from } => Some(format!(
                "NOT ACKNOWLEDGED: escalation chain exhausted (console {from} unreachable: failover)"
            )),
            Purpose::Updated { changes, .. } => Some(format!("UPDATED by the office: {changes}")),
            Purpose::AfterSilence { ended, .. } => Some(format!(
                "SILENCE ENDED, still not acknowledged (silenced by {}: {})",
                ended.by, ended.comment
            )),
            Purpose::Undeliverable(undeliverable) => Some(format!(
                "COULD NOT REACH {}: {}",
                describe(&undeliverable.failed),
                undeliverable.reason
            )),
            Purpose::Informed { resolved, by, .. } => Some(format!(
                "{} by duty officer {by}",
                if *resolved {
                    "resolved"
                } else {
                    "acknowledged"
                }
            )),
        }
    }

    /// For an office's focal point: the operations centre acted on the office's alert. Who
    /// and when, and the title only (the subject and the one line of the email).
    fn informed(&self) -> Option<(String, String)> {
        let Purpose::Informed { resolved, by, at } = self.purpose else {
            return None;
        };
        let done = if *resolved {
            "resolved"
        } else {
            "acknowledged"
        };
        Some((
            format!("Your alert was {done}: {}", self.alert.title),
            format!(
                "The operations centre's duty officer {by} {done} your alert \"{}\" at {}.",
                self.alert.title,
                when(self, *at)
            ),
        ))
    }
}

/// A recipient in words, for a human.
fn describe(recipient: &Recipient) -> String {
    match recipient {
        Recipient::Webhook { console } => format!("console {console}"),
        Recipient::Email { address } => format!("the mailbox {address}"),
    }
}

/// The webhook body of a notification.
pub fn webhook_body(context: &Context<'_>) -> Vec<u8> {
    let alert = context.alert;
    let (step, round, failover_from) = match context.purpose {
        Purpose::Step { step, round }
        | Purpose::Updated { step, round, .. }
        | Purpose::AfterSilence { step, round, .. } => (Some(*step), Some(*round), None),
        Purpose::Failover { from, step, round } => (Some(*step), Some(*round), Some(from.as_str())),
        Purpose::ExhaustedFailover { from } => (None, None, Some(from.as_str())),
        Purpose::Exhausted | Purpose::Undeliverable(_) | Purpose::Informed { .. } => {
            (None, None, None)
        }
    };
    let changes = match context.purpose {
        Purpose::Updated { changes, .. } => Some(changes.as_str()),
        _ => None,
    };
    let silence = match context.purpose {
        Purpose::AfterSilence { ended, .. } => Some(json!({
            "id": ended.silence,
            "created_by": ended.by,
            "comment": ended.comment,
            "ended": true,
        })),
        _ => None,
    };
    let undeliverable = match context.purpose {
        Purpose::Undeliverable(undeliverable) => Some(json!({
            "delivery_id": undeliverable.failed_id,
            "recipient": describe(&undeliverable.failed),
            "reason": undeliverable.reason,
        })),
        _ => None,
    };
    let body = json!({
        "type": context.kind(),
        "delivery_id": context.notification_id,
        "incident": context.incident,
        "step": step,
        "round": round,
        "failover_from": failover_from,
        "changes": changes,
        "undeliverable": undeliverable,
        "silence": silence,
        "alert": {
            "id": alert.id.to_string(),
            "office_id": alert.office_id,
            "severity": alert.severity.as_str(),
            "category": alert.category.as_str(),
            "title": alert.title,
            "description": alert.description,
            "country": alert.country,
            "country_name": alert.country_name(),
            "place": alert.place,
            "coordinates": alert.coordinates.map(|c| json!({
                "latitude": c.latitude,
                "longitude": c.longitude,
            })),
            "occurred_at": alert.occurred_at.to_string(),
            "staff_affected": alert.staff_affected,
            "dedup_key": alert.dedup_key,
            // A JSON object even when empty (LiteMap's serde writes an empty map as `[]`).
            "labels": alert.labels.iter().collect::<std::collections::BTreeMap<_, _>>(),
            "origin": alert.origin.as_deref().map(|origin| json!({
                "integration": origin.integration,
                "kind": origin.kind.as_str(),
                "link": origin.link,
                "ends_at": origin.ends_at.map(|at| at.to_string()),
            })),
        },
        "first_seen": context.first_seen.to_string(),
        "occurrences": context.occurrences,
    });
    // Serialising a `serde_json::Value` cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `[CRITICAL] ng-maiduguri: Armed men at the compound gate`, followed by the situation when
/// this is not the first notification (`— not acknowledged: escalation step 2 (round 1)`).
pub fn email_subject(context: &Context<'_>) -> String {
    if let Some((subject, _)) = context.informed() {
        return subject;
    }
    let alert = context.alert;
    let mut subject = format!(
        "[{}] {}: {}",
        alert.severity.label(),
        alert.office_id,
        alert.title
    );
    if let Some(situation) = context.situation() {
        subject.push_str(" — ");
        subject.push_str(&situation);
    }
    subject
}

fn country(alert: &Alert) -> String {
    match alert.country_name() {
        Some(name) => format!("{name} ({})", alert.country),
        None => alert.country.clone(),
    }
}

/// `at` in the recipient's zone and in UTC (`2026-12-01 17:34 PST (09:34 UTC)`), or in UTC
/// alone when the recipient's zone is unknown or is UTC.
fn when(context: &Context<'_>, at: Timestamp) -> String {
    let local = context
        .time_zone
        .filter(|zone| zone.iana_name() != Some("UTC"))
        .and_then(|zone| {
            let instant = jiff::Timestamp::from_millisecond(at.as_unix_millis()).ok()?;
            let local = instant.to_zoned(zone.clone()).strftime("%Y-%m-%d %H:%M %Z");
            let utc = instant
                .to_zoned(jiff::tz::TimeZone::UTC)
                .strftime("%H:%M UTC");
            Some(format!("{local} ({utc})"))
        });
    local.unwrap_or_else(|| at.to_string())
}

/// What a person reads first: severity, title and place.
fn headline(context: &Context<'_>) -> String {
    let alert = context.alert;
    format!(
        "{}: {} — {}, {}",
        alert.severity.label().to_uppercase(),
        alert.title,
        alert.place,
        country(alert)
    )
}

/// The alert's fields as (label, value) rows, shared by both email parts.
fn rows(context: &Context<'_>) -> Vec<(&'static str, String)> {
    let alert = context.alert;
    let mut rows = vec![
        ("Severity", alert.severity.label().to_owned()),
        ("Title", alert.title.clone()),
        ("Place", alert.place.clone()),
        ("Country", country(alert)),
        ("Occurred at", when(context, alert.occurred_at)),
        ("Category", alert.category.label().to_owned()),
        ("Office", alert.office_id.clone()),
        (
            "Coordinates",
            alert.coordinates.map_or_else(
                || "not given".to_owned(),
                |c| format!("{:.5}, {:.5}", c.latitude, c.longitude),
            ),
        ),
        ("Staff affected", alert.staff_affected.to_string()),
        (
            "Dedup key",
            alert.dedup_key.clone().unwrap_or_else(|| "none".into()),
        ),
    ];
    let labels = alert
        .labels
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(", ");
    rows.push((
        "Labels",
        if labels.is_empty() {
            "none".into()
        } else {
            labels
        },
    ));
    if let Some(origin) = alert.origin.as_deref() {
        rows.push((
            "Source",
            format!("via {} ({})", origin.integration, origin.kind.label()),
        ));
        if !origin.link.is_empty() {
            rows.push(("Source link", origin.link.clone()));
        }
    }
    rows.push(("First seen", when(context, context.first_seen)));
    rows.push(("Occurrences", context.occurrences.to_string()));
    if let Some(situation) = context.situation() {
        rows.push(("Situation", situation));
    }
    rows.push(("Alert id", alert.id.to_string()));
    rows
}

pub fn email_text(context: &Context<'_>) -> String {
    if let Some((_, line)) = context.informed() {
        return format!("{line}\n\nAlert id: {}\n", context.alert.id);
    }
    let mut text = format!("{}\n\n", headline(context));
    for (label, value) in rows(context) {
        let _ = writeln!(text, "{label}: {value}");
    }
    let _ = write!(text, "\nDescription:\n{}\n", context.alert.description);
    if let Some(links) = &context.links {
        let _ = write!(
            text,
            "\nAcknowledge (stops the escalation): {}\nResolve: {}\n",
            links.acknowledge, links.resolve
        );
    }
    if let Some(url) = &context.console_url {
        let _ = writeln!(text, "Open in the console: {url}");
    }
    text
}

fn escape(text: &str) -> String {
    html_escape::encode_text(text).into_owned()
}

fn attribute(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(text).into_owned()
}

pub fn email_html(context: &Context<'_>) -> String {
    if let Some((_, line)) = context.informed() {
        return format!(
            "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">\n<p>{}</p>\n<p>Alert id: {}</p>\n</body></html>\n",
            escape(&line),
            context.alert.id
        );
    }
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\">\n<h2>{}</h2>\n<table>\n",
        escape(&headline(context))
    );
    for (label, value) in rows(context) {
        let _ = writeln!(
            html,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    }
    let _ = write!(
        html,
        "</table>\n<h3>Description</h3>\n<pre style=\"white-space:pre-wrap\">{}</pre>\n",
        escape(&context.alert.description)
    );
    if let Some(links) = &context.links {
        let _ = writeln!(
            html,
            "<p><a href=\"{}\">Acknowledge (stops the escalation)</a> &middot; <a href=\"{}\">Resolve</a></p>",
            attribute(&links.acknowledge),
            attribute(&links.resolve)
        );
    }
    if let Some(url) = &context.console_url {
        let _ = writeln!(
            html,
            "<p><a href=\"{}\">Open in the console</a></p>",
            attribute(url)
        );
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
#[path = "content_tests.rs"]
mod tests;
