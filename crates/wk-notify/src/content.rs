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
mod tests {
    use super::*;
    use wk_core::alert::{AlertId, Category, Coordinates, Severity};
    use wk_core::escalation::EndedSilence;

    fn alert() -> Alert {
        Alert {
            id: AlertId::for_dedup_key("ng-maiduguri", "gate"),
            office_id: "ng-maiduguri".into(),
            severity: Severity::Critical,
            category: Category::SecurityIncident,
            title: "Armed men <at> the gate".into(),
            description: "Two vehicles & no injuries".into(),
            country: "NG".into(),
            place: "Maiduguri".into(),
            coordinates: Some(Coordinates {
                latitude: 11.85,
                longitude: 13.16,
            }),
            occurred_at: Timestamp::from_unix_millis(1_795_000_000_000),
            staff_affected: 12,
            dedup_key: Some("gate".into()),
            labels: [("team".to_owned(), "wash".to_owned())]
                .into_iter()
                .collect(),
            origin: None,
        }
    }

    fn context<'a>(alert: &'a Alert, purpose: &'a Purpose) -> Context<'a> {
        Context {
            alert,
            notification_id: "d-1",
            purpose,
            incident: 1,
            first_seen: alert.occurred_at,
            occurrences: 1,
            links: None,
            time_zone: None,
            console_url: None,
        }
    }

    #[test]
    fn emails_lead_with_severity_title_and_place_in_the_recipients_zone() {
        let alert = alert();
        let purpose = Purpose::Step { step: 0, round: 0 };
        let manila = jiff::tz::TimeZone::get("Asia/Manila").expect("tzdb");
        let zoned = Context {
            time_zone: Some(&manila),
            console_url: Some("https://wk.example.org/console/alerts/x".into()),
            ..context(&alert, &purpose)
        };
        let text = email_text(&zoned);
        assert!(
            text.starts_with("CRITICAL: Armed men <at> the gate — Maiduguri, Nigeria (NG)\n"),
            "{text}"
        );
        // 1_795_000_000_000 ms is 2026-11-18T11:06:40Z: 19:06 in Manila.
        assert!(
            text.contains("Occurred at: 2026-11-18 19:06 PST (11:06 UTC)"),
            "{text}"
        );
        assert!(text.contains("Open in the console: https://wk.example.org/console/alerts/x"));
        let html = email_html(&zoned);
        assert!(
            html.contains("<h2>CRITICAL: Armed men &lt;at&gt; the gate"),
            "{html}"
        );
        assert!(html.contains(
            "<a href=\"https://wk.example.org/console/alerts/x\">Open in the console</a>"
        ));
        // Without a zone: UTC alone.
        let text = email_text(&context(&alert, &purpose));
        assert!(text.contains("Occurred at: 2026-11-18T11:06:40Z"), "{text}");
    }

    #[test]
    fn every_field_appears_in_each_part() {
        let alert = alert();
        let first = Purpose::Step { step: 0, round: 0 };
        let context = context(&alert, &first);
        let text = email_text(&context);
        let html = email_html(&context);
        for needle in [
            "CRITICAL",
            "Security incident",
            "ng-maiduguri",
            "Nigeria (NG)",
            "Maiduguri",
            "11.85000, 13.16000",
            "12",
            "gate",
            "team=wash",
            &alert.id.to_string(),
        ] {
            assert!(text.contains(needle), "text lacks {needle}");
            assert!(html.contains(needle), "html lacks {needle}");
        }
        assert!(text.contains("Two vehicles & no injuries"));
        assert!(html.contains("Armed men &lt;at&gt; the gate"));
        assert!(html.contains("Two vehicles &amp; no injuries"));
        assert_eq!(
            email_subject(&context),
            "[CRITICAL] ng-maiduguri: Armed men <at> the gate"
        );
    }

