//! The offices page: every watched office's check-in state, last check-in (in the office's
//! time and UTC), next due time and pause, live by server-sent events like the board; duty
//! officers pause (with a reason and an optional end) and resume an office there. A field
//! office sees its own row and no forms.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::tz::TimeZone;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use wk_core::escalation::Responder;
use wk_proto::v1 as pb;

use crate::WebState;
use crate::format::{When, when_of};
use crate::guard::{Post, field, refuse, session_live, signed_in};
use crate::handlers::{chrome, done_or_refused, render, see_other};
use crate::session::Principal;
use crate::views::Chrome;

const SESSION_EVERY: Duration = Duration::from_secs(30);
/// The longest pause the form offers, in hours (the API allows 30 days).
const MAX_HOURS: u64 = 30 * 24;

pub(crate) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/console/offices", get(offices_page))
        .route("/console/offices/events", get(events))
        .route("/console/offices/{id}/{action}", post(act))
}

/// One office's row.
pub(crate) struct OfficeRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) place: String,
    pub(crate) country: String,
    pub(crate) status: &'static str,
    pub(crate) schedule: String,
    pub(crate) last: Option<When>,
    pub(crate) last_channel: String,
    pub(crate) last_status: String,
    pub(crate) due: Option<When>,
    pub(crate) pause_reason: String,
    pub(crate) paused_by: String,
    pub(crate) pause_until: Option<When>,
    pub(crate) silence_alert: String,
}

#[derive(Template)]
#[template(path = "offices.html")]
pub(crate) struct OfficesPage {
    pub(crate) chrome: Chrome,
    /// The offices view's version the page shows.
    pub(crate) seq: u64,
    pub(crate) rows: Vec<OfficeRow>,
    pub(crate) actions: bool,
    pub(crate) csrf: String,
}

#[derive(Template)]
#[template(path = "offices_table.html")]
pub(crate) struct OfficesTable {
    pub(crate) rows: Vec<OfficeRow>,
    pub(crate) actions: bool,
    pub(crate) csrf: String,
}

fn row(office: pb::OfficeView) -> OfficeRow {
    let zone = TimeZone::get(&office.time_zone).unwrap_or(TimeZone::UTC);
    let state = office.state.as_ref();
    let last = state.and_then(|state| state.last.as_ref());
    let check_in = last.and_then(|last| last.check_in.as_ref());
    let pause = state
        .and_then(|state| state.pause.as_ref())
        .and_then(|pause| pause.pause.as_ref());
    OfficeRow {
        status: wk_proto::convert::watch_status_name(state),
        schedule: office.schedule,
        last: last.and_then(|last| when_of(last.at.as_ref(), &zone)),
        last_channel: check_in.map(|c| c.channel.clone()).unwrap_or_default(),
        last_status: check_in.map(|c| c.status.clone()).unwrap_or_default(),
        due: state.and_then(|state| when_of(state.due.as_ref(), &zone)),
        pause_reason: pause.map(|p| p.reason.clone()).unwrap_or_default(),
        paused_by: pause
            .and_then(|p| p.by.as_ref())
            .map(|by| by.actor.clone())
            .unwrap_or_default(),
        pause_until: pause.and_then(|p| when_of(p.until.as_ref(), &zone)),
        silence_alert: state.map(|s| s.silence_alert.clone()).unwrap_or_default(),
        id: office.office_id,
        name: office.name,
        place: office.place,
        country: office.country,
    }
}

fn table(state: &WebState, principal: &Principal, csrf: &str) -> OfficesTable {
    let rows = state.offices.as_ref().map_or_else(Vec::new, |offices| {
        offices
            .view()
            .list(principal.office_scope())
            .into_iter()
            .map(row)
            .collect()
    });
    OfficesTable {
        rows,
        actions: principal.may_act(),
        csrf: csrf.to_owned(),
    }
}

async fn offices_page(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("sign-in");
    };
    let seq = state
        .offices
        .as_ref()
        .map_or(0, |offices| offices.view().version());
    let table = table(&state, signed.principal(), &signed.session.csrf);
    let page = OfficesPage {
        seq,
        rows: table.rows,
        actions: table.actions,
        csrf: table.csrf,
        chrome: chrome("", "offices", Some(&signed)),
    };
    render(StatusCode::OK, &page)
}

/// `offices`: the whole table, rendered for this connection's person, on every change.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct EventsQuery {
    after: String,
}

async fn events(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let Some(signed) = signed_in(&state, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let Some(offices) = state.offices.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut changes = offices.view().subscribe();
    // Where the page (or the browser, reconnecting) stands: a change since is sent at once.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| query.after.parse().ok());
    let behind = after != Some(*changes.borrow_and_update());
    let (sender, receiver) = mpsc::channel::<Result<Event, Infallible>>(8);
    tokio::spawn(async move {
        let mut session = tokio::time::interval(SESSION_EVERY);
        let send = |version: u64| {
            let html = table(&state, signed.principal(), &signed.session.csrf)
                .render()
                .unwrap_or_default();
            let data = serde_json::json!({ "html": html }).to_string();
            Ok(Event::default()
                .event("offices")
                .id(version.to_string())
                .data(data))
        };
        let now = *changes.borrow();
        if behind && sender.send(send(now)).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                () = sender.closed() => return,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let version = *changes.borrow_and_update();
                    if sender.send(send(version)).await.is_err() {
                        return;
                    }
                }
                _ = session.tick() => {
                    if !session_live(&state, &signed.cookie) {
                        let _ = sender.send(Ok(Event::default().event("signed-out").data("{}"))).await;
                        return;
                    }
                }
            }
        }
    });
    Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// `pause` (with `reason` and optional `hours`) or `resume`, recorded with the officer's id
/// and the channel `console`.
async fn act(
    State(state): State<Arc<WebState>>,
    Path((id, action)): Path<(String, String)>,
    Post(signed, headers, fields): Post<2>,
) -> Response {
    let Some(offices) = state.offices.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let by = Responder {
        actor: signed.principal().id.clone(),
        channel: "console".into(),
    };
    let result = match action.as_str() {
        "pause" => {
            let hours = field(&fields, "hours").unwrap_or_default().trim();
            let until = match hours {
                "" => None,
                text => match text.parse::<u64>() {
                    Ok(hours) if (1..=MAX_HOURS).contains(&hours) => {
                        let millis = i64::try_from(hours * 3_600_000).unwrap_or(i64::MAX);
                        Some(crate::handlers::now().saturating_add_millis(millis))
                    }
                    _ => {
                        return refuse(
                            &headers,
                            StatusCode::BAD_REQUEST,
                            "../../",
                            "Not paused",
                            "Hours must be a whole number from 1 to 720, or empty.",
                        );
                    }
                },
            };
            let reason = field(&fields, "reason").unwrap_or_default();
            offices.pause(&id, reason, until, by).await
        }
        "resume" => offices.resume(&id, by).await,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    done_or_refused(result, &headers, "../../", "../../offices", "Not recorded")
}
