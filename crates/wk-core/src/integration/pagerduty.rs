//! PagerDuty's Events API v2 (`POST /v2/enqueue`), as PagerDuty documents it: the
//! `routing_key` in the body names the integration; `trigger` raises (or folds into) the
//! alert of its `dedup_key`, one being made up and returned when the sender gave none;
//! `acknowledge` and `resolve` act on the alert of their `dedup_key` (an unknown one is
//! dropped by the dispatcher); a trigger after a resolve opens a new incident.

use serde::Deserialize;

use super::alertmanager::parse_time;
use super::mapping::Entry;
use super::{Integration, Item, Labels, Malformed};
use crate::time::Timestamp;
use crate::validate::FieldViolation;

/// PagerDuty's limit on `payload.summary`.
pub const SUMMARY_CHARS: usize = 1_024;
/// PagerDuty's limit on `dedup_key`.
pub const DEDUP_KEY_CHARS: usize = 255;

/// A decoded event, before its integration is known.
#[derive(Deserialize)]
pub struct Event {
    #[serde(default)]
    routing_key: String,
    #[serde(default)]
    event_action: String,
    #[serde(default)]
    dedup_key: Option<String>,
    #[serde(default)]
    payload: Option<Payload>,
    #[serde(default)]
    client_url: Option<String>,
    #[serde(default)]
    links: Vec<Link>,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    component: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    custom_details: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Link {
    #[serde(default)]
    href: String,
}

/// Decodes an Events v2 body.
pub fn parse(body: &[u8]) -> Result<Event, Malformed> {
    serde_json::from_slice(body).map_err(|error| Malformed::json(&error))
}

fn missing(field: &str) -> FieldViolation {
    FieldViolation {
        field: field.into(),
        description: "is missing or blank".into(),
    }
}

impl Event {
    /// The key naming the integration.
    pub fn routing_key(&self) -> &str {
        &self.routing_key
    }

    /// The event's item for `integration` and the dedup key to answer with; `generated` is
    /// the key of a trigger that came without one. Every problem is named, PagerDuty's way.
    pub fn item(
        self,
        integration: &Integration,
        generated: String,
        now: Timestamp,
    ) -> Result<(Item, String), Vec<FieldViolation>> {
        let dedup_key = self.dedup_key.filter(|key| !key.trim().is_empty());
        if dedup_key
            .as_ref()
            .is_some_and(|key| key.chars().count() > DEDUP_KEY_CHARS)
        {
            return Err(vec![FieldViolation {
                field: "dedup_key".into(),
                description: format!("is longer than {DEDUP_KEY_CHARS} characters"),
            }]);
        }
        match self.event_action.as_str() {
            "trigger" => {
                let payload = self.payload.ok_or_else(|| vec![missing("payload")])?;
                let mut errors = Vec::new();
                let summary = payload.summary.filter(|text| !text.trim().is_empty());
                match &summary {
                    None => errors.push(missing("payload.summary")),
                    Some(text) if text.chars().count() > SUMMARY_CHARS => {
                        errors.push(FieldViolation {
                            field: "payload.summary".into(),
                            description: format!("is longer than {SUMMARY_CHARS} characters"),
                        });
                    }
                    Some(_) => {}
                }
                let source = payload.source.filter(|text| !text.trim().is_empty());
                if source.is_none() {
                    errors.push(missing("payload.source"));
                }
                match payload.severity.as_deref() {
                    Some("critical" | "error" | "warning" | "info") => {}
                    Some(other) => errors.push(FieldViolation {
                        field: "payload.severity".into(),
                        description: format!(
                            "{} is not one of critical, error, warning, info",
                            crate::validate::quote(other)
                        ),
                    }),
                    None => errors.push(missing("payload.severity")),
                }
                if !errors.is_empty() {
                    return Err(errors);
                }
                let key = dedup_key.unwrap_or(generated);
                let mut labels = Labels::new();
                for (name, value) in [
                    ("source", source),
                    ("component", payload.component),
                    ("group", payload.group),
                    ("class", payload.class),
                ] {
                    if let Some(value) = value.filter(|value| !value.is_empty()) {
                        labels.insert(name.to_owned(), value);
                    }
                }
                let details = payload.custom_details;
                let entry = Entry {
                    field: "payload".into(),
                    key: key.clone(),
                    labels,
                    office_labels: Some(string_entries(details.as_ref())),
                    severity: payload.severity,
                    title: summary,
                    description: Some(describe(details.as_ref())),
                    occurred_at: payload.timestamp.as_deref().and_then(parse_time),
                    link: self
                        .client_url
                        .filter(|url| !url.is_empty())
                        .or_else(|| self.links.into_iter().map(|link| link.href).next())
                        .unwrap_or_default(),
                    ..Entry::default()
                };
                let draft = integration.draft(entry, now)?;
                Ok((Item::Trigger(Box::new(draft)), key))
            }
            action @ ("acknowledge" | "resolve") => {
                let key = dedup_key.ok_or_else(|| vec![missing("dedup_key")])?;
                // The office comes from the trigger's details, which an acknowledge does not
                // carry: a label-routed integration finds it in the payload, if sent.
                let details = self.payload.and_then(|payload| payload.custom_details);
                let office = integration
                    .office_for(&string_entries(details.as_ref()), "payload.custom_details")
                    .map_err(|error| vec![error])?;
                let dedup_key = super::dedup_key(&integration.name, &key);
                let item = if action == "acknowledge" {
                    Item::Acknowledge { office, dedup_key }
                } else {
                    Item::Resolve { office, dedup_key }
                };
                Ok((item, key))
            }
            "" => Err(vec![missing("event_action")]),
            other => Err(vec![FieldViolation {
                field: "event_action".into(),
                description: format!(
                    "{} is not one of trigger, acknowledge, resolve",
                    crate::validate::quote(other)
                ),
            }]),
        }
    }
}

/// The string entries of `custom_details`, when it is an object.
fn string_entries(details: Option<&serde_json::Value>) -> Labels {
    details
        .and_then(serde_json::Value::as_object)
        .map(|object| {
            object
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `custom_details` as readable text: `name: value` lines for an object, else its JSON.
fn describe(details: Option<&serde_json::Value>) -> String {
    match details {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Object(object)) => object
            .iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(text) => format!("{name}: {text}"),
                other => format!("{name}: {other}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(other) => other.to_string(),
    }
}
