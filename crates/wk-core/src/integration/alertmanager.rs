//! Alertmanager's webhook (payload version 4) and Grafana's: in its alerting form (the same
//! shape, `version` "1") one alert per entry of `alerts[]`, identified by its `fingerprint`,
//! `resolved` resolving it; in Grafana's legacy form (`ruleId`, `state`) one alert per rule.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::mapping::Entry;
use super::{Decoded, Integration, Item, Labels, MAX_ITEMS, Malformed};
use crate::time::Timestamp;
use crate::validate::FieldViolation;

#[derive(Deserialize)]
struct Webhook {
    #[serde(default)]
    alerts: Option<Vec<Alert>>,
    /// Grafana's legacy form.
    #[serde(default, rename = "ruleId")]
    rule_id: Option<serde_json::Value>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default, rename = "ruleName")]
    rule_name: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "ruleUrl")]
    rule_url: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Alert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    /// Grafana's.
    #[serde(default, rename = "panelURL")]
    panel_url: Option<String>,
}

/// Decodes an Alertmanager or Grafana webhook body for `integration` at `now`.
pub fn decode(
    integration: &Integration,
    body: &[u8],
    now: Timestamp,
) -> Result<Decoded, Malformed> {
    let webhook: Webhook = serde_json::from_slice(body).map_err(|error| Malformed::json(&error))?;
    match webhook.alerts {
        Some(alerts) => Ok(entries(integration, alerts, now)),
        None if webhook.rule_id.is_some() && webhook.state.is_some() => {
            Ok(legacy(integration, webhook, now))
        }
        None => Err(Malformed {
            field: "alerts".into(),
            message: "is required (an Alertmanager or Grafana webhook body)".into(),
        }),
    }
}

fn entries(integration: &Integration, alerts: Vec<Alert>, now: Timestamp) -> Decoded {
    let mut decoded = Decoded::default();
    if alerts.len() > MAX_ITEMS {
        decoded.errors.push(FieldViolation {
            field: "alerts".into(),
            description: format!("has {} entries, at most {MAX_ITEMS} allowed", alerts.len()),
        });
        return decoded;
    }
    for (index, alert) in alerts.into_iter().enumerate() {
        let field = format!("alerts[{index}]");
        let key = alert
            .fingerprint
            .filter(|fingerprint| !fingerprint.trim().is_empty())
            .unwrap_or_else(|| super::prometheus::fingerprint(&alert.labels));
        match alert.status.as_str() {
            "firing" => {
                let entry = Entry {
                    field,
                    key,
                    labels: alert.labels,
                    annotations: alert.annotations,
                    occurred_at: alert.starts_at.as_deref().and_then(parse_time),
                    link: alert.generator_url.or(alert.panel_url).unwrap_or_default(),
                    ..Entry::default()
                };
                match integration.draft(entry, now) {
                    Ok(draft) => decoded.items.push(Item::Trigger(Box::new(draft))),
                    Err(errors) => decoded.errors.extend(errors),
                }
            }
            "resolved" => match integration.office_for(&alert.labels, &format!("{field}.labels")) {
                Ok(office) => decoded.items.push(Item::Resolve {
                    office,
                    dedup_key: super::dedup_key(&integration.name, &key),
                }),
                Err(error) => decoded.errors.push(error),
            },
            other => decoded.errors.push(FieldViolation {
                field: format!("{field}.status"),
                description: format!(
                    "{} is not \"firing\" or \"resolved\"",
                    crate::validate::quote(other)
                ),
            }),
        }
    }
    decoded
}

/// Grafana's legacy alerting: `alerting` and `no_data` raise, `ok` resolves, `paused` and
/// `pending` change nothing.
fn legacy(integration: &Integration, webhook: Webhook, now: Timestamp) -> Decoded {
    let mut decoded = Decoded::default();
    let rule = match &webhook.rule_id {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(value) => value.to_string(),
        None => String::new(),
    };
    let key = format!("rule-{rule}");
    let labels: Labels = webhook
        .tags
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => (name, text),
            other => (name, other.to_string()),
        })
        .collect();
    match webhook.state.as_deref().unwrap_or_default() {
        "alerting" | "no_data" => {
            let entry = Entry {
                field: "body".into(),
                key,
                labels,
                title: webhook.rule_name.or(webhook.title),
                description: webhook.message,
                link: webhook.rule_url.unwrap_or_default(),
                ..Entry::default()
            };
            match integration.draft(entry, now) {
                Ok(draft) => decoded.items.push(Item::Trigger(Box::new(draft))),
                Err(errors) => decoded.errors.extend(errors),
            }
        }
        "ok" => match integration.office_for(&labels, "tags") {
            Ok(office) => decoded.items.push(Item::Resolve {
                office,
                dedup_key: super::dedup_key(&integration.name, &key),
            }),
            Err(error) => decoded.errors.push(error),
        },
        "paused" | "pending" => {}
        other => decoded.errors.push(FieldViolation {
            field: "state".into(),
            description: format!(
                "{} is not one of alerting, no_data, ok, paused, pending",
                crate::validate::quote(other)
            ),
        }),
    }
    decoded
}

/// An RFC 3339 time; `None` when absent or unreadable (Alertmanager's zero time included,
/// which the mapping treats as "not given").
pub(super) fn parse_time(text: &str) -> Option<Timestamp> {
    let at: jiff::Timestamp = text.parse().ok()?;
    Some(Timestamp::from_unix_millis(at.as_millisecond()))
}
