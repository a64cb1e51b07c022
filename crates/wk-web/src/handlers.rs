//! The console's HTTP handlers: sign-in and sign-out, the board, the alert page and the
//! officers' actions. Every POST needs a live session (or, to sign in, the sign-in form's
//! cookie), its CSRF token and a same-origin `Origin`.

use std::net::SocketAddr;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::{info, warn};
use wk_api::error::ApiError;
use wk_bus::codec::OfficerAction;
use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

use crate::board::{self, Filter, Tiles};
use crate::session::{Principal, Session};
use crate::views::{
    AlertPage, BoardPage, Chrome, Detail, MessagePage, Row, RowFragment, SEVERITIES, STATUSES,
    SignInPage, TilesFragment, UserLine,
};
use crate::{WebState, password};

const NOTE_CHARS: usize = 2_000;
const BULK_MAX: usize = 200;

pub(crate) fn routes() -> Router<Arc<WebState>> {
    Router::new()
        .route("/console", get(|| async { see_other("console/") }))
        .route("/console/", get(board_page))
        .route("/console/rows", get(rows))
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", post(sign_out))
        .route("/console/alerts/{id}", get(alert_page))
        .route("/console/alerts/{id}/{action}", post(act))
        .route("/console/bulk-acknowledge", post(bulk_acknowledge))
        .route("/console/events", get(crate::live::events))
        .route("/console/static/{name}", get(asset))
}

pub(crate) fn now() -> wk_core::Timestamp {
    wk_core::Timestamp::from_system_time(std::time::SystemTime::now())
}

fn see_other(location: &str) -> Response {
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

fn message(
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

fn chrome(root: &'static str, page: &'static str, signed: Option<&Signed>) -> Chrome {
    Chrome {
        root,
        page,
        csrf: signed.map(|s| s.session.csrf.clone()).unwrap_or_default(),
        user: signed.map(|s| UserLine::of(&s.session.principal)),
    }
}

// ---- sessions and cookies -------------------------------------------------------------------

fn session_cookie(tls: bool) -> &'static str {
    if tls {
        "__Host-wk_session"
    } else {
        "wk_session"
    }
}

fn sign_in_cookie(tls: bool) -> &'static str {
    if tls {
        "__Host-wk_sign_in"
    } else {
        "wk_sign_in"
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(tls: bool, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let age = max_age.map_or_else(String::new, |s| format!("; Max-Age={s}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

pub(crate) struct Signed {
    pub(crate) cookie: String,
    pub(crate) session: Session,
}

impl Signed {
    pub(crate) fn principal(&self) -> &Principal {
        &self.session.principal
    }
}

pub(crate) fn signed_in(state: &WebState, headers: &HeaderMap) -> Option<Signed> {
    let cookie = cookie(headers, session_cookie(state.tls))?;
    let session = state.sessions().touch(&cookie, now())?;
    Some(Signed { cookie, session })
}

pub(crate) fn session_live(state: &WebState, cookie: &str) -> bool {
    state.sessions().touch(cookie, now()).is_some()
}

fn equal(a: &str, b: &str) -> bool {
    use sha2::{Digest as _, Sha256};
    // Compared as digests, so timing says nothing about how much of the token was right.
    !a.is_empty() && Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// A POST must come from a page of this console: its `Origin` (sent by every browser on a
/// POST) is this listener's own or the configured public one; `Sec-Fetch-Site`, when sent,
/// says same-origin.
fn same_origin(state: &WebState, headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = text("origin") else {
        return true;
    };
    let scheme = if state.tls { "https" } else { "http" };
    let own = text("host").map(|host| format!("{scheme}://{host}"));
    own.as_deref() == Some(origin) || state.public_origin.as_deref() == Some(origin)
}

type Fields = Vec<(String, String)>;

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .is_some_and(|value| value == "watchkeeper")
}

/// The checks of every signed-in POST: a live session, a same-origin request, its CSRF token
/// (in the form or the `X-CSRF-Token` header).
fn check_post(
    state: &WebState,
    headers: &HeaderMap,
    fields: &Fields,
    root: &'static str,
) -> Result<Signed, Box<Response>> {
    let Some(signed) = signed_in(state, headers) else {
        return Err(Box::new(refuse(
            headers,
            StatusCode::UNAUTHORIZED,
            root,
            "Signed out",
            "Your session has ended. Sign in again; nothing was done.",
        )));
    };
    let token = field(fields, "csrf")
        .or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))
        .unwrap_or_default();
    if !same_origin(state, headers) || !equal(token, &signed.session.csrf) {
        warn!("console request refused: cross-site or without its CSRF token");
        return Err(Box::new(refuse(
            headers,
            StatusCode::FORBIDDEN,
            root,
            "Request refused",
            "This request did not come from a page of this console. Nothing was done; reload the page and try again.",
        )));
    }
    Ok(signed)
}

fn refuse(
    headers: &HeaderMap,
    status: StatusCode,
    root: &'static str,
    heading: &str,
    text: &str,
) -> Response {
    if wants_json(headers) {
        (
            status,
            axum::Json(serde_json::json!({ "ok": false, "message": text })),
        )
            .into_response()
    } else {
        message(status, root, heading, text, None)
    }
}

// ---- sign-in --------------------------------------------------------------------------------

fn sign_in_form(
    state: &WebState,
    status: StatusCode,
    message: Option<String>,
    user: &str,
) -> Response {
    let token = password::random_token(16);
    let page = SignInPage {
        chrome: Chrome {
            root: "",
            page: "sign-in",
            csrf: token.clone(),
            user: None,
        },
        message,
        user: user.to_owned(),
    };
    let mut response = render(status, &page);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.tls, sign_in_cookie(state.tls), &token, Some(3600)),
    );
    response
}

async fn sign_in_page(State(state): State<Arc<WebState>>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).is_some() {
        return see_other("./");
    }
    sign_in_form(&state, StatusCode::OK, None, "")
}

