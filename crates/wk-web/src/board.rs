//! The board: which alerts a signed-in person sees, in which order, with which filters, and
//! the counts its tiles show. Pure functions over alert states, so the first page, the live
//! updates and the tiles all agree on what matches.

use std::collections::BTreeMap;

use serde::Deserialize;
use wk_api::view::{Row, has_words};
use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

use crate::format;
use crate::session::Principal;

/// How many rows the board shows at most; past that it says how many more match and asks for
/// a narrower filter (a board of thousands helps nobody at 3 a.m.).
pub const PAGE: usize = 500;

/// The board's filters as they appear in its address (`?status=open&min=critical&…`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Query {
    /// `open` (unacknowledged and acknowledged, the default), `unacknowledged`,
    /// `acknowledged`, `resolved` or `all`.
    pub status: String,
    /// The lowest severity shown: `info` … `emergency`.
    pub min: String,
    /// Exactly this severity (what a severity tile links to).
    pub sev: String,
    pub office: String,
    /// A country code (`NG`) or a region id (`west-africa`).
    pub area: String,
    /// Free text: matched in title, description, place, office, country and labels.
    pub q: String,
    /// `yes`: only alerts a silence holds back; `no`: only those it does not.
    pub silenced: String,
}

/// The statuses a `status` filter shows.
fn statuses(status: &str) -> &'static [pb::AlertStatus] {
    use pb::AlertStatus::{Acknowledged, Open, Resolved};
    match status {
        "unacknowledged" => &[Open],
        "acknowledged" => &[Acknowledged],
        "resolved" => &[Resolved],
        "all" => &[Open, Acknowledged, Resolved],
        _ => &[Open, Acknowledged],
    }
}

/// Countries of each region, for the `area` filter.
pub type Regions = BTreeMap<String, Vec<String>>;

/// A query made ready to test alerts against.
#[derive(Clone, Debug)]
pub struct Filter {
    statuses: &'static [pb::AlertStatus],
    min_severity: i32,
    severity: Option<i32>,
    office: Option<String>,
    countries: Option<Vec<String>>,
    words: Vec<String>,
    silenced: Option<bool>,
}

impl Filter {
    pub fn new(query: &Query, regions: &Regions) -> Filter {
        let area = query.area.trim();
        let countries = (!area.is_empty()).then(|| {
            regions
                .get(area)
                .cloned()
                .unwrap_or_else(|| vec![area.to_ascii_uppercase()])
        });
        Filter {
            statuses: statuses(&query.status),
            min_severity: format::parse_severity(&query.min).unwrap_or(0),
            severity: format::parse_severity(&query.sev),
            office: Some(query.office.trim().to_owned()).filter(|o| !o.is_empty()),
            countries,
            silenced: match query.silenced.as_str() {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
            words: query
                .q
                .split_whitespace()
                .take(8)
                .map(str::to_lowercase)
                .collect(),
        }
    }

    /// Whether the board shows `state` to someone who may see it.
    pub fn matches_state(&self, state: &pb::EscalationState) -> bool {
        self.matches(&Row::of(state)) && self.text_matches(state)
    }

    /// Whether the query has words to search for (which only whole states can tell).
    pub fn searches_text(&self) -> bool {
        !self.words.is_empty()
    }

    /// Whether the free-text words are all in `state`.
    pub fn text_matches(&self, state: &pb::EscalationState) -> bool {
        has_words(state, &self.words)
    }

    /// Whether the board may show the alert of `row` to someone who may see it, as far as
    /// its row tells (all but the free-text words: `text_matches`).
    pub fn matches(&self, row: &Row) -> bool {
        self.statuses.iter().any(|s| *s as i32 == row.status)
            && row.severity >= self.min_severity
            && self.severity.is_none_or(|s| s == row.severity)
            && self.office.as_ref().is_none_or(|o| **o == *row.office)
            && self.countries.as_ref().is_none_or(|countries| {
                countries
                    .iter()
                    .any(|c| c.eq_ignore_ascii_case(&row.country))
            })
            && self
                .silenced
                .is_none_or(|wanted| row.is_silenced() == wanted)
    }
}

/// Whether `principal` may see the alert of `row` at all: an office only its own alerts.
pub fn may_see(principal: &Principal, row: &Row) -> bool {
    principal
        .office_scope()
        .is_none_or(|office| *row.office == *office)
}

/// The board's order: worst severity first, then newest first, then by id (stable).
pub fn order(row: &Row) -> (std::cmp::Reverse<i32>, std::cmp::Reverse<i64>, AlertId) {
    (
        std::cmp::Reverse(row.severity),
        std::cmp::Reverse(row.first_seen_ms),
        row.id,
    )
}

/// Unacknowledged critical or emergency: the board sounds while one is in view.
pub fn alarming(row: &Row) -> bool {
    row.status == pb::AlertStatus::Open as i32 && row.severity >= pb::Severity::Critical as i32
}

/// The counts the tiles show, over every alert the person may see.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Tiles {
    pub unacknowledged: usize,
    pub acknowledged: usize,
    /// Open (unacknowledged or acknowledged) by severity.
    pub emergency: usize,
    pub critical: usize,
    pub warning: usize,
    pub info: usize,
    /// Unacknowledged critical or emergency.
    pub alarming: usize,
}

