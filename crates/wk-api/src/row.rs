//! An alert's list row: what ListAlerts' filters, the console board's filters, order and
//! tiles, and the silences' statistics read of every alert the view holds. Not a protobuf
//! state with parts left out (1,747 bytes for a realistic alert): a struct of its own, with
//! the office and country shared between the rows that name them (about a fifth of that).
//! What only one alert's page shows comes from the view's whole state, decoded when asked.

use std::collections::HashSet;
use std::sync::Arc;

use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub id: AlertId,
    /// A `pb::AlertStatus`.
    pub status: i32,
    /// A `pb::Severity`.
    pub severity: i32,
    /// When first seen (ms since the epoch; 0 if the state has none).
    pub first_seen_ms: i64,
    pub office: Arc<str>,
    pub country: Arc<str>,
    /// The silence matching it now, and whether it is held back (not of a class never
    /// silenced).
    pub silence: Option<(Box<str>, bool)>,
    /// Title, description, place, then each label's key and value: what a free-text search
    /// reads.
    text: Box<[Box<str>]>,
}

/// The office and country names the rows share (one copy of each, however many rows name
/// it). Bounded by the configured offices and the countries they report from.
#[derive(Debug, Default)]
pub(crate) struct Names(HashSet<Arc<str>>);

impl Names {
    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = name.into();
        self.0.insert(shared.clone());
        shared
    }
}

impl Row {
    /// The row of `state` (its names not shared with any other row).
    pub fn of(state: &pb::EscalationState) -> Row {
        Row::with_names(state, &mut Names::default())
    }

    pub(crate) fn with_names(state: &pb::EscalationState, names: &mut Names) -> Row {
        let alert = state.alert.as_ref();
        let field = |get: fn(&pb::Alert) -> &str| alert.map_or("", get);
        let mut text: Vec<Box<str>> = [
            field(|a| &a.title),
            field(|a| &a.description),
            field(|a| &a.place),
        ]
        .into_iter()
        .map(Box::from)
        .collect();
        if let Some(alert) = alert {
            for (key, value) in &alert.labels {
                text.push(key.as_str().into());
                text.push(value.as_str().into());
            }
        }
        Row {
            id: state.alert_id.parse().unwrap_or(AlertId::NIL),
            status: state.status,
            severity: alert.map_or(0, |a| a.severity),
            first_seen_ms: crate::view::millis(state.first_seen.as_ref()).unwrap_or(0),
            office: names.get(field(|a| &a.office_id)),
            country: names.get(field(|a| &a.country)),
            silence: state
                .silence
                .as_ref()
                .map(|s| (s.silence.as_str().into(), s.exempt.is_empty())),
            text: text.into(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.status != pb::AlertStatus::Resolved as i32
    }

    /// Whether a silence holds the alert back now.
    pub fn is_silenced(&self) -> bool {
        self.is_open() && self.silence.as_ref().is_some_and(|(_, held)| *held)
    }

    pub fn title(&self) -> &str {
        self.text.first().map_or("", |t| t)
    }

    /// Whether every one of `words` (lower case) is in its title, description, place, office,
    /// country or a label's key or value, ignoring case.
    pub fn has_words(&self, words: &[String]) -> bool {
        words.iter().all(|word| {
            let has = |text: &str| text.to_lowercase().contains(word.as_str());
            has(&self.office) || has(&self.country) || self.text.iter().any(|t| has(t))
        })
    }

    /// A state holding no more than the row (all there is of an alert whose whole state is
    /// lost, which the view's own records never are).
    pub(crate) fn to_state(&self) -> pb::EscalationState {
        let text = |i: usize| self.text.get(i).map_or_else(String::new, |t| t.to_string());
        let labels = self
            .text
            .get(3..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|kv| (kv[0].to_string(), kv[1].to_string()))
            .collect();
        let at = |ms: i64| prost_types::Timestamp {
            seconds: ms.div_euclid(1000),
            nanos: i32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
        };
        pb::EscalationState {
            alert_id: self.id.to_string(),
            status: self.status,
            first_seen: Some(at(self.first_seen_ms)),
            alert: Some(pb::Alert {
                office_id: self.office.to_string(),
                severity: self.severity,
                title: text(0),
                description: text(1),
                country: self.country.to_string(),
                place: text(2),
                labels,
                ..Default::default()
            }),
            silence: self.silence.as_ref().map(|(id, held)| pb::Silencing {
                silence: id.to_string(),
                exempt: if *held {
                    String::new()
                } else {
                    "exempt".into()
                },
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}