async fn sign_in(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(fields): Form<Fields>,
) -> Response {
    let token = field(&fields, "csrf").unwrap_or_default();
    let expected = cookie(&headers, sign_in_cookie(state.tls)).unwrap_or_default();
    if !same_origin(&state, &headers) || !equal(token, &expected) {
        warn!(
            same_origin = same_origin(&state, &headers),
            has_form_cookie = !expected.is_empty(),
            "console sign-in form refused: cross-site, or its token expired"
        );
        return sign_in_form(
            &state,
            StatusCode::FORBIDDEN,
            Some(
                "The sign-in form had expired or did not come from this console. Try again.".into(),
            ),
            "",
        );
    }
    let user = field(&fields, "user").unwrap_or_default().trim().to_owned();
    let secret = field(&fields, "password").unwrap_or_default().to_owned();
    let address = extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
    let (user_key, address_key) = (format!("account:{user}"), format!("address:{address}"));
    let at = now();
    let wait = {
        let throttle = state.throttle();
        throttle
            .check(&user_key, at)
            .and(throttle.check(&address_key, at))
    };
    if let Err(wait) = wait {
        metrics::counter!("watchkeeper_console_sign_ins_total", "outcome" => "throttled")
            .increment(1);
        return sign_in_form(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            Some(format!(
                "Too many failed sign-ins. Wait {} s, then try again.",
                wait.as_secs().max(1)
            )),
            &user,
        );
    }
    let checking = Arc::clone(&state);
    let name = user.clone();
    let principal =
        tokio::task::spawn_blocking(move || checking.users.authenticate(&name, &secret))
            .await
            .ok()
            .flatten();
    let Some(principal) = principal else {
        {
            let mut throttle = state.throttle();
            throttle.failed(&user_key, at);
            throttle.failed(&address_key, at);
        }
        metrics::counter!("watchkeeper_console_sign_ins_total", "outcome" => "refused")
            .increment(1);
        // The typed account name is not logged: it is sometimes a password.
        warn!(
            known_account = state.users.known(&user),
            "console sign-in refused"
        );
        return sign_in_form(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Account or password not recognised.".into()),
            &user,
        );
    };
    state.throttle().succeeded(&user_key);
    let id = password::random_token(32);
    info!(account = %principal.id, "console sign-in");
    metrics::counter!("watchkeeper_console_sign_ins_total", "outcome" => "accepted").increment(1);
    state
        .sessions()
        .open(&id, password::random_token(32), principal, now());
    let mut response = see_other("./");
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(state.tls, session_cookie(state.tls), &id, None),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(state.tls, sign_in_cookie(state.tls), "", Some(0)),
    );
    response
}

async fn sign_out(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let signed = match check_post(&state, &headers, &fields, "") {
        Ok(signed) => signed,
        Err(response) => return *response,
    };
    state.sessions().close(&signed.cookie);
    let mut response = see_other("sign-in");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.tls, session_cookie(state.tls), "", Some(0)),
    );
    response
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
    let (states, total) = state.view.select(
        |alert| board::may_see(principal, alert) && filter.matches(alert),
        board::order,
        board::PAGE,
    );
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
    };
    render(StatusCode::OK, &page)
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
    board::may_see(principal, &alert).then(|| for_principal(principal, &alert))
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
    let Some(alert) = visible_alert(&state, signed.principal(), &id) else {
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

fn action_error(error: &ApiError) -> (StatusCode, String) {
    match error {
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
        other => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("Not recorded ({other}). Try again."),
        ),
    }
}

async fn act(
    State(state): State<Arc<WebState>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let signed = match check_post(&state, &headers, &fields, "../../") {
        Ok(signed) => signed,
        Err(response) => return *response,
    };
    let principal = signed.principal();
    if !principal.may_act() {
        return refuse(
            &headers,
            StatusCode::FORBIDDEN,
            "../../",
            "Not allowed",
            "Only duty officers acknowledge, resolve or annotate alerts.",
        );
    }
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
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    let signed = match check_post(&state, &headers, &fields, "") {
        Ok(signed) => signed,
        Err(response) => return *response,
    };
    let principal = signed.principal();
    if !principal.may_act() {
        return refuse(
            &headers,
            StatusCode::FORBIDDEN,
            "",
            "Not allowed",
            "Only duty officers acknowledge alerts.",
        );
    }
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
