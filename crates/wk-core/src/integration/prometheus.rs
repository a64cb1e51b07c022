//! Alertmanager's API v2, `POST /api/v2/alerts`, as Prometheus sends to its Alertmanagers: a
//! JSON array of alerts whose labels are their identity. `endsAt` is a deadline: Prometheus
//! sends a firing alert again every minute with a later one, so an alert whose deadline
//! passes without a re-send is resolved (the escalation's expiry timer); a missing `endsAt`
//! is now plus the integration's resolve timeout; an `endsAt` already past resolves it now.

use serde::Deserialize;

use super::alertmanager::parse_time;
use super::mapping::Entry;
use super::{Decoded, Integration, Item, Labels, MAX_ITEMS, Malformed};
use crate::time::Timestamp;
use crate::validate::FieldViolation;

#[derive(Deserialize)]
struct PostableAlert {
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    annotations: Labels,
    #[serde(default, rename = "startsAt")]
    starts_at: Option<String>,
    #[serde(default, rename = "endsAt")]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
}

/// Decodes a `POST /api/v2/alerts` body for `integration` at `now`.
pub fn decode(
    integration: &Integration,
    body: &[u8],
    now: Timestamp,
) -> Result<Decoded, Malformed> {
    let alerts: Vec<PostableAlert> =
        serde_json::from_slice(body).map_err(|error| Malformed::json(&error))?;
    let mut decoded = Decoded::default();
    if alerts.len() > MAX_ITEMS {
        decoded.errors.push(FieldViolation {
            field: "body".into(),
            description: format!("has {} alerts, at most {MAX_ITEMS} allowed", alerts.len()),
        });
        return Ok(decoded);
    }
    let timeout = i64::try_from(integration.resolve_timeout.as_millis()).unwrap_or(i64::MAX);
    for (index, alert) in alerts.into_iter().enumerate() {
        let field = format!("[{index}]");
        if alert.labels.is_empty() {
            decoded.errors.push(FieldViolation {
                field: format!("{field}.labels"),
                description: "must not be empty: the labels are the alert's identity".into(),
            });
            continue;
        }
        let key = fingerprint(&alert.labels);
        let ends_at = alert
            .ends_at
            .as_deref()
            .and_then(parse_time)
            .filter(|at| at.as_unix_millis() > 0)
            .unwrap_or_else(|| now.saturating_add_millis(timeout));
        if ends_at <= now {
            match integration.office_for(&alert.labels, &format!("{field}.labels")) {
                Ok(office) => decoded.items.push(Item::Resolve {
                    office,
                    dedup_key: super::dedup_key(&integration.name, &key),
                }),
                Err(error) => decoded.errors.push(error),
            }
            continue;
        }
        let entry = Entry {
            field,
            key,
            labels: alert.labels,
            annotations: alert.annotations,
            occurred_at: alert.starts_at.as_deref().and_then(parse_time),
            link: alert.generator_url.unwrap_or_default(),
            ends_at: Some(ends_at),
            ..Entry::default()
        };
        match integration.draft(entry, now) {
            Ok(draft) => decoded.items.push(Item::Trigger(Box::new(draft))),
            Err(errors) => decoded.errors.extend(errors),
        }
    }
    Ok(decoded)
}

/// The identity of a label set: the first 16 bytes of SHA-256 over its sorted names and
/// values, in hex (stable across processes and versions, unlike a hasher's seed).
pub fn fingerprint(labels: &Labels) -> String {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    for (name, value) in labels {
        hasher.update(name.as_bytes());
        hasher.update([0xff]);
        hasher.update(value.as_bytes());
        hasher.update([0xff]);
    }
    hex::encode(&hasher.finalize()[..16])
}
