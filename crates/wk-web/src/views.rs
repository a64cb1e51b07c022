//! The console's pages as askama templates (compiled with the crate, every value escaped) and
//! the view models they render, built from alert states for the person signed in.

use std::collections::BTreeMap;

use askama::Template;
use jiff::tz::TimeZone;
use wk_proto::v1 as pb;

use crate::board::{self, Query, Tiles};
use crate::format::{self, Severity, When};
use crate::session::{Principal, Role};

/// What every page's frame needs.
pub struct Chrome {
    /// The way back to `/console/` from this page: `""` or `"../"`.
    pub root: &'static str,
    pub page: &'static str,
    pub csrf: String,
    pub user: Option<UserLine>,
}

pub struct UserLine {
    pub name: String,
    pub role: &'static str,
    /// Whether they may act (and so see the silences page).
    pub may_act: bool,
}

impl UserLine {
    pub fn of(principal: &Principal) -> UserLine {
        UserLine {
            may_act: principal.may_act(),
            name: principal.name.clone(),
            role: match principal.role {
                Role::Admin => "admin",
                Role::DutyOfficer => "duty officer",
                Role::Office(_) => "field office",
            },
        }
    }
}

#[derive(Template)]
#[template(path = "sign_in.html")]
pub struct SignInPage {
    pub chrome: Chrome,
    pub message: Option<String>,
    pub user: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub chrome: Chrome,
    pub heading: String,
    pub text: String,
    pub back: &'static str,
    pub back_label: &'static str,
}

/// One row of the board.
pub struct Row {
    pub id: String,
    pub incident: u32,
    pub severity: Severity,
    pub status: &'static str,
    pub status_class: &'static str,
    pub title: String,
    pub category: String,
    pub office: String,
    pub place: String,
    pub country: String,
    pub region: Option<String>,
    pub first_seen: When,
    pub age: String,
    pub occurrences: u32,
    pub position: String,
    pub next_step: Option<When>,
    pub by: Option<String>,
    pub alarming: bool,
    /// Whether the row offers selection (duty officers only).
    pub actions: bool,
    /// "silenced by X until T: comment", or that a silence matched an alert never silenced.
    pub silence: Option<String>,
    pub silenced: bool,
    /// The integration it came through, if not a field office's own submission.
    pub source: Option<String>,
    /// Back to the sender's view of it (http or https only).
    pub link: Option<String>,
}

/// "via NAME (KIND)" for an integration's alert.
fn source_line(alert: &pb::Alert) -> Option<String> {
    let origin = alert.origin.as_ref()?;
    let kind = origin
        .kind
        .parse::<wk_core::alert::IntegrationKind>()
        .map_or(origin.kind.as_str(), |kind| kind.label());
    Some(format!("via {} ({kind})", origin.integration))
}

/// The origin's link, when it is one a page may show.
fn link_of(alert: &pb::Alert) -> Option<String> {
    let origin = alert.origin.as_ref()?;
    wk_core::integration::safe_link(&origin.link).map(str::to_owned)
}

/// Region names by country code, for showing where an alert is.
pub type RegionOf = BTreeMap<String, String>;

fn by_line(state: &pb::EscalationState) -> Option<String> {
    (state.status != pb::AlertStatus::Open as i32)
        .then_some(state.status_by.as_ref())
        .flatten()
        .map(|by| format!("{} ({})", by.actor, by.channel))
}

/// The board's and the alert page's words for the silence matching an open alert.
pub fn silence_line(state: &pb::EscalationState, zone: &jiff::tz::TimeZone) -> Option<String> {
    if state.status == pb::AlertStatus::Resolved as i32 {
        return None;
    }
    let silence = state.silence.as_ref()?;
    if let Some(exemption) = wk_core::silence::Exemption::parse(&silence.exempt) {
        return Some(format!(
            "not silenced: silence {} matched, but {}",
            format::short_id(&silence.silence),
            exemption.reason()
        ));
    }
    let until = format::when_of(silence.until.as_ref(), zone)
        .map(|until| format!("{} · {}", until.local, until.utc))
        .unwrap_or_default();
    Some(format!(
        "silenced by {} until {until}: {}",
        silence.by, silence.comment
    ))
}

