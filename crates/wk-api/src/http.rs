//! The api's HTTP surface: one-click email links and console callbacks, both ending in the same
//! `ConsoleService::record_action` as the gRPC API, and `/healthz`.
//!
//! Email links: `GET /a/{alert}/{action}?i=&r=&e=&s=` verifies the link and shows a
//! confirmation page whose button posts the same fields, so a mail scanner that prefetches
//! links cannot act by accident; `POST` verifies again and records the action with the
//! recipient as actor. Forged or altered links get 403, expired ones 410, a link issued for an
//! earlier incident of the alert (resolved and raised again since) 409, each with a page that
//! says so.
//!
//! Console callbacks: `POST /callbacks/{console}` with a JSON body
//! `{"alert_id": "...", "incident": 1, "action": "acknowledge"|"resolve", "actor": "name"}`
//! (the incident from the webhook being answered), signed like our webhooks
//! (`Watchkeeper-Signature: t=…,v1=…` with the console's signing secret); a callback for
//! another incident gets 409.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wk_bus::codec::OfficerAction;
use wk_core::alert::AlertId;
use wk_core::config::{Console, LinksConfig};
use wk_core::links::{LinkAction, LinkError, LinkFields};
use wk_core::signing::{DEFAULT_TOLERANCE_SECONDS, SIGNATURE_HEADER};

use crate::console::ConsoleService;
use crate::error::ApiError;
use crate::ingest::now;
use crate::pages::{page, page_about, standing, summary};

pub struct HttpState {
    pub console: Arc<ConsoleService>,
    pub links: Option<LinksConfig>,
    pub consoles: BTreeMap<String, Console>,
}

fn officer_action(action: LinkAction) -> OfficerAction {
    match action {
        LinkAction::Acknowledge => OfficerAction::Acknowledge,
        LinkAction::Resolve => OfficerAction::Resolve,
    }
}

/// Why a link was refused.
#[derive(Debug)]
pub enum Refusal {
    NotALink,
    Link(LinkError),
}

impl Refusal {
    /// The page that says so.
    fn page(self) -> Response {
        match self {
            Refusal::NotALink => page(
                StatusCode::NOT_FOUND,
                "Unknown link",
                "<p>This address is not a Watchkeeper link.</p>",
            ),
            Refusal::Link(LinkError::Forged) => page(
                StatusCode::FORBIDDEN,
                "Link refused",
                "<p>This link is not valid: it was altered or not issued by Watchkeeper. Nothing was done.</p>\
                 <p>Use the link in your alert email as it is, or act from the operations console.</p>",
            ),
            Refusal::Link(LinkError::Expired) => page(
                StatusCode::GONE,
                "Link expired",
                "<p>This link has expired. Nothing was done. Act from the operations console or the CLI.</p>",
            ),
        }
    }
}

/// Checks a link against the configured secrets and the clock.
fn check_link(
    state: &HttpState,
    alert: &str,
    action: &str,
    fields: &LinkFields,
) -> Result<(AlertId, LinkAction), Refusal> {
    verify_link(
        state.links.as_ref(),
        alert,
        action,
        (
            fields.incident,
            &fields.recipient,
            fields.expires,
            &fields.signature,
        ),
        now(),
    )
}

/// Verifies a one-click link's path (`alert`, `action`) and fields (incident, recipient,
/// expiry in unix seconds, signature) at `now`: what the link handlers decide before acting.
/// Pure, for the fuzzer as much as for the handlers.
pub fn verify_link(
    links: Option<&LinksConfig>,
    alert: &str,
    action: &str,
    (incident, recipient, expires, signature): (u32, &str, i64, &str),
    now: wk_core::Timestamp,
) -> Result<(AlertId, LinkAction), Refusal> {
    let (Ok(id), Some(action), Some(links)) =
        (alert.parse::<AlertId>(), LinkAction::parse(action), links)
    else {
        return Err(Refusal::NotALink);
    };
    let link = wk_core::links::Link {
        alert: id,
        incident,
        action,
        recipient,
        expires,
    };
    link.verify(&links.secrets, signature, now)
        .map(|()| (id, action))
        .map_err(Refusal::Link)
}

/// The page for a link or callback issued for an earlier incident.
fn wrong_incident_page(id: AlertId, error: &ApiError) -> Response {
    page(
        StatusCode::CONFLICT,
        "Link for an earlier incident",
        &format!(
            "<p>This link for alert <code>{id}</code> was {}.</p>\
             <p>Act on the current incident from the operations console, the CLI, or the link in its own email.</p>",
            html_escape::encode_text(&error.to_string())
        ),
    )
}

