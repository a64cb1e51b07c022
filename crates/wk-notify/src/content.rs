//! What a notification says: the webhook's JSON body and the email's subject, plain-text and
//! HTML parts. Every alert field appears in each.

use std::fmt::Write as _;

use serde_json::json;
use wk_core::Alert;
use wk_core::state::AlertState;

/// The webhook body for an alert's notification `delivery_id`.
pub fn webhook_body(state: &AlertState, delivery_id: &str) -> Vec<u8> {
    let alert = &state.alert;
    let body = json!({
        "type": "alert.raised",
        "delivery_id": delivery_id,
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
            "labels": alert.labels,
        },
        "first_seen": state.first_seen.to_string(),
        "occurrences": state.occurrences,
    });
    // Serialising a `serde_json::Value` cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `[CRITICAL] ng-maiduguri: Armed men at the compound gate`
pub fn email_subject(alert: &Alert) -> String {
    format!(
        "[{}] {}: {}",
        alert.severity.label(),
        alert.office_id,
        alert.title
    )
}

/// The alert's fields as (label, value) rows, shared by both email parts.
fn rows(state: &AlertState) -> Vec<(&'static str, String)> {
    let alert = &state.alert;
    let country = match alert.country_name() {
        Some(name) => format!("{name} ({})", alert.country),
        None => alert.country.clone(),
    };
    let mut rows = vec![
        ("Severity", alert.severity.label().to_owned()),
        ("Category", alert.category.label().to_owned()),
        ("Office", alert.office_id.clone()),
        ("Title", alert.title.clone()),
        ("Country", country),
        ("Place", alert.place.clone()),
        (
            "Coordinates",
            alert.coordinates.map_or_else(
                || "not given".to_owned(),
                |c| format!("{:.5}, {:.5}", c.latitude, c.longitude),
            ),
        ),
        ("Occurred at", alert.occurred_at.to_string()),
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
    rows.push(("First seen", state.first_seen.to_string()));
    rows.push(("Alert id", alert.id.to_string()));
    rows
}

pub fn email_text(state: &AlertState) -> String {
    let mut text = String::new();
    for (label, value) in rows(state) {
        let _ = writeln!(text, "{label}: {value}");
    }
    let _ = write!(text, "\nDescription:\n{}\n", state.alert.description);
    text
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

pub fn email_html(state: &AlertState) -> String {
    let mut html =
        String::from("<!DOCTYPE html><html><body style=\"font-family:sans-serif\">\n<table>\n");
    for (label, value) in rows(state) {
        let _ = writeln!(
            html,
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape(label),
            escape(&value)
        );
    }
    let _ = write!(
        html,
        "</table>\n<h3>Description</h3>\n<pre style=\"white-space:pre-wrap\">{}</pre>\n</body></html>\n",
        escape(&state.alert.description)
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use wk_core::Timestamp;
    use wk_core::alert::{AlertId, Category, Coordinates, Severity};
    use wk_core::state::Target;

    fn state() -> AlertState {
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        let alert = Alert {
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
            occurred_at: now,
            staff_affected: 12,
            dedup_key: Some("gate".into()),
            labels: [("team".to_owned(), "wash".to_owned())].into(),
        };
        AlertState::open(
            alert,
            &[Target::Webhook {
                console: "manila".into(),
            }],
            now,
            0,
        )
    }

    #[test]
    fn every_field_appears_in_each_part() {
        let state = state();
        let text = email_text(&state);
        let html = email_html(&state);
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
            &state.alert.id.to_string(),
        ] {
            assert!(text.contains(needle), "text lacks {needle}");
            assert!(html.contains(needle), "html lacks {needle}");
        }
        assert!(text.contains("Two vehicles & no injuries"));
        assert!(html.contains("Armed men &lt;at&gt; the gate"));
        assert!(html.contains("Two vehicles &amp; no injuries"));
        assert_eq!(
            email_subject(&state.alert),
            "[CRITICAL] ng-maiduguri: Armed men <at> the gate"
        );
    }

    #[test]
    fn webhook_body_is_json_with_the_alert() {
        let state = state();
        let body: serde_json::Value = serde_json::from_slice(&webhook_body(&state, "d-1")).unwrap();
        assert_eq!(body["delivery_id"], "d-1");
        assert_eq!(body["alert"]["severity"], "critical");
        assert_eq!(body["alert"]["coordinates"]["latitude"], 11.85);
        assert_eq!(body["alert"]["labels"]["team"], "wash");
    }
}
