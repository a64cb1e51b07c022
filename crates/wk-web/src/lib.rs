//! Watchkeeper's web console, served by the api's HTTP listener under `/console/`: sign-in
//! with server-side sessions, the live board, the alert page and the officers' actions, which
//! go through the same `ConsoleService::record_action` as every other channel (as `console`).
//!
//! Pages are askama templates (compiled in, auto-escaped); live updates are server-sent
//! events carrying rows rendered here; one first-party script (`assets/console.js`, no eval,
//! no inline code) applies them. Every HTML response of the listener carries a strict
//! Content-Security-Policy (see [`security_headers`]).

pub mod board;
pub mod format;
mod guard;
mod handlers;
mod headcounts;
mod live;
mod offices;
pub mod password;
pub mod session;
mod signin;
mod silences;
pub mod throttle;
pub mod users;
pub mod views;

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use wk_api::console::ConsoleService;
use wk_api::view::StateView;
use wk_core::config::Config;

use crate::session::Sessions;
use crate::throttle::Throttle;
use crate::users::Users;

/// At most this many sessions per process (least recently used go first).
const MAX_SESSIONS: usize = 10_000;
/// At most this many accounts and addresses tracked for failed sign-ins.
const MAX_THROTTLED: usize = 100_000;

/// What the console's handlers share.
pub struct WebState {
    pub console: Arc<ConsoleService>,
    pub view: StateView,
    pub users: Users,
    sessions: Mutex<Sessions>,
    throttle: Mutex<Throttle>,
    /// Countries of each region id, for the board's `area` filter.
    pub regions: board::Regions,
    /// Region name of each country.
    pub region_of: views::RegionOf,
    /// Cookies are `Secure` (and `__Host-`) when the listener speaks TLS.
    pub tls: bool,
    /// Origins a POST may come from besides the listener's own (`links.base_url`'s).
    pub public_origin: Option<String>,
    /// The offices' check-in watches, when the api serves them.
    pub offices: Option<Arc<wk_api::offices::OfficeService>>,
    /// Silences and maintenance windows, when the api serves them.
    pub silences: Option<Arc<wk_api::silences::SilenceService>>,
    /// Staff headcounts, when a roster is configured.
    pub headcounts: Option<Arc<wk_api::headcounts::HeadcountService>>,
}

impl WebState {
    pub fn new(config: &Config, console: Arc<ConsoleService>, view: StateView) -> WebState {
        let directory = &config.policy.directory;
        WebState {
            console,
            view,
            users: Users::new(&config.duty_officers, &config.offices, &config.web),
            sessions: Mutex::new(Sessions::new(
                config.web.session_idle,
                config.web.session_max,
                MAX_SESSIONS,
            )),
            throttle: Mutex::new(Throttle::new(config.web.free_attempts, MAX_THROTTLED)),
            regions: directory
                .regions
                .iter()
                .map(|region| {
                    (
                        region.id.clone(),
                        region.countries.iter().cloned().collect(),
                    )
                })
                .collect(),
            region_of: directory
                .regions
                .iter()
                .flat_map(|region| {
                    region
                        .countries
                        .iter()
                        .map(|country| (country.clone(), region.name.clone()))
                })
                .collect(),
            tls: config.api.tls.is_some(),
            public_origin: config
                .links
                .as_ref()
                .map(|links| links.base_url.origin().ascii_serialization()),
            offices: None,
            silences: None,
            headcounts: None,
        }
    }

    /// Serves the silences page (and the board's reminders) from `silences`.
    pub fn with_silences(mut self, silences: Arc<wk_api::silences::SilenceService>) -> WebState {
        self.silences = Some(silences);
        self
    }

    /// Serves the headcounts pages from `headcounts`.
    pub fn with_headcounts(
        mut self,
        headcounts: Arc<wk_api::headcounts::HeadcountService>,
    ) -> WebState {
        self.headcounts = Some(headcounts);
        self
    }

    /// Serves the offices page from `offices`.
    pub fn with_offices(mut self, offices: Arc<wk_api::offices::OfficeService>) -> WebState {
        self.offices = Some(offices);
        self
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        self.throttle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The console's routes, under `/console`.
pub fn router(state: Arc<WebState>) -> Router {
    handlers::routes()
        .merge(offices::routes())
        .merge(silences::routes())
        .merge(headcounts::routes())
        .with_state(state)
}

/// The whole HTTP listener: email links and console callbacks (wk-api), the console, and the
/// security headers over all of them.
pub fn app(http: wk_api::http::HttpState, web: Arc<WebState>) -> Router {
    wk_api::http::router(http)
        .merge(router(web))
        .layer(axum::middleware::from_fn(security_headers))
}

/// The policy every response of the HTTP listener carries: nothing but this origin's own
/// scripts, styles and connections; no inline code, no eval, no framing, no plugins.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response: CSP, no sniffing, no referrer to other sites
/// (a link's signature never leaks to the map site; `no-referrer` would make browsers send
/// `Origin: null` on our own forms), no framing, and no caching of pages.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
