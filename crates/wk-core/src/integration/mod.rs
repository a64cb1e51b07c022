//! Integrations: the alert formats of the monitoring ecosystem, decoded and mapped to
//! Watchkeeper alerts, sans I/O. The api's HTTP endpoints authenticate the sender, call the
//! decoder of the integration's kind, and put what it returns on Kafka exactly as the gRPC
//! API does.
//!
//! - [`alertmanager`]: Alertmanager's webhook (payload version 4) and Grafana's, in its
//!   alerting form (the same shape) and its legacy form.
//! - [`pagerduty`]: PagerDuty's Events API v2 (`/v2/enqueue`).
//! - [`prometheus`]: Alertmanager's API v2 (`POST /api/v2/alerts`), as Prometheus sends to its
//!   Alertmanagers: the labels are the identity and `endsAt` a deadline.
//!
//! Identity: every alert of an integration is `(office, "<integration>/<key>")`, the key being
//! the sender's own (Alertmanager's `fingerprint`, PagerDuty's `dedup_key`, a hash of the
//! labels), so repeats fold into one alert and distinct alerts never merge, whatever their
//! summaries say (goalert#4461).

pub mod alertmanager;
mod mapping;
pub mod pagerduty;
pub mod prometheus;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub(crate) use self::mapping::one_line;
pub use self::mapping::{Mapping, default_severities};
use crate::alert::{IntegrationKind, Origin};
use crate::validate::{AlertDraft, FieldViolation};

/// A validated `[[integrations]]` entry.
#[derive(Clone, Debug)]
pub struct Integration {
    pub name: String,
    pub kind: IntegrationKind,
    /// The office its alerts are raised for.
    pub office: OfficeSource,
    /// SHA-256 of the accepted keys: the current one, and the previous one during a rotation.
    pub key_hashes: Vec<[u8; 32]>,
    pub mapping: Mapping,
    /// An Alertmanager-API alert without `endsAt` resolves this long after it was last sent.
    pub resolve_timeout: Duration,
}

/// Which office an integration's alert is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfficeSource {
    Fixed(String),
    /// The value of a label (a PagerDuty `custom_details` entry), one of `allowed`.
    Label {
        label: String,
        allowed: BTreeSet<String>,
    },
}

/// What a sender asked for one alert.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// Raise it, or fold a repeat into it (the draft's dedup key is its identity).
    Trigger(Box<AlertDraft>),
    Acknowledge {
        office: String,
        dedup_key: String,
    },
    Resolve {
        office: String,
        dedup_key: String,
    },
}

impl Item {
    /// The office and dedup key the item is about.
    pub fn identity(&self) -> (&str, &str) {
        match self {
            Item::Trigger(draft) => (&draft.office_id, &draft.dedup_key),
            Item::Acknowledge { office, dedup_key } | Item::Resolve { office, dedup_key } => {
                (office, dedup_key)
            }
        }
    }
}

/// A decoded request: the items to act on and the entries refused, each with its field. The
/// valid entries stand even when others are refused: a monitoring system does not retry a
/// 400, and one bad label must not cost the other alerts of its batch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decoded {
    pub items: Vec<Item>,
    pub errors: Vec<FieldViolation>,
}

/// Why a request was refused whole (its body is not of the format at all).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Malformed {
    pub field: String,
    pub message: String,
}

impl Malformed {
    fn json(error: &serde_json::Error) -> Malformed {
        Malformed {
            field: "body".into(),
            message: format!("not the expected JSON: {error}"),
        }
    }
}

/// At most this many alerts in one request (Prometheus sends batches of 64).
pub const MAX_ITEMS: usize = 1_000;

/// The largest link kept, in characters.
pub const LINK_CHARS: usize = 2_048;

/// The identity key of an alert of `integration` with the sender's `key`. Keys too long to
/// be a dedup key are replaced by their hash, so the identity stays stable.
pub fn dedup_key(integration: &str, key: &str) -> String {
    use sha2::Digest as _;
    let whole = format!("{integration}/{key}");
    if whole.chars().count() <= crate::validate::limits::DEDUP_KEY_CHARS {
        whole
    } else {
        format!(
            "{integration}/sha256:{}",
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        )
    }
}

/// The violations of an origin: a named integration, a known link scheme.
pub fn check_origin(origin: &Origin) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if origin.integration.is_empty()
        || !origin
            .integration
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'))
    {
        errors.push((
            "origin.integration".into(),
            "must be an integration name (lower-case letters, digits, '-', '_')".into(),
        ));
    }
    if !origin.link.is_empty() && safe_link(&origin.link).is_none() {
        errors.push((
            "origin.link".into(),
            format!("must be an http or https URL of at most {LINK_CHARS} characters"),
        ));
    }
    errors
}

/// `link` when it is an absolute http(s) URL a console may show as a link; `None` otherwise
/// (a `javascript:` link must never reach a page).
pub fn safe_link(link: &str) -> Option<&str> {
    if link.chars().count() > LINK_CHARS || link.chars().any(char::is_control) {
        return None;
    }
    let parsed = url::Url::parse(link).ok()?;
    matches!(parsed.scheme(), "http" | "https")
        .then_some(link)
        .filter(|_| parsed.host().is_some())
}

/// Labels of a sender, by name.
pub type Labels = BTreeMap<String, String>;