async fn confirm(
    State(state): State<Arc<HttpState>>,
    Path((alert, action)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    // A truncated or mangled link is refused like a forged one, with the same clear page.
    let Some(fields) = LinkFields::parse(query.as_deref().unwrap_or_default()) else {
        return Refusal::Link(LinkError::Forged).page();
    };
    let (id, action) = match check_link(&state, &alert, &action, &fields) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.page(),
    };
    let current = state.console.state_of(id);
    if let Some(current) = &current
        && current.incident != fields.incident
    {
        let error = ApiError::WrongIncident {
            issued_for: fields.incident,
            current: current.incident,
        };
        return wrong_incident_page(id, &error);
    }
    let about = current.as_ref().map(summary).unwrap_or_default();
    let settled = current.as_ref().and_then(|current| {
        let resolved = current.status == wk_proto::v1::AlertStatus::Resolved as i32;
        let acknowledged = current.status == wk_proto::v1::AlertStatus::Acknowledged as i32;
        match action {
            LinkAction::Acknowledge if resolved || acknowledged => Some(standing(current)),
            LinkAction::Resolve if resolved => Some(standing(current)),
            _ => None,
        }
    });
    if let Some(standing) = settled {
        let body = format!(
            "{about}<p>Nothing to do: this alert is already {}.</p>",
            html_escape::encode_text(&standing)
        );
        return page_about(
            StatusCode::OK,
            &format!("Already {}", first_word(&standing)),
            &body,
            Some(id),
        );
    }
    let verb = match action {
        LinkAction::Acknowledge => "Acknowledge",
        LinkAction::Resolve => "Resolve",
    };
    let attr = |text: &str| html_escape::encode_double_quoted_attribute(text).into_owned();
    // No `action`: the form posts to this very address, so the page works behind a reverse
    // proxy that serves Watchkeeper under a path prefix.
    let body = format!(
        "{about}<p>{verb} this alert as <strong>{recipient}</strong>?</p>\
         <form method=\"post\">\
         <input type=\"hidden\" name=\"i\" value=\"{i}\">\
         <input type=\"hidden\" name=\"r\" value=\"{r}\"><input type=\"hidden\" name=\"e\" value=\"{e}\">\
         <input type=\"hidden\" name=\"s\" value=\"{s}\">\
         <button type=\"submit\" class=\"primary big\">{verb} alert</button></form>\
         <p><small>Alert <code>{id}</code></small></p>",
        recipient = html_escape::encode_text(&fields.recipient),
        i = fields.incident,
        r = attr(&fields.recipient),
        e = fields.expires,
        s = attr(&fields.signature),
    );
    page_about(StatusCode::OK, &format!("{verb} alert"), &body, Some(id))
}

/// "acknowledged by …" → "acknowledged".
fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or(text)
}

