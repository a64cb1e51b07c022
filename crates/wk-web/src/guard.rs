//! What every console request is checked against: the session cookie, the CSRF token and a
//! same-origin `Origin`; and the refusals, as a page or, for the script, as JSON.

use std::sync::Arc;

use axum::extract::{Form, FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::warn;

use crate::WebState;
use crate::handlers::{message, now};
use crate::session::{Principal, Session};

// ---- sessions and cookies -------------------------------------------------------------------

pub(crate) fn session_cookie(tls: bool) -> &'static str {
    if tls {
        "__Host-wk_session"
    } else {
        "wk_session"
    }
}

pub(crate) fn sign_in_cookie(tls: bool) -> &'static str {
    if tls {
        "__Host-wk_sign_in"
    } else {
        "wk_sign_in"
    }
}

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

pub(crate) fn set_cookie(tls: bool, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
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

pub(crate) fn equal(a: &str, b: &str) -> bool {
    use sha2::{Digest as _, Sha256};
    // Compared as digests, so timing says nothing about how much of the token was right.
    !a.is_empty() && Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// A POST must come from a page of this console: its `Origin` (sent by every browser on a
/// POST) is this listener's own or the configured public one; `Sec-Fetch-Site`, when sent,
/// says same-origin.
pub(crate) fn same_origin(state: &WebState, headers: &HeaderMap) -> bool {
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

pub(crate) type Fields = Vec<(String, String)>;

pub(crate) fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

pub(crate) fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .is_some_and(|value| value == "watchkeeper")
}

/// The checks of every signed-in POST: a live session, a same-origin request, its CSRF token
/// (in the form or the `X-CSRF-Token` header).
pub(crate) fn check_post(
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

pub(crate) fn refuse(
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

/// [`check_post`], for a duty officer's or an admin's action: an office may not act.
pub(crate) fn check_officer_post(
    state: &WebState,
    headers: &HeaderMap,
    fields: &Fields,
    root: &'static str,
) -> Result<Signed, Box<Response>> {
    let signed = check_post(state, headers, fields, root)?;
    if signed.principal().may_act() {
        Ok(signed)
    } else {
        Err(Box::new(refuse(
            headers,
            StatusCode::FORBIDDEN,
            root,
            "Not allowed",
            "Only duty officers acknowledge, resolve or annotate alerts.",
        )))
    }
}

/// A console POST that passed the checks, as a handler's last argument: its session, headers
/// and form fields. Checked by [`check_officer_post`] (a duty officer's or an admin's action),
/// or with `OFFICER = false` by [`check_post`] (anyone signed in). `DEPTH` is how many `../`
/// lead from the posting page's URL back to the console's root, where a refusal page links. A
/// refused request never reaches the handler.
pub(crate) struct Post<const DEPTH: usize, const OFFICER: bool = true>(
    pub(crate) Signed,
    pub(crate) HeaderMap,
    pub(crate) Fields,
);

const ROOTS: [&str; 3] = ["", "../", "../../"];

impl<const DEPTH: usize, const OFFICER: bool> FromRequest<Arc<WebState>> for Post<DEPTH, OFFICER> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<WebState>) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let Form(fields) = Form::<Fields>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let root = ROOTS[DEPTH];
        let signed = if OFFICER {
            check_officer_post(state, &headers, &fields, root)
        } else {
            check_post(state, &headers, &fields, root)
        }
        .map_err(|refusal| *refusal)?;
        Ok(Post(signed, headers, fields))
    }
}
