//! Live updates by server-sent events: `GET /console/events?after=N&<board filters>` (or
//! `?alert=<id>` for one alert's page). Each change the api's view applies is sent, numbered,
//! to every connection that may see it: as a rendered `row` when it matches the board's
//! filters, as `gone` when it no longer does, as `detail` to the alert's page; `tiles` follow
//! at most once a second. A connection that resumes (`Last-Event-ID`, or `after`) first gets
//! what it missed from the view's journal, or `reload` when that is no longer kept.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template as _;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use wk_api::view::{Change, Row as ViewRow};

use crate::WebState;
use crate::board::{self, Filter};
use crate::guard::{Signed, session_live, signed_in};
use crate::handlers::{for_principal, tiles};
use crate::views::{Detail, LiveFragment, Row, RowFragment, TilesFragment};

/// How often tiles may be re-sent, and the session re-checked.
const TILES_EVERY: Duration = Duration::from_secs(1);
const SESSION_EVERY: Duration = Duration::from_secs(30);

/// The board's own filters, or `alert` for one alert's page; `after` where the page stands.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EventsQuery {
    #[serde(flatten)]
    board: board::Query,
    alert: String,
    after: String,
}

enum Mode {
    Board(Filter),
    Alert(String),
}

pub(crate) async fn events(
    State(state): State<Arc<WebState>>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(signed) = signed_in(&state, &headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let query = query.map(|Query(q)| q).unwrap_or_default();
    // The browser's own resumption point wins over the page's.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .or_else(|| query.after.parse().ok());
    let mode = if query.alert.is_empty() {
        Mode::Board(Filter::new(&query.board, &state.regions))
    } else {
        Mode::Alert(query.alert)
    };
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(run(state, signed, mode, after, sender));
    Sse::new(ReceiverStream::new(receiver))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

type Sender = mpsc::Sender<Result<Event, Infallible>>;

struct Connection {
    state: Arc<WebState>,
    signed: Signed,
    mode: Mode,
    sender: Sender,
    tiles_due: bool,
}

struct Gauge;

impl Gauge {
    fn new() -> Gauge {
        metrics::gauge!("watchkeeper_console_connections").increment(1.0);
        Gauge
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        metrics::gauge!("watchkeeper_console_connections").decrement(1.0);
    }
}

async fn run(state: Arc<WebState>, signed: Signed, mode: Mode, after: Option<u64>, sender: Sender) {
    let _gauge = Gauge::new();
    let (head, mut changes) = state.view.subscribe_from();
    let mut connection = Connection {
        state,
        signed,
        mode,
        sender,
        tiles_due: false,
    };
    let mut last = head;
    // Behind: replay what was missed. Ahead: numbers from before this process restarted.
    if let Some(after) = after.filter(|after| *after != head) {
        match connection.state.view.changes_since(after) {
            Some(missed) => {
                for change in missed {
                    last = last.max(change.seq);
                    if !connection.send_change(&change).await {
                        return;
                    }
                }
            }
            None => {
                if !connection
                    .send(Event::default().event("reload").data("{}"))
                    .await
                {
                    return;
                }
            }
        }
    }
    let mut tiles = tokio::time::interval(TILES_EVERY);
    let mut session = tokio::time::interval(SESSION_EVERY);
    loop {
        tokio::select! {
            () = connection.sender.closed() => return,
            change = changes.recv() => match change {
                Ok(change) if change.seq <= last => {}
                Ok(change) => {
                    last = change.seq;
                    if !connection.send_change(&change).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Too slow to follow: the page reloads its list and resumes from there.
                    let _ = connection.send(Event::default().event("reload").data("{}")).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tiles.tick() => {
                if connection.tiles_due && !connection.send_tiles().await {
                    return;
                }
            }
            _ = session.tick() => {
                if !session_live(&connection.state, &connection.signed.cookie) {
                    let _ = connection.send(Event::default().event("signed-out").data("{}")).await;
                    return;
                }
            }
        }
    }
}

impl Connection {
    async fn send(&self, event: Event) -> bool {
        self.sender.send(Ok(event)).await.is_ok()
    }

    async fn send_tiles(&mut self) -> bool {
        self.tiles_due = false;
        let tiles = tiles(&self.state, self.signed.principal());
        let html = TilesFragment { tiles }.render().unwrap_or_default();
        let data = serde_json::json!({
            "html": html,
            "unacknowledged": tiles.unacknowledged,
            "alarming": tiles.alarming,
        });
        self.send(Event::default().event("tiles").data(data.to_string()))
            .await
    }

    /// Sends what `change` means to this connection, if anything.
    async fn send_change(&mut self, change: &Change) -> bool {
        let principal = self.signed.principal();
        let Some(state) = change
            .state()
            .filter(|state| board::may_see(principal, &ViewRow::of(state)))
        else {
            return true;
        };
        let alert = for_principal(principal, &state);
        let id = change.seq.to_string();
        let event = match &self.mode {
            Mode::Board(filter) => {
                self.tiles_due = true;
                if filter.matches_state(&alert) {
                    let now_ms = crate::handlers::now().as_unix_millis();
                    let row = Row::new(&alert, principal, &self.state.region_of, now_ms);
                    let html = RowFragment {
                        root: "",
                        row: &row,
                    }
                    .render()
                    .unwrap_or_default();
                    let data = serde_json::json!({
                        "id": row.id,
                        "sev": row.severity.rank,
                        "at": row.first_seen.millis,
                        "html": html,
                    });
                    Event::default().event("row").id(id).data(data.to_string())
                } else {
                    let data = serde_json::json!({ "id": alert.alert_id });
                    Event::default().event("gone").id(id).data(data.to_string())
                }
            }
            Mode::Alert(wanted) => {
                if alert.alert_id != *wanted {
                    return true;
                }
                let detail = Detail::new(&alert, &principal.time_zone, &self.state.region_of);
                let html = LiveFragment {
                    csrf: &self.signed.session.csrf,
                    actions: principal.may_act(),
                    detail: &detail,
                }
                .render()
                .unwrap_or_default();
                let data = serde_json::json!({ "html": html, "status": detail.status });
                Event::default()
                    .event("detail")
                    .id(id)
                    .data(data.to_string())
            }
        };
        metrics::counter!("watchkeeper_console_events_total").increment(1);
        self.send(event).await
    }
}
