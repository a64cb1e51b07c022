//! The console's routes, the board, the alert page and the officers' actions (sign-in is in
//! `signin`, the checks every request passes in `guard`). Every POST needs a live session
//! (or, to sign in, the sign-in form's cookie), its CSRF token and a same-origin `Origin`.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::warn;
use wk_api::error::ApiError;
use wk_api::view::Row as ViewRow;
use wk_bus::codec::OfficerAction;
use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

use crate::WebState;
use crate::board::{self, Filter, Tiles};
use crate::guard::{Post, Signed, field, refuse, signed_in, wants_json};
use crate::session::Principal;
use crate::views::{
    AlertPage, BoardPage, Chrome, Detail, MessagePage, Row, RowFragment, SEVERITIES, STATUSES,
    TilesFragment, UserLine,
};

const NOTE_CHARS: usize = 2_000;
const BULK_MAX: usize = 200;

pub(crate) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/console", get(|| async { see_other("console/") }))
        .route("/console/", get(board_page))
        .route("/console/rows", get(rows))
        .route(
            "/console/sign-in",
            get(crate::signin::sign_in_page).post(crate::signin::sign_in),
        )
        .route("/console/sign-out", post(crate::signin::sign_out))
        .route("/console/alerts/{id}", get(alert_page))
        .route("/console/alerts/{id}/{action}", post(act))
        .route("/console/bulk-acknowledge", post(bulk_acknowledge))
        .route("/console/events", get(crate::live::events))
        .route("/console/static/{name}", get(asset))
}

pub(crate) fn now() -> wk_core::Timestamp {
    wk_core::Timestamp::from_system_time(std::time::SystemTime::now())
}

pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, axum::response::Html(html)).into_response(),
        Err(error) => {
            warn!(%error, "page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "page did not render").into_response()
        }
    }
}

pub(crate) fn message(
    status: StatusCode,
    root: &'static str,
    heading: &str,
    text: &str,
    signed: Option<&Signed>,
) -> Response {
    let page = MessagePage {
        chrome: chrome(root, "message", signed),
        heading: heading.to_owned(),
        text: text.to_owned(),
        back: "",
        back_label: "Back to the board",
    };
    render(status, &page)
}

pub(crate) fn chrome(root: &'static str, page: &'static str, signed: Option<&Signed>) -> Chrome {
    Chrome {
        root,
        page,
        csrf: signed.map(|s| s.session.csrf.clone()).unwrap_or_default(),
        user: signed.map(|s| UserLine::of(&s.session.principal)),
    }
}

// ---- the board --------------------------------------------------------------------------------

/// What `principal` may see of `state`: an office sees no addresses.
pub(crate) fn for_principal(
    principal: &Principal,
    state: &pb::EscalationState,
) -> pb::EscalationState {
    let mut state = state.clone();
    if principal.office_scope().is_some() {
        wk_api::redact::for_office(&mut state);
    }
    state
}

pub(crate) fn query_string(query: &board::Query) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("status", &query.status),
        ("min", &query.min),
        ("sev", &query.sev),
        ("office", &query.office),
        ("area", &query.area),
        ("q", &query.q),
        ("silenced", &query.silenced),
    ] {
        if !value.is_empty() {
            out.append_pair(key, value);
        }
    }
    out.finish()
}

pub(crate) fn tiles(state: &WebState, principal: &Principal) -> Tiles {
    let mut tiles = Tiles::default();
    state.view.for_each(|alert| {
        if board::may_see(principal, alert) {
            tiles.count(alert);
        }
    });
    tiles
}

struct Selection {
    seq: u64,
    rows: Vec<Row>,
    total: usize,
    tiles: Tiles,
}

fn select(state: &WebState, principal: &Principal, query: &board::Query) -> Selection {
    // Read first: a change applied after this number is replayed to the page.
    let seq = state.view.seq();
    let filter = Filter::new(query, &state.regions);
    let keep = |alert: &ViewRow| board::may_see(principal, alert) && filter.matches(alert);
    let (states, total) = if filter.searches_text() {
        let deep = |alert: &pb::EscalationState| filter.text_matches(alert);
        state
            .view
            .select_where(keep, deep, board::order, board::PAGE)
    } else {
        state.view.select(keep, board::order, board::PAGE)
    };
    let now_ms = now().as_unix_millis();
    let rows = states
        .iter()
        .map(|alert| {
            Row::new(
                &for_principal(principal, alert),
                principal,
                &state.region_of,
                now_ms,
            )
        })
        .collect();
    Selection {
        seq,
        rows,
        total,
        tiles: tiles(state, principal),
    }
}

