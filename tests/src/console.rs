//! An HTTP server standing in for an operations-centre console: records every webhook it
//! receives and answers with a status the test chooses.

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

/// One received webhook.
#[derive(Clone, Debug)]
pub struct Webhook {
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived, and the same by the wall clock (to compare with timeline times).
    pub at: std::time::Instant,
    pub wall: std::time::SystemTime,
}

impl Webhook {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Webhook>>,
    status: AtomicU16,
    /// Milliseconds to wait before answering (a slow console).
    delay_ms: AtomicU64,
}

pub struct Console {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    shared.received.lock().unwrap().push(Webhook {
        headers,
        body,
        at: std::time::Instant::now(),
        wall: std::time::SystemTime::now(),
    });
    let delay = shared.delay_ms.load(Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    StatusCode::from_u16(shared.status.load(Ordering::Relaxed)).unwrap_or(StatusCode::OK)
}

impl Console {
    pub async fn start() -> Console {
        let shared = Arc::new(Shared {
            received: Mutex::default(),
            status: AtomicU16::new(200),
            delay_ms: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/watchkeeper",
            listener.local_addr().unwrap()
        );
        let app = axum::Router::new()
            .route("/hooks/watchkeeper", axum::routing::post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Console {
            url,
            shared,
            server,
        }
    }

    /// The address it listens on.
    pub fn address(&self) -> std::net::SocketAddr {
        self.url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .and_then(|authority| authority.parse().ok())
            .unwrap()
    }

    /// Answers every later webhook with `status` (e.g. 503 to play a console that is down).
    pub fn answer_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::Relaxed);
    }

    /// Answers every later webhook only after `delay` (longer than the webhook timeout plays
    /// a console too slow to answer); zero answers at once.
    pub fn answer_after(&self, delay: std::time::Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.shared.delay_ms.store(millis, Ordering::Relaxed);
    }

    pub fn received(&self) -> Vec<Webhook> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The webhooks received for `alert_id`.
    pub fn received_for(&self, alert_id: &str) -> Vec<Webhook> {
        self.received()
            .into_iter()
            .filter(|webhook| webhook.json()["alert"]["id"] == alert_id)
            .collect()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.server.abort();
    }
}
