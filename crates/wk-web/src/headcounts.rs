//! The headcounts pages: every headcount with its counts, a form to start one; one headcount
//! with its counts by office and warden zone, each person's latest answer (when, how, who
//! recorded it, how long ago), a form to close it, and its CSV export. Duty officers only;
//! while the headcount is open its counts and people are fetched again every 10 s. Every form goes through
//! the same `HeadcountService` as the gRPC API and the CLI.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use wk_proto::v1 as pb;

use crate::WebState;
use crate::format::{When, when_of};
use crate::guard::{Fields, Post, field, refuse, signed_in};
use crate::handlers::{chrome, done_or_refused, render, see_other};
use crate::views::Chrome;

pub(crate) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/console/headcounts", get(list_page).post(start))
        .route("/console/headcounts/{id}", get(detail_page))
        .route("/console/headcounts/{id}/close", post(close))
        .route("/console/headcounts/{id}/export.csv", get(export))
}

pub(crate) struct CountsRow {
    pub(crate) name: String,
    pub(crate) safe: u32,
    pub(crate) need_help: u32,
    pub(crate) not_in_area: u32,
    pub(crate) unaccounted: u32,
    pub(crate) unreachable: u32,
}

fn counts(counts: &pb::HeadcountCounts) -> CountsRow {
    CountsRow {
        name: counts.name.clone(),
        safe: counts.safe,
        need_help: counts.need_help,
        not_in_area: counts.not_in_area,
        unaccounted: counts.unaccounted,
        unreachable: counts.unreachable,
    }
}

pub(crate) struct HeadcountRow {
    pub(crate) id: String,
    pub(crate) scope: String,
    pub(crate) started: Option<When>,
    pub(crate) by: String,
    pub(crate) drill: bool,
    pub(crate) closed: bool,
    pub(crate) all: CountsRow,
}

fn row(view: &pb::HeadcountView, zone: &jiff::tz::TimeZone) -> HeadcountRow {
    // Only the header is copied, never the people (ten thousand of them, in a large one).
    let header = pb::HeadcountState::default();
    let state = view.state.as_ref().unwrap_or(&header);
    HeadcountRow {
        id: state.id.clone(),
        scope: state.scope.clone(),
        started: when_of(state.started_at.as_ref(), zone),
        by: state.started_by.clone(),
        drill: state.drill,
        closed: state.closed.is_some(),
        all: counts(&view.all.clone().unwrap_or_default()),
    }
}

/// The most people a headcount's page lists: the most urgent first (need help, unaccounted,
/// unreachable, not in the area, safe); the CSV export has everyone.
pub(crate) const PEOPLE_SHOWN: usize = 500;

fn urgency(standing: &str) -> u8 {
    match standing {
        "need help" => 0,
        "unaccounted" => 1,
        "unreachable" => 2,
        "not in area" => 3,
        "safe" => 4,
        _ => 5,
    }
}

pub(crate) struct PersonRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) office: String,
    pub(crate) zone: String,
    pub(crate) standing: &'static str,
    pub(crate) at: Option<When>,
    pub(crate) ago: String,
    pub(crate) how: String,
    pub(crate) said: String,
    pub(crate) late: bool,
}

fn person_row(person: &pb::HeadcountPerson, zone: &jiff::tz::TimeZone, now_ms: i64) -> PersonRow {
    let member = person.member.clone().unwrap_or_default();
    let answer = person.answers.last();
    let at_ms = answer.and_then(|a| crate::format::millis(a.at.as_ref()));
    PersonRow {
        standing: wk_api::headcounts::standing_name(person),
        at: answer.and_then(|a| when_of(a.at.as_ref(), zone)),
        ago: at_ms.map_or_else(String::new, |at| crate::format::age(at, now_ms)),
        how: answer.map_or_else(String::new, |a| match a.via.as_str() {
            "link" => "own link".to_owned(),
            via => format!("{via} {} ({})", a.by, a.method),
        }),
        said: answer.map_or_else(String::new, |a| {
            [a.text.as_str(), a.place.as_str()]
                .into_iter()
                .filter(|text| !text.is_empty())
                .collect::<Vec<_>>()
                .join(" — ")
        }),
        late: answer.is_some_and(|a| a.late),
        id: member.id,
        name: member.name,
        office: member.office,
        zone: member.zone,
    }
}

#[derive(Template)]
#[template(path = "headcounts.html")]
pub(crate) struct ListPage {
    pub(crate) chrome: Chrome,
    pub(crate) csrf: String,
    pub(crate) rows: Vec<HeadcountRow>,
    /// Prefilled from an alert's page: the alert and its country.
    pub(crate) alert_id: String,
    pub(crate) country: String,
}

/// `?alert=…&country=…`, from an alert's "start a headcount" link.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Prefill {
    #[serde(default)]
    alert: String,
    #[serde(default)]
    country: String,
}