impl Tiles {
    pub fn count(&mut self, row: &Row) {
        let open = row.status == pb::AlertStatus::Open as i32;
        let acknowledged = row.status == pb::AlertStatus::Acknowledged as i32;
        if !(open || acknowledged) {
            return;
        }
        self.unacknowledged += usize::from(open);
        self.acknowledged += usize::from(acknowledged);
        self.alarming += usize::from(alarming(row));
        match row.severity {
            4 => self.emergency += 1,
            3 => self.critical += 1,
            2 => self.warning += 1,
            _ => self.info += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Role;

    fn state(id: &str, severity: i32, status: pb::AlertStatus, seen_s: i64) -> pb::EscalationState {
        pb::EscalationState {
            alert_id: id.into(),
            status: status as i32,
            first_seen: Some(prost_types::Timestamp {
                seconds: seen_s,
                nanos: 0,
            }),
            alert: Some(pb::Alert {
                office_id: "ng-maiduguri".into(),
                severity,
                title: format!("Checkpoint closed {id}"),
                country: "NG".into(),
                place: "Maiduguri".into(),
                labels: [("road".to_owned(), "A3".to_owned())].into_iter().collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        let text: String = pairs.iter().map(|(k, v)| format!("{k}={v}&")).collect();
        serde_json::from_value(serde_json::Value::Object(
            url_pairs(&text).into_iter().collect(),
        ))
        .expect("query")
    }

    fn row(id: &str, severity: i32, status: pb::AlertStatus, seen_s: i64) -> Row {
        Row::of(&state(id, severity, status, seen_s))
    }

    fn url_pairs(text: &str) -> Vec<(String, serde_json::Value)> {
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
            .collect()
    }

    #[test]
    fn open_alerts_by_default_worst_and_newest_first() {
        use pb::AlertStatus::{Acknowledged, Open, Resolved};
        let rows = [
            row("a", 2, Open, 100),
            row("b", 4, Acknowledged, 50),
            row("c", 4, Open, 60),
            row("d", 3, Resolved, 200),
        ];
        let filter = Filter::new(&Query::default(), &Regions::new());
        let mut shown: Vec<_> = rows.iter().filter(|r| filter.matches(r)).collect();
        shown.sort_by_key(|r| order(r));
        let seen: Vec<_> = shown.iter().map(|r| r.first_seen_ms / 1000).collect();
        assert_eq!(seen, [60, 50, 100], "c, b, a");
    }

    #[test]
    fn filters_combine() {
        use pb::AlertStatus::Open;
        let regions: Regions = [(
            "west-africa".to_owned(),
            vec!["NG".to_owned(), "ML".to_owned()],
        )]
        .into();
        let critical = state("x", 3, Open, 0);
        let matches =
            |pairs: &[(&str, &str)]| Filter::new(&query(pairs), &regions).matches_state(&critical);
        assert!(matches(&[("min", "critical")]));
        assert!(!matches(&[("min", "emergency")]));
        assert!(matches(&[("area", "west-africa")]));
        assert!(matches(&[("area", "ng")]));
        assert!(!matches(&[("area", "SS")]));
        assert!(
            matches(&[("q", "CHECKPOINT a3")]),
            "words in title and labels"
        );
        assert!(!matches(&[("q", "checkpoint juba")]));
        assert!(matches(&[("office", "ng-maiduguri")]));
        assert!(!matches(&[("office", "ss-juba")]));
        assert!(!matches(&[("status", "acknowledged")]));
        assert!(matches(&[("status", "unacknowledged"), ("min", "warning")]));
    }

    #[test]
    fn an_office_sees_only_its_own_alerts() {
        let office = Principal {
            id: "ss-juba".into(),
            name: "Juba".into(),
            role: Role::Office("ss-juba".into()),
            time_zone: jiff::tz::TimeZone::UTC,
        };
        assert!(!may_see(&office, &row("x", 3, pb::AlertStatus::Open, 0)));
    }

    #[test]
    fn tiles_count_open_alerts() {
        use pb::AlertStatus::{Acknowledged, Open, Resolved};
        let mut tiles = Tiles::default();
        for s in [
            row("a", 4, Open, 0),
            row("b", 3, Acknowledged, 0),
            row("c", 2, Open, 0),
            row("d", 3, Resolved, 0),
        ] {
            tiles.count(&s);
        }
        assert_eq!(
            tiles,
            Tiles {
                unacknowledged: 2,
                acknowledged: 1,
                emergency: 1,
                critical: 1,
                warning: 1,
                info: 0,
                alarming: 1,
            }
        );
    }
}
