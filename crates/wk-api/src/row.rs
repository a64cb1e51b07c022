//! An alert's list row: what ListAlerts' filters, the console board's filters, order and
//! tiles, and the silences' statistics read of every alert the view holds. Not a protobuf
//! state with parts left out (1,747 bytes for a realistic alert): a struct of its own, with
//! the office and country shared between the rows that name them (under a hundred bytes).
//! Text is not in it: what a page shows and what a free-text search reads come from the
//! view's whole state, decoded outside its lock.

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
        let id = state.alert_id.parse().unwrap_or(AlertId::NIL);
        Row::with_names(id, state, &mut Names::default())
    }

    /// The row of alert `id` (already parsed by the view), its names shared through `names`.
    pub(crate) fn with_names(id: AlertId, state: &pb::EscalationState, names: &mut Names) -> Row {
        let alert = state.alert.as_ref();
        let field = |get: fn(&pb::Alert) -> &str| alert.map_or("", get);
        Row {
            id,
            status: state.status,
            severity: alert.map_or(0, |a| a.severity),
            first_seen_ms: crate::view::millis(state.first_seen.as_ref()).unwrap_or(0),
            office: names.get(field(|a| &a.office_id)),
            country: names.get(field(|a| &a.country)),
            silence: state
                .silence
                .as_ref()
                .map(|s| (s.silence.as_str().into(), s.exempt.is_empty())),
        }
    }

    pub fn is_open(&self) -> bool {
        self.status != pb::AlertStatus::Resolved as i32
    }

    /// Whether a silence holds the alert back now.
    pub fn is_silenced(&self) -> bool {
        self.is_open() && self.silence.as_ref().is_some_and(|(_, held)| *held)
    }

    /// A state holding no more than the row (all there is of an alert whose whole state is
    /// lost, which the view's own records never are).
    pub(crate) fn to_state(&self) -> pb::EscalationState {
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
                country: self.country.to_string(),
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

/// Whether every one of `words` (lower case) is in the alert's title, description, place,
/// office, country or a label's key or value, ignoring case.
pub fn has_words(state: &pb::EscalationState, words: &[String]) -> bool {
    let Some(alert) = state.alert.as_ref() else {
        return words.is_empty();
    };
    words.iter().all(|word| {
        let has = |text: &str| text.to_lowercase().contains(word.as_str());
        has(&alert.title)
            || has(&alert.description)
            || has(&alert.place)
            || has(&alert.office_id)
            || has(&alert.country)
            || alert.labels.iter().any(|(k, v)| has(k) || has(v))
    })
}

/// What ListAlerts selects; `None`/empty means any.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub statuses: Vec<i32>,
    pub min_severity: Option<i32>,
    pub office_id: Option<String>,
    pub country: Option<String>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
}

impl Filter {
    pub fn matches(&self, row: &Row) -> bool {
        let first_seen = row.first_seen_ms;
        (self.statuses.is_empty() || self.statuses.contains(&row.status))
            && self.min_severity.is_none_or(|min| row.severity >= min)
            && self
                .office_id
                .as_ref()
                .is_none_or(|office| *row.office == **office)
            && self
                .country
                .as_ref()
                .is_none_or(|country| row.country.eq_ignore_ascii_case(country))
            && self.since_ms.is_none_or(|since| first_seen >= since)
            && self.until_ms.is_none_or(|until| first_seen < until)
    }
}