impl Row {
    pub fn new(
        state: &pb::EscalationState,
        principal: &Principal,
        regions: &RegionOf,
        now_ms: i64,
    ) -> Row {
        let alert = state.alert.clone().unwrap_or_default();
        let row = wk_api::view::Row::of(state);
        let zone = &principal.time_zone;
        let first_seen_ms = format::millis(state.first_seen.as_ref()).unwrap_or(0);
        let (status, status_class) = format::status(state.status);
        let (position, next_step) = format::position(state, zone);
        let (source, link) = (source_line(&alert), link_of(&alert));
        Row {
            id: state.alert_id.clone(),
            incident: state.incident,
            severity: format::severity(alert.severity),
            status,
            status_class,
            category: format::category(alert.category),
            region: regions.get(&alert.country).cloned(),
            title: alert.title,
            office: alert.office_id,
            place: alert.place,
            country: alert.country,
            first_seen: format::when(first_seen_ms, zone),
            age: format::age(first_seen_ms, now_ms),
            occurrences: state.occurrences.max(1),
            position,
            next_step: next_step.filter(|_| state.status == pb::AlertStatus::Open as i32),
            by: by_line(state),
            alarming: board::alarming(&row),
            actions: principal.may_act(),
            silence: silence_line(state, zone),
            silenced: row.is_silenced(),
            source,
            link,
        }
    }
}

#[derive(Template)]
#[template(path = "row.html")]
pub struct RowFragment<'a> {
    pub root: &'static str,
    pub row: &'a Row,
}

#[derive(Template)]
#[template(path = "tiles.html")]
pub struct TilesFragment {
    pub tiles: Tiles,
}

