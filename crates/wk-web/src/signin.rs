//! Signing in and out: the sign-in form carries its own token (a cookie and a hidden field,
//! both random), passwords are verified on the blocking pool, failures are throttled per
//! account and per address, and a success opens a server-side session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use axum::response::Response;
use tracing::{info, warn};

use crate::guard::{
    Fields, Post, cookie, equal, field, same_origin, session_cookie, set_cookie, sign_in_cookie,
    signed_in,
};
use crate::handlers::{now, render, see_other};
use crate::views::{Chrome, SignInPage};
use crate::{WebState, password};

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

pub(crate) async fn sign_in_page(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
) -> Response {
    if signed_in(&state, &headers).is_some() {
        return see_other("./");
    }
    sign_in_form(&state, StatusCode::OK, None, "")
}

pub(crate) async fn sign_in(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(fields): Form<Fields>,
) -> Response {
    let token = field(&fields, "csrf").unwrap_or_default();
    let expected = cookie(&headers, sign_in_cookie(state.tls)).unwrap_or_default();
    let from_here = same_origin(&state, &headers);
    if !from_here || !equal(token, &expected) {
        warn!(
            same_origin = from_here,
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

pub(crate) async fn sign_out(
    State(state): State<Arc<WebState>>,
    Post(signed, ..): Post<0, false>,
) -> Response {
    state.sessions().close(&signed.cookie);
    let mut response = see_other("sign-in");
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state.tls, session_cookie(state.tls), "", Some(0)),
    );
    response
}
