//! The silences page: silences and maintenance windows in force, to come and ended, with who
//! made them and why; duty officers create one (after a preview of the open alerts it would
//! match, and of those it may not silence) and expire one early. Every form goes through the
//! same `SilenceService` as the gRPC API and the CLI.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::tz::TimeZone;
use wk_core::silence::{Draft, WindowDraft};
use wk_proto::v1 as pb;

use crate::WebState;
use crate::format::{When, short_id, when_of};
use crate::guard::{Fields, Post, field, refuse, signed_in};
use crate::handlers::{action_error, chrome, done_or_refused, render, see_other};
use crate::views::Chrome;

pub(crate) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/console/silences", get(page).post(create))
        .route("/console/silences/preview", post(preview))
        .route("/console/silences/{id}/expire", post(expire))
}

/// One silence as the page and the board's reminders list it.
pub(crate) struct SilenceRow {
    pub(crate) id: String,
    pub(crate) short: String,
    pub(crate) state: String,
    pub(crate) matchers: String,
    pub(crate) starts: Option<When>,
    pub(crate) ends: Option<When>,
    pub(crate) by: String,
    pub(crate) comment: String,
    pub(crate) expired_by: String,
    pub(crate) window: String,
    pub(crate) open: u32,
}

pub(crate) fn row(view: &pb::SilenceView, zone: &TimeZone) -> SilenceRow {
    let silence = view.silence.clone().unwrap_or_default();
    let window = match silence.maintenance.as_ref() {
        None => String::new(),
        Some(window) => {
            let scope = match &window.scope {
                Some(pb::maintenance_window::Scope::Office(office)) => format!("office {office}"),
                Some(pb::maintenance_window::Scope::Country(country)) => {
                    format!("country {country}")
                }
                None => String::new(),
            };
            if window.cron.is_empty() {
                format!("maintenance window, {scope}")
            } else {
                let each = window.duration.as_ref().map_or(0, |d| d.seconds / 60);
                format!(
                    "maintenance window, {scope}: cron {} for {each} min ({})",
                    window.cron, window.time_zone
                )
            }
        }
    };
    SilenceRow {
        short: short_id(&silence.id).to_owned(),
        state: view.state.clone(),
        matchers: silence.matchers.join(", "),
        starts: when_of(silence.starts_at.as_ref(), zone),
        ends: when_of(silence.ends_at.as_ref(), zone),
        by: silence.created_by,
        comment: silence.comment,
        expired_by: silence.expired_by,
        window,
        open: view.matching_open,
        id: silence.id,
    }
}

/// An open alert a draft would match.
pub(crate) struct MatchRow {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) office: String,
    pub(crate) severity: String,
    pub(crate) never: String,
}

#[derive(Template)]
#[template(path = "silences.html")]
pub(crate) struct SilencesPage {
    pub(crate) chrome: Chrome,
    pub(crate) rows: Vec<SilenceRow>,
    pub(crate) csrf: String,
    /// What the form said, kept through a preview.
    pub(crate) form: Fields,
    pub(crate) preview: Option<Vec<MatchRow>>,
}

impl SilencesPage {
    pub(crate) fn value(&self, name: &str) -> &str {
        field(&self.form, name).unwrap_or_default()
    }
}

fn draft(fields: &Fields) -> Result<Draft, String> {
    let text = |name: &str| field(fields, name).unwrap_or_default().trim().to_owned();
    let duration = |name: &str| -> Result<Option<Duration>, String> {
        match text(name) {
            value if value.is_empty() => Ok(None),
            value => wk_core::config::parse_duration(&value)
                .map(Some)
                .map_err(|error| format!("{name}: {error}")),
        }
    };
    let office = Some(text("office")).filter(|v| !v.is_empty());
    let country = Some(text("country")).filter(|v| !v.is_empty());
    let window = (office.is_some() || country.is_some()).then(|| -> Result<WindowDraft, String> {
        Ok(WindowDraft {
            office: office.clone(),
            country: country.clone(),
            cron: Some(text("cron")).filter(|v| !v.is_empty()),
            every_for: duration("each")?,
            time_zone: Some(text("time_zone")).filter(|v| !v.is_empty()),
        })
    });
    Ok(Draft {
        matchers: text("matchers")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect(),
        duration: duration("duration")?,
        comment: text("comment"),
        window: window.transpose()?,
        ..Draft::default()
    })
}

fn listing(state: &WebState, zone: &TimeZone) -> Vec<SilenceRow> {
    state.silences.as_ref().map_or_else(Vec::new, |silences| {
        silences
            .list(true)
            .iter()
            .take(200)
            .map(|view| row(view, zone))
            .collect()
    })
}

async fn page(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("sign-in");
    };
    let principal = signed.principal();
    if !principal.may_act() {
        return StatusCode::FORBIDDEN.into_response();
    }
    let page = SilencesPage {
        rows: listing(&state, &principal.time_zone),
        csrf: signed.session.csrf.clone(),
        form: vec![("duration".into(), "2h".into())],
        preview: None,
        chrome: chrome("", "silences", Some(&signed)),
    };
    render(StatusCode::OK, &page)
}

async fn preview(
    State(state): State<Arc<WebState>>,
    Post(signed, headers, fields): Post<1>,
) -> Response {
    let Some(silences) = &state.silences else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let by = signed.principal().id.clone();
    let matches = draft(&fields)
        .map_err(|text| (StatusCode::BAD_REQUEST, text))
        .and_then(|draft| {
            silences
                .preview(draft, &by)
                .map_err(|error| action_error(&error))
        });
    let matches = match matches {
        Ok(matches) => matches,
        Err((status, text)) => return refuse(&headers, status, "../", "Not a silence", &text),
    };
    let page = SilencesPage {
        rows: listing(&state, &signed.principal().time_zone),
        csrf: signed.session.csrf.clone(),
        form: fields
            .into_iter()
            .filter(|(name, _)| name != "csrf")
            .collect(),
        preview: Some(
            matches
                .into_iter()
                .map(|m| MatchRow {
                    id: m.alert_id,
                    title: m.title,
                    office: m.office_id,
                    severity: m.severity,
                    never: m.never_silenced,
                })
                .collect(),
        ),
        chrome: chrome("../", "silences", Some(&signed)),
    };
    render(StatusCode::OK, &page)
}

async fn create(
    State(state): State<Arc<WebState>>,
    Post(signed, headers, fields): Post<0>,
) -> Response {
    let Some(silences) = &state.silences else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let draft = match draft(&fields) {
        Ok(draft) => draft,
        Err(text) => return refuse(&headers, StatusCode::BAD_REQUEST, "", "Not created", &text),
    };
    let created = silences.create(draft, &signed.principal().id).await;
    done_or_refused(created, &headers, "", "silences", "Not created")
}

async fn expire(
    State(state): State<Arc<WebState>>,
    Path(id): Path<String>,
    Post(signed, headers, _): Post<2>,
) -> Response {
    let Some(silences) = &state.silences else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let expired = silences.expire(&id, &signed.principal().id).await;
    done_or_refused(expired, &headers, "../../", "../../silences", "Not expired")
}