    #[test]
    fn later_notifications_say_why_they_are_sent() {
        let alert = alert();
        let escalated = Purpose::Step { step: 1, round: 0 };
        assert!(
            email_subject(&context(&alert, &escalated))
                .ends_with("— not acknowledged: escalation step 2 (round 1)")
        );
        let failover = Purpose::Failover {
            from: "manila".into(),
            step: 0,
            round: 0,
        };
        assert!(
            email_text(&context(&alert, &failover))
                .contains("Situation: console manila unreachable: failover")
        );
        let body: serde_json::Value =
            serde_json::from_slice(&webhook_body(&context(&alert, &failover))).unwrap();
        assert_eq!(body["type"], "alert.failover");
        assert_eq!(body["failover_from"], "manila");
        assert_eq!(body["step"], 0);
        assert_eq!(
            context(&alert, &Purpose::Exhausted).kind(),
            "alert.exhausted"
        );
    }

    #[test]
    fn a_notification_after_a_silence_says_it_comes_from_an_ended_silence() {
        let alert = alert();
        let after = Purpose::AfterSilence {
            step: 0,
            round: 1,
            ended: Box::new(EndedSilence {
                silence: "019a-silence".into(),
                by: "maria.santos".into(),
                comment: "generator test".into(),
            }),
        };
        let subject = email_subject(&context(&alert, &after));
        assert!(
            subject.ends_with(
                "— SILENCE ENDED, still not acknowledged (silenced by maria.santos: generator test)"
            ),
            "{subject}"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&webhook_body(&context(&alert, &after))).unwrap();
        assert_eq!(body["type"], "alert.unsilenced");
        assert_eq!(body["step"], 0);
        assert_eq!(body["silence"]["id"], "019a-silence");
        assert_eq!(body["silence"]["created_by"], "maria.santos");
    }

    #[test]
    fn emails_carry_the_recipients_links() {
        let alert = alert();
        let first = Purpose::Step { step: 0, round: 0 };
        let mut context = context(&alert, &first);
        context.links = Some(ActionLinks {
            acknowledge: "https://wk.example.org/a/x/acknowledge?r=a&e=1&s=ff".into(),
            resolve: "https://wk.example.org/a/x/resolve?r=a&e=1&s=ee".into(),
        });
        assert!(email_text(&context).contains("Acknowledge (stops the escalation): https://wk.example.org/a/x/acknowledge?r=a&e=1&s=ff"));
        let html = email_html(&context);
        assert!(
            html.contains("href=\"https://wk.example.org/a/x/acknowledge?r=a&amp;e=1&amp;s=ff\"")
        );
        // The links are inside the document, not after it.
        let link = html.find("Acknowledge (stops").unwrap();
        assert!(link < html.find("</body></html>").unwrap());
        assert!(html.trim_end().ends_with("</body></html>"));
    }

    #[test]
    fn webhook_body_is_json_with_the_alert() {
        let alert = alert();
        let first = Purpose::Step { step: 0, round: 0 };
        let body: serde_json::Value =
            serde_json::from_slice(&webhook_body(&context(&alert, &first))).unwrap();
        assert_eq!(body["type"], "alert.raised");
        assert_eq!(body["delivery_id"], "d-1");
        assert_eq!(body["alert"]["severity"], "critical");
        assert_eq!(body["alert"]["coordinates"]["latitude"], 11.85);
        assert_eq!(body["alert"]["labels"]["team"], "wash");
    }

    #[test]
    fn a_focal_point_learns_who_acted_and_when_with_the_title_only() {
        let alert = alert();
        let purpose = Purpose::Informed {
            resolved: false,
            by: "maria.santos".into(),
            at: Timestamp::from_unix_millis(1_795_000_060_000),
        };
        let context = context(&alert, &purpose);
        assert_eq!(
            email_subject(&context),
            "Your alert was acknowledged: Armed men <at> the gate"
        );
        let text = email_text(&context);
        assert!(
            text.starts_with(
                "The operations centre's duty officer maria.santos acknowledged your alert \"Armed men <at> the gate\" at 2026-11-18T"
            ),
            "{text}"
        );
        for hidden in ["Two vehicles", "11.85", "wash", "Acknowledge (stops"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
            assert!(!email_html(&context).contains(hidden), "{hidden}");
        }
        assert!(email_html(&context).contains("Armed men &lt;at&gt; the gate"));
    }
}