#[derive(Template)]
#[template(path = "board.html")]
pub struct BoardPage {
    pub chrome: Chrome,
    pub root: &'static str,
    pub seq: u64,
    pub query: Query,
    pub query_string: String,
    pub statuses: Vec<(&'static str, &'static str)>,
    pub severities: Vec<(&'static str, &'static str)>,
    pub office_user: bool,
    pub actions: bool,
    pub tiles: Tiles,
    pub rows: Vec<Row>,
    pub shown: usize,
    pub total: usize,
    /// Silences ending within the hour, and silences that matched nothing for a day.
    pub(crate) reminders: Vec<(&'static str, crate::silences::SilenceRow)>,
}

pub const STATUSES: [(&str, &str); 5] = [
    ("", "Open (not resolved)"),
    ("unacknowledged", "Unacknowledged"),
    ("acknowledged", "Acknowledged"),
    ("resolved", "Resolved"),
    ("all", "All"),
];

pub const SEVERITIES: [(&str, &str); 5] = [
    ("", "Any"),
    ("info", "Info"),
    ("warning", "Warning"),
    ("critical", "Critical"),
    ("emergency", "Emergency"),
];

pub struct NotificationLine {
    pub recipient: String,
    pub purpose: String,
    pub state: &'static str,
    pub class: &'static str,
}

/// Everything the alert page shows.
pub struct Detail {
    pub id: String,
    pub incident: u32,
    pub severity: Severity,
    pub title: String,
    pub description: String,
    pub category: String,
    pub office: String,
    pub place: String,
    pub country: String,
    pub region: Option<String>,
    pub coordinates: Option<String>,
    pub map_url: String,
    pub occurred_at: Option<When>,
    pub first_seen: Option<When>,
    pub last_seen: Option<When>,
    pub staff_affected: u32,
    pub dedup_key: String,
    pub labels: Vec<(String, String)>,
    pub status: &'static str,
    pub status_class: &'static str,
    pub status_at: Option<When>,
    pub by: Option<String>,
    pub open: bool,
    pub acknowledged: bool,
    pub position: String,
    pub next_step: Option<When>,
    pub route: String,
    pub chain: String,
    pub occurrences: u32,
    /// The silence holding it back (or matching it without effect), while open.
    pub silence: Option<String>,
    pub source: Option<String>,
    pub link: Option<String>,
    /// When an integration's alert resolves by itself unless it is sent again.
    pub ends_at: Option<When>,
    pub notifications: Vec<NotificationLine>,
    pub timeline: Vec<format::Entry>,
}

impl Detail {
    pub fn new(state: &pb::EscalationState, zone: &TimeZone, regions: &RegionOf) -> Detail {
        let alert = state.alert.clone().unwrap_or_default();
        let (status, status_class) = format::status(state.status);
        let (position, next_step) = format::position(state, zone);
        let coordinates = alert
            .coordinates
            .as_ref()
            .map(|c| (c.latitude, c.longitude));
        let mut labels: Vec<(String, String)> = alert.labels.clone().into_iter().collect();
        labels.sort();
        let source = source_line(&alert);
        let link = link_of(&alert);
        let ends_at = alert
            .origin
            .as_ref()
            .and_then(|origin| format::when_of(origin.ends_at.as_ref(), zone))
            .filter(|_| state.status != pb::AlertStatus::Resolved as i32);
        Detail {
            id: state.alert_id.clone(),
            incident: state.incident,
            severity: format::severity(alert.severity),
            category: format::category(alert.category),
            region: regions.get(&alert.country).cloned(),
            coordinates: coordinates.map(|(lat, lon)| format!("{lat:.5}, {lon:.5}")),
            map_url: coordinates.map_or_else(String::new, |(lat, lon)| {
                format!("https://www.openstreetmap.org/?mlat={lat:.5}&mlon={lon:.5}#map=14/{lat:.5}/{lon:.5}")
            }),
            occurred_at: format::when_of(alert.occurred_at.as_ref(), zone),
            first_seen: format::when_of(state.first_seen.as_ref(), zone),
            last_seen: format::when_of(state.last_seen.as_ref(), zone),
            staff_affected: alert.staff_affected,
            title: alert.title,
            description: alert.description,
            office: alert.office_id,
            place: alert.place,
            country: alert.country,
            dedup_key: alert.dedup_key,
            labels,
            status,
            status_class,
            status_at: format::when_of(state.status_at.as_ref(), zone)
                .filter(|_| state.status != pb::AlertStatus::Open as i32),
            by: by_line(state),
            open: state.status != pb::AlertStatus::Resolved as i32,
            acknowledged: state.status == pb::AlertStatus::Acknowledged as i32,
            position,
            next_step: next_step.filter(|_| state.status == pb::AlertStatus::Open as i32),
            route: state.route.clone(),
            chain: state.chain.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
            occurrences: state.occurrences.max(1),
            silence: silence_line(state, zone),
            source,
            link,
            ends_at,
            notifications: state
                .notifications
                .iter()
                .map(|n| {
                    let (text, class) = format::delivery(n);
                    NotificationLine {
                        recipient: format::recipient(n),
                        purpose: format::purpose(n),
                        state: text,
                        class,
                    }
                })
                .collect(),
            timeline: state
                .timeline
                .iter()
                .map(|entry| format::entry(state, entry, zone))
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "alert.html")]
pub struct AlertPage {
    pub chrome: Chrome,
    pub seq: u64,
    pub csrf: String,
    pub actions: bool,
    pub detail: Detail,
}

#[derive(Template)]
#[template(path = "live.html")]
pub struct LiveFragment<'a> {
    pub csrf: &'a str,
    pub actions: bool,
    pub detail: &'a Detail,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitored(link: &str) -> pb::EscalationState {
        pb::EscalationState {
            alert_id: "a1".into(),
            alert: Some(pb::Alert {
                office_id: "ng-maiduguri".into(),
                title: "Generator fuel low".into(),
                country: "NG".into(),
                place: "Maiduguri".into(),
                origin: Some(pb::AlertOrigin {
                    integration: "prometheus".into(),
                    kind: "alertmanager-api-v2".into(),
                    link: link.into(),
                    ends_at: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn row_html(state: &pb::EscalationState) -> String {
        let officer = Principal {
            id: "maria.santos".into(),
            name: "Maria Santos".into(),
            role: Role::DutyOfficer,
            time_zone: TimeZone::UTC,
        };
        let row = Row::new(state, &officer, &RegionOf::new(), 0);
        RowFragment {
            root: "",
            row: &row,
        }
        .render()
        .unwrap()
    }

    #[test]
    fn an_integration_s_alert_shows_its_source_and_a_link_back_only_if_it_is_http() {
        let html = row_html(&monitored(
            "http://prometheus.example:9090/graph?g0.expr=a&b",
        ));
        assert!(
            html.contains("via prometheus (Alertmanager API v2)"),
            "{html}"
        );
        assert!(
            html.contains(r#"href="http://prometheus.example:9090/graph?g0.expr=a&#38;b""#)
                || html.contains(r#"href="http://prometheus.example:9090/graph?g0.expr=a&amp;b""#),
            "{html}"
        );
        let html = row_html(&monitored("javascript:alert(1)"));
        assert!(html.contains("via prometheus"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
}