async fn board_page(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    query: Result<Query<board::Query>, QueryRejection>,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("sign-in");
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let principal = signed.principal();
    let selection = select(&state, principal, &query);
    let page = BoardPage {
        chrome: chrome("", "board", Some(&signed)),
        root: "",
        seq: selection.seq,
        query_string: query_string(&query),
        query,
        statuses: STATUSES.to_vec(),
        severities: SEVERITIES.to_vec(),
        office_user: principal.office_scope().is_some(),
        actions: principal.may_act(),
        tiles: selection.tiles,
        shown: selection.rows.len(),
        total: selection.total,
        rows: selection.rows,
        reminders: reminders(&state, principal),
    };
    render(StatusCode::OK, &page)
}

/// What the board reminds duty officers of: forgotten silences hide real pages.
fn reminders(
    state: &WebState,
    principal: &crate::session::Principal,
) -> Vec<(&'static str, crate::silences::SilenceRow)> {
    let Some(silences) = state.silences.as_ref().filter(|_| principal.may_act()) else {
        return Vec::new();
    };
    let reminders = silences.reminders();
    let zone = &principal.time_zone;
    let ending = reminders.ending.iter().map(|view| {
        (
            "Silence ending within the hour",
            crate::silences::row(view, zone),
        )
    });
    let idle = reminders.idle.iter().map(|view| {
        (
            "Silence that matched nothing for 24 h",
            crate::silences::row(view, zone),
        )
    });
    ending.chain(idle).collect()
}

/// The board's rows and tiles as JSON, for a page that missed too many changes to replay.
async fn rows(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    query: Result<Query<board::Query>, QueryRejection>,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let selection = select(&state, signed.principal(), &query);
    let mut html = String::new();
    for row in &selection.rows {
        html.push_str(&RowFragment { root: "", row }.render().unwrap_or_default());
    }
    axum::Json(serde_json::json!({
        "seq": selection.seq,
        "rows": html,
        "tiles": TilesFragment { tiles: selection.tiles }.render().unwrap_or_default(),
        "unacknowledged": selection.tiles.unacknowledged,
        "shown": selection.rows.len(),
        "total": selection.total,
    }))
    .into_response()
}

// ---- the alert page and actions -------------------------------------------------------------

/// The alert `id` if `principal` may see it (another office's alert is unknown to them).
pub(crate) fn visible_alert(
    state: &WebState,
    principal: &Principal,
    id: &str,
) -> Option<pb::EscalationState> {
    let id: AlertId = id.parse().ok()?;
    let alert = state.view.get(id)?;
    board::may_see(principal, &ViewRow::of(&alert)).then(|| for_principal(principal, &alert))
}

/// `visible_alert`, also for an alert the view let go of (read back from the state topic).
async fn visible_alert_anywhere(
    state: &WebState,
    principal: &Principal,
    id: &str,
) -> Option<pb::EscalationState> {
    let id: AlertId = id.parse().ok()?;
    let alert = state.console.state_anywhere(id).await?;
    board::may_see(principal, &ViewRow::of(&alert)).then(|| for_principal(principal, &alert))
}

async fn alert_page(
    State(state): State<Arc<WebState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("../sign-in");
    };
    let seq = state.view.seq();
    let Some(alert) = visible_alert_anywhere(&state, signed.principal(), &id).await else {
        return message(
            StatusCode::NOT_FOUND,
            "../",
            "Unknown alert",
            "No such alert, or not one you may see.",
            Some(&signed),
        );
    };
    let principal = signed.principal();
    let page = AlertPage {
        chrome: chrome("../", "alert", Some(&signed)),
        seq,
        csrf: signed.session.csrf.clone(),
        actions: principal.may_act(),
        detail: Detail::new(&alert, &principal.time_zone, &state.region_of),
    };
    render(StatusCode::OK, &page)
}

/// After a form's action: on to `to` when it was recorded, or a page saying why not.
pub(crate) fn done_or_refused<T>(
    result: Result<T, ApiError>,
    headers: &HeaderMap,
    root: &'static str,
    to: &str,
    heading: &str,
) -> Response {
    match result {
        Ok(_) => see_other(to),
        Err(error) => {
            let (status, text) = action_error(&error);
            refuse(headers, status, root, heading, &text)
        }
    }
}