#[derive(Template)]
#[template(path = "headcount.html")]
pub(crate) struct DetailPage {
    pub(crate) chrome: Chrome,
    pub(crate) csrf: String,
    pub(crate) headcount: HeadcountRow,
    pub(crate) offices: Vec<CountsRow>,
    pub(crate) zones: Vec<CountsRow>,
    pub(crate) people: Vec<PersonRow>,
    /// Everyone in the headcount (`people` shows the most urgent `PEOPLE_SHOWN`).
    pub(crate) total: usize,
    pub(crate) summary: String,
    pub(crate) unaccounted_at_close: Vec<String>,
    /// Unaccounted at closing beyond those listed.
    pub(crate) unaccounted_more: usize,
}

fn now_ms() -> i64 {
    crate::handlers::now().as_unix_millis()
}

async fn list_page(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Query(prefill): Query<Prefill>,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("sign-in");
    };
    let principal = signed.principal();
    let (Some(headcounts), true) = (&state.headcounts, principal.may_act()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let page = ListPage {
        rows: headcounts
            .list()
            .iter()
            .map(|view| row(view, &principal.time_zone))
            .collect(),
        csrf: signed.session.csrf.clone(),
        alert_id: prefill.alert,
        country: prefill.country,
        chrome: chrome("", "headcounts", Some(&signed)),
    };
    render(StatusCode::OK, &page)
}

async fn detail_page(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("../sign-in");
    };
    let principal = signed.principal();
    let (Some(headcounts), true) = (&state.headcounts, principal.may_act()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(view) = headcounts.view_of(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let zone = &principal.time_zone;
    let now = now_ms();
    let header = pb::HeadcountState::default();
    let state_pb = view.state.as_ref().unwrap_or(&header);
    let mut people: Vec<&pb::HeadcountPerson> = state_pb.people.iter().collect();
    // Stable: within a standing, the roster's order.
    people.sort_by_key(|person| urgency(wk_api::headcounts::standing_name(person)));
    let mut unaccounted_at_close = state_pb.unaccounted_at_close.clone();
    let unaccounted_more = unaccounted_at_close.len().saturating_sub(PEOPLE_SHOWN);
    unaccounted_at_close.truncate(PEOPLE_SHOWN);
    let page = DetailPage {
        headcount: row(&view, zone),
        offices: view.offices.iter().map(counts).collect(),
        zones: view.zones.iter().map(counts).collect(),
        total: people.len(),
        people: people
            .into_iter()
            .take(PEOPLE_SHOWN)
            .map(|person| person_row(person, zone, now))
            .collect(),
        summary: state_pb
            .closed
            .as_ref()
            .map(|closed| closed.summary.clone())
            .unwrap_or_default(),
        unaccounted_at_close,
        unaccounted_more,
        csrf: signed.session.csrf.clone(),
        chrome: chrome("../", "headcounts", Some(&signed)),
    };
    render(StatusCode::OK, &page)
}

fn scope_request(fields: &Fields) -> pb::StartHeadcountRequest {
    let text = |name: &str| field(fields, name).unwrap_or_default().trim().to_owned();
    let list = |name: &str| {
        text(name)
            .split([',', ' ', '\n'])
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    pb::StartHeadcountRequest {
        country: text("country"),
        offices: list("offices"),
        zones: list("zones"),
        people: list("people"),
        drill: text("drill") == "yes",
        alert_id: text("alert_id"),
        cycle_minutes: text("cycle_minutes").parse().unwrap_or(0),
        cycles: text("cycles").parse().unwrap_or(0),
    }
}

async fn start(
    State(state): State<Arc<WebState>>,
    Post(signed, headers, fields): Post<0>,
) -> Response {
    let Some(headcounts) = &state.headcounts else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match headcounts
        .start(&signed.principal().id, scope_request(&fields))
        .await
    {
        Ok(started) => see_other(&format!("headcounts/{}", started.headcount_id)),
        Err(error) => done_or_refused::<()>(Err(error), &headers, "", "headcounts", "Not started"),
    }
}

async fn close(
    State(state): State<Arc<WebState>>,
    Path(id): Path<String>,
    Post(signed, headers, fields): Post<2>,
) -> Response {
    let Some(headcounts) = &state.headcounts else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let summary = field(&fields, "summary").unwrap_or_default().to_owned();
    if summary.trim().is_empty() {
        return refuse(
            &headers,
            StatusCode::BAD_REQUEST,
            "../../",
            "Not closed",
            "A closing summary is required.",
        );
    }
    let closed = headcounts
        .close(&signed.principal().id, &id, &summary)
        .await;
    done_or_refused(
        closed,
        &headers,
        "../../",
        &format!("headcounts/{id}"),
        "Not closed",
    )
}

async fn export(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return see_other("../../sign-in");
    };
    let (Some(headcounts), true) = (&state.headcounts, signed.principal().may_act()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(view) = headcounts.view_of(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let text = wk_api::headcounts::export_csv(&view.state.unwrap_or_default());
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"headcount-{id}.csv\""))
    {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
}