async fn act_on_link(
    State(state): State<Arc<HttpState>>,
    Path((alert, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(fields) = std::str::from_utf8(&body).ok().and_then(LinkFields::parse) else {
        return Refusal::Link(LinkError::Forged).page();
    };
    let (id, action) = match check_link(&state, &alert, &action, &fields) {
        Ok(checked) => checked,
        Err(refusal) => return refusal.page(),
    };
    let result = state
        .console
        .record_action(
            &id.to_string(),
            officer_action(action),
            fields.recipient.clone(),
            "email-link",
            Some(fields.incident),
        )
        .await;
    match (result, action) {
        (Ok(response), _) if response.already_acknowledged_by.is_some() => {
            let by = response.already_acknowledged_by.unwrap_or_default();
            page_about(
                StatusCode::OK,
                "Already acknowledged",
                &format!(
                    "<p>Alert <code>{id}</code> was already acknowledged by {} ({}).</p>",
                    html_escape::encode_text(&by.actor),
                    html_escape::encode_text(&by.channel)
                ),
                Some(id),
            )
        }
        (Ok(_), LinkAction::Acknowledge) => page_about(
            StatusCode::OK,
            "Alert acknowledged",
            &format!("<p>Alert <code>{id}</code> is acknowledged: its escalation stops.</p>"),
            Some(id),
        ),
        (Ok(_), LinkAction::Resolve) => page_about(
            StatusCode::OK,
            "Alert resolved",
            &format!("<p>Alert <code>{id}</code> is resolved.</p>"),
            Some(id),
        ),
        (Err(ApiError::NotFound(_)), _) => page(
            StatusCode::NOT_FOUND,
            "Unknown alert",
            "<p>No such alert.</p>",
        ),
        (Err(error @ ApiError::WrongIncident { .. }), _) => wrong_incident_page(id, &error),
        (Err(error), _) => page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not recorded",
            &format!(
                "<p>The action was not recorded ({}). Try again.</p>",
                html_escape::encode_text(&error.to_string())
            ),
        ),
    }
}

#[derive(Deserialize)]
struct Callback {
    alert_id: String,
    /// The incident of the webhook being answered.
    incident: u32,
    action: String,
    actor: String,
}

fn json_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// A console callback, verified and checked: what to record.
#[derive(Debug, PartialEq, Eq)]
pub struct CallbackAction {
    pub alert_id: String,
    pub action: OfficerAction,
    /// `<console>/<actor>`.
    pub actor: String,
    pub incident: u32,
}

/// Why a console callback was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallbackRefusal {
    #[error(transparent)]
    Unsigned(#[from] wk_core::signing::SignatureError),
    #[error("{0}")]
    Malformed(&'static str),
}

/// Verifies a console callback's `Watchkeeper-Signature` over `body` with the console's
/// secrets at `now`, then parses and checks the body. Pure, for the fuzzer as much as for the
/// handler.
pub fn verify_callback(
    console_name: &str,
    console: &Console,
    signature: &str,
    body: &[u8],
    now: wk_core::Timestamp,
) -> Result<CallbackAction, CallbackRefusal> {
    wk_core::signing::verify(
        signature,
        body,
        &console.signing_secrets,
        now,
        DEFAULT_TOLERANCE_SECONDS,
    )?;
    let request = serde_json::from_slice::<Callback>(body).map_err(|_| {
        CallbackRefusal::Malformed(
            "body must be {\"alert_id\", \"incident\", \"action\", \"actor\"}",
        )
    })?;
    let action = match request.action.as_str() {
        "acknowledge" => OfficerAction::Acknowledge,
        "resolve" => OfficerAction::Resolve,
        _ => {
            return Err(CallbackRefusal::Malformed(
                "action must be acknowledge or resolve",
            ));
        }
    };
    let actor = request.actor.trim();
    if actor.is_empty() || request.actor.len() > 200 {
        return Err(CallbackRefusal::Malformed(
            "actor must have 1..=200 characters",
        ));
    }
    Ok(CallbackAction {
        alert_id: request.alert_id,
        action,
        actor: format!("{console_name}/{actor}"),
        incident: request.incident,
    })
}

async fn callback(
    State(state): State<Arc<HttpState>>,
    Path(console): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(config) = state.consoles.get(&console) else {
        return json_error(StatusCode::NOT_FOUND, "unknown console");
    };
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let request = match verify_callback(&console, config, signature, &body, now()) {
        Ok(request) => request,
        Err(error @ CallbackRefusal::Unsigned(_)) => {
            return json_error(StatusCode::UNAUTHORIZED, &error.to_string());
        }
        Err(error @ CallbackRefusal::Malformed(_)) => {
            return json_error(StatusCode::BAD_REQUEST, &error.to_string());
        }
    };
    match state
        .console
        .record_action(
            &request.alert_id,
            request.action,
            request.actor,
            "console-callback",
            Some(request.incident),
        )
        .await
    {
        Ok(response) => axum::Json(serde_json::json!({
            "alert_id": response.alert_id,
            "already_acknowledged_by": response.already_acknowledged_by.map(|by| serde_json::json!({"actor": by.actor, "channel": by.channel})),
        }))
        .into_response(),
        Err(ApiError::NotFound(_)) => json_error(StatusCode::NOT_FOUND, "unknown alert"),
        Err(error @ ApiError::WrongIncident { .. }) => {
            json_error(StatusCode::CONFLICT, &error.to_string())
        }
        Err(ApiError::BadAlertId(_)) => json_error(StatusCode::BAD_REQUEST, "alert_id is not a UUID"),
        Err(error) => json_error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/a/{alert}/{action}", get(confirm).post(act_on_link))
        .route("/callbacks/{console}", post(callback))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Arc::new(state))
}

/// Serves `router` (this module's routes, and the web console's) until `shutdown`, over TLS
/// when `tls` is given (server certificate only: browsers and consoles do not present client
/// certificates). Handlers see the peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve_http(
    listener: TcpListener,
    router: Router,
    tls: Option<crate::server::TlsMaterial>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let Some(tls) = tls else {
        return axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    };
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(tls.cert, tls.key).await?;
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopping.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    axum_server::from_tcp_rustls(listener.into_std()?, config)?
        .handle(handle)
        .serve(router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}