pub(crate) fn action_error(error: &ApiError) -> (StatusCode, String) {
    match error {
        ApiError::NotFound(what) if what.starts_with("silence") => {
            (StatusCode::NOT_FOUND, "No such silence.".to_owned())
        }
        ApiError::BadSilence(errors) => (
            StatusCode::BAD_REQUEST,
            errors
                .iter()
                .map(|error| format!("{}: {}", error.field, error.message))
                .collect::<Vec<_>>()
                .join(" · "),
        ),
        ApiError::NotFound(_) | ApiError::BadAlertId(_) => {
            (StatusCode::NOT_FOUND, "No such alert.".to_owned())
        }
        ApiError::WrongIncident { .. } => (
            StatusCode::CONFLICT,
            "This alert was resolved and raised again since the page was loaded: nothing was done. Look at it again and act on the current incident.".to_owned(),
        ),
        ApiError::BadNote { max } => (
            StatusCode::BAD_REQUEST,
            format!("A note has 1 to {max} characters."),
        ),
        ApiError::NotWatched(_) => (
            StatusCode::NOT_FOUND,
            "This office has no check-in schedule.".to_owned(),
        ),
        ApiError::BadCheckIn { field, reason } => {
            (StatusCode::BAD_REQUEST, format!("The {field} {reason}."))
        }
        other => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Not recorded ({other}). Try again."),
        ),
    }
}

async fn act(
    State(state): State<Arc<WebState>>,
    Path((id, action)): Path<(String, String)>,
    Post(signed, headers, fields): Post<2>,
) -> Response {
    let principal = signed.principal();
    if visible_alert(&state, principal, &id).is_none() {
        return refuse(
            &headers,
            StatusCode::NOT_FOUND,
            "../../",
            "Unknown alert",
            "No such alert.",
        );
    }
    let action = match action.as_str() {
        "acknowledge" => OfficerAction::Acknowledge,
        "resolve" => OfficerAction::Resolve,
        "note" => {
            let text = field(&fields, "text").unwrap_or_default().trim().to_owned();
            if text.is_empty() || text.chars().count() > NOTE_CHARS {
                let (status, text) = action_error(&ApiError::BadNote { max: NOTE_CHARS });
                return refuse(&headers, status, "../../", "Note not added", &text);
            }
            OfficerAction::Note(text)
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let incident = field(&fields, "incident").and_then(|text| text.parse().ok());
    let result = state
        .console
        .record_action(&id, action, principal.id.clone(), "console", incident)
        .await;
    match result {
        Ok(response) => {
            let text = match response.already_acknowledged_by {
                Some(by) => format!("Already acknowledged by {} ({}).", by.actor, by.channel),
                None => "Recorded.".to_owned(),
            };
            if wants_json(&headers) {
                axum::Json(serde_json::json!({ "ok": true, "message": text })).into_response()
            } else {
                see_other(&format!("../{id}"))
            }
        }
        Err(error) => {
            let (status, text) = action_error(&error);
            refuse(&headers, status, "../../", "Not recorded", &text)
        }
    }
}

async fn bulk_acknowledge(
    State(state): State<Arc<WebState>>,
    Post(signed, headers, fields): Post<0>,
) -> Response {
    let principal = signed.principal();
    let picked: Vec<(&str, Option<u32>)> = fields
        .iter()
        .filter(|(key, _)| key == "alert")
        .take(BULK_MAX)
        .map(|(_, value)| match value.split_once(':') {
            Some((id, incident)) => (id, incident.parse().ok()),
            None => (value.as_str(), None),
        })
        .collect();
    let (mut done, mut failed) = (0, Vec::new());
    for (id, incident) in picked {
        if visible_alert(&state, principal, id).is_none() {
            failed.push("no such alert".to_owned());
            continue;
        }
        match state
            .console
            .record_action(
                id,
                OfficerAction::Acknowledge,
                principal.id.clone(),
                "console",
                incident,
            )
            .await
        {
            Ok(_) => done += 1,
            Err(error) => failed.push(action_error(&error).1),
        }
    }
    let text = if failed.is_empty() {
        format!("{done} alert(s) acknowledged.")
    } else {
        format!(
            "{done} alert(s) acknowledged; {} not: {}",
            failed.len(),
            failed.first().cloned().unwrap_or_default()
        )
    };
    if wants_json(&headers) {
        axum::Json(serde_json::json!({ "ok": failed.is_empty(), "message": text })).into_response()
    } else {
        message(
            StatusCode::OK,
            "",
            "Bulk acknowledgement",
            &text,
            Some(&signed),
        )
    }
}

// ---- assets -----------------------------------------------------------------------------------

const CONSOLE_CSS: &str = include_str!("../assets/console.css");
const CONSOLE_JS: &str = include_str!("../assets/console.js");
const ICON: &str = include_str!("../assets/icon.svg");

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        "console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        "icon.svg" => (ICON, "image/svg+xml"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
        .into_response()
}
