//! The consoles' stand-in: an HTTP server on loopback that records when the first webhook for
//! each alert reached each console (Manila is step 1, Panama step 2), and counts repeats.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

#[derive(Deserialize)]
struct Body {
    delivery_id: String,
    alert: BodyAlert,
}

#[derive(Deserialize)]
struct BodyAlert {
    id: String,
}

#[derive(Default)]
pub(crate) struct Console {
    /// First arrival per alert id.
    pub(crate) first: HashMap<String, Instant>,
    pub(crate) deliveries: HashSet<String>,
    pub(crate) repeats: u64,
}

#[derive(Default)]
struct Shared {
    manila: Mutex<Console>,
    panama: Mutex<Console>,
}

pub(crate) struct Receiver {
    pub(crate) address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(console): Path<String>,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let Ok(body) = serde_json::from_slice::<Body>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let console = match console.as_str() {
        "manila" => &shared.manila,
        "panama" => &shared.panama,
        _ => return StatusCode::NOT_FOUND,
    };
    let mut console = console.lock().unwrap_or_else(PoisonError::into_inner);
    if !console.deliveries.insert(body.delivery_id) {
        console.repeats += 1;
    }
    console.first.entry(body.alert.id).or_insert(now);
    StatusCode::OK
}

/// Serves `app` on a free loopback port until the returned task is aborted.
pub(crate) async fn serve(
    app: axum::Router,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((address, server))
}

impl Receiver {
    pub(crate) async fn start() -> anyhow::Result<Receiver> {
        let shared = Arc::new(Shared::default());
        let (address, server) = serve(
            axum::Router::new()
                .route("/{console}", axum::routing::post(receive))
                .with_state(shared.clone()),
        )
        .await?;
        Ok(Receiver {
            address,
            shared,
            server,
        })
    }

    pub(crate) fn manila<T>(&self, f: impl FnOnce(&Console) -> T) -> T {
        f(&self
            .shared
            .manila
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn panama<T>(&self, f: impl FnOnce(&Console) -> T) -> T {
        f(&self
            .shared
            .panama
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
