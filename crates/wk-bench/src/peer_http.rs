//! What `wk-bench peer` drives both peers with: one HTTP load generator posting Alertmanager
//! API v2 alerts (`POST …/api/v2/alerts`, one alert per request, what Prometheus sends), and
//! one webhook receiver that takes Watchkeeper's console webhooks and Alertmanager's webhook
//! (payload v4) alike and records when each alert first arrived, by its `bench_id` label.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

/// Where one peer takes alerts.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) url: String,
    pub(crate) bearer: Option<String>,
}

/// What one phase sent: each alert's `bench_id` with the time it was due (at a fixed rate,
/// `start + i / rate`, so a slow server is charged for the requests it delayed; as fast as
/// possible, when it was sent).
pub(crate) struct Sent {
    pub(crate) due: Vec<(String, Instant)>,
    pub(crate) accepted: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) elapsed: Duration,
}

/// The body of one request: an alert as Prometheus posts it, with the labels a field
/// office's monitoring would carry.
fn body(id: &str) -> Vec<u8> {
    json!([{
        "labels": {
            "alertname": "CompoundPerimeterBreach",
            "bench_id": id,
            "severity": "critical",
            "instance": "sensor-07.maiduguri",
        },
        "annotations": {
            "summary": "Armed group reported near the compound",
            "description": "Gunfire heard 2 km east of the compound at 14:05. Staff are \
                            sheltering in place; the road to the airstrip is closed.",
        },
        "generatorURL": "http://prometheus.example.org/graph",
    }])
    .to_string()
    .into_bytes()
}

/// Posts `count` alerts named `{prefix}-{i}` to `target`, at `rate` per second or as fast as
/// `concurrency` requests in flight allow.
pub(crate) async fn drive(
    client: &reqwest::Client,
    target: &Target,
    prefix: &str,
    count: u64,
    rate: Option<f64>,
    concurrency: usize,
) -> anyhow::Result<Sent> {
    let permits = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut requests = tokio::task::JoinSet::new();
    let mut due = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let start = Instant::now();
    for index in 0..count {
        let at = match rate {
            Some(rate) => {
                let at = start + Duration::from_secs_f64(index as f64 / rate);
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let id = format!("{prefix}-{index}");
        let mut request = client
            .post(&target.url)
            .header("content-type", "application/json")
            .body(body(&id));
        if let Some(bearer) = &target.bearer {
            request = request.bearer_auth(bearer);
        }
        due.push((id, at));
        requests.spawn(async move {
            let outcome = match request.send().await {
                Ok(response) if response.status().is_success() => Ok(()),
                Ok(response) => Err(response.status().as_u16().to_string()),
                Err(error) if error.is_timeout() => Err("timeout".to_owned()),
                Err(_) => Err("connection".to_owned()),
            };
            drop(permit);
            outcome
        });
    }
    let (mut accepted, mut errors) = (0, BTreeMap::new());
    while let Some(joined) = requests.join_next().await {
        match joined? {
            Ok(()) => accepted += 1,
            Err(kind) => *errors.entry(kind).or_insert(0) += 1,
        }
    }
    Ok(Sent {
        due,
        accepted,
        errors,
        elapsed: start.elapsed(),
    })
}

#[derive(Deserialize)]
struct Labels {
    #[serde(default)]
    bench_id: Option<String>,
}

/// Watchkeeper's console webhook: `alert.labels` are the alert's labels.
#[derive(Deserialize)]
struct ConsoleBody {
    alert: LabelledAlert,
}

/// Alertmanager's webhook (payload v4): the group's alerts, each with its labels.
#[derive(Deserialize)]
struct AlertmanagerBody {
    alerts: Vec<LabelledAlert>,
}

#[derive(Deserialize)]
struct LabelledAlert {
    labels: Labels,
}

#[derive(Default)]
struct Shared {
    first: Mutex<HashMap<String, Instant>>,
    /// Alerts that have arrived (each counted once), and a wake-up on each new one, for
    /// `wait_for`.
    distinct: std::sync::atomic::AtomicU64,
    arrived: tokio::sync::Notify,
}

/// The webhook receiver both peers deliver to: `/alertmanager` for Alertmanager, any other
/// path (`/manila`, `/panama`) for Watchkeeper's consoles.
pub(crate) struct Arrivals {
    pub(crate) address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    Path(path): Path<String>,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let ids: Vec<String> = if path == "alertmanager" {
        match serde_json::from_slice::<AlertmanagerBody>(&body) {
            Ok(body) => body
                .alerts
                .into_iter()
                .filter_map(|alert| alert.labels.bench_id)
                .collect(),
            Err(_) => return StatusCode::BAD_REQUEST,
        }
    } else {
        match serde_json::from_slice::<ConsoleBody>(&body) {
            Ok(body) => body.alert.labels.bench_id.into_iter().collect(),
            Err(_) => return StatusCode::BAD_REQUEST,
        }
    };
    let mut first = shared.first.lock().unwrap_or_else(PoisonError::into_inner);
    let mut new = 0;
    for id in ids {
        first.entry(id).or_insert_with(|| {
            new += 1;
            now
        });
    }
    // Counted under the lock, so that a count read with the map (`missing`) matches it.
    shared
        .distinct
        .fetch_add(new, std::sync::atomic::Ordering::SeqCst);
    drop(first);
    if new > 0 {
        shared.arrived.notify_waiters();
    }
    StatusCode::OK
}

impl Arrivals {
    pub(crate) async fn start() -> anyhow::Result<Arrivals> {
        let shared = Arc::new(Shared::default());
        let (address, server) = crate::receiver::serve(
            axum::Router::new()
                .route("/{path}", axum::routing::post(receive))
                .with_state(Arc::clone(&shared)),
        )
        .await?;
        Ok(Arrivals {
            address,
            shared,
            server,
        })
    }

    /// When each of `ids` first arrived (`None`: not yet).
    pub(crate) fn first_of<'a>(&self, ids: impl Iterator<Item = &'a str>) -> Vec<Option<Instant>> {
        let first = self
            .shared
            .first
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        ids.map(|id| first.get(id).copied()).collect()
    }

    /// Waits until every alert of `sent` has arrived, or `grace` has passed since the last
    /// was due; returns each one's arrival. The alerts still missing are looked up again only
    /// once as many new ones have arrived (of any phase), not on every webhook.
    pub(crate) async fn wait_for(&self, sent: &Sent, grace: Duration) -> Vec<Option<Instant>> {
        use std::sync::atomic::Ordering;
        let last_due = sent.due.last().map_or_else(Instant::now, |(_, at)| *at);
        let deadline = tokio::time::Instant::from_std(last_due + grace);
        let mut missing: Vec<&str> = sent.due.iter().map(|(id, _)| id.as_str()).collect();
        loop {
            let counted;
            {
                let first = self
                    .shared
                    .first
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                counted = self.shared.distinct.load(Ordering::SeqCst);
                missing.retain(|id| !first.contains_key(*id));
            }
            if missing.is_empty() {
                break;
            }
            let enough = counted + missing.len() as u64;
            loop {
                // Registered before the count is read, so no arrival slips between the two.
                let arrived = self.shared.arrived.notified();
                if self.shared.distinct.load(Ordering::SeqCst) >= enough {
                    break;
                }
                if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                    return self.first_of(sent.due.iter().map(|(id, _)| id.as_str()));
                }
            }
        }
        self.first_of(sent.due.iter().map(|(id, _)| id.as_str()))
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_peers_webhooks_are_matched_by_their_bench_id_label() {
        let arrivals = Arrivals::start().await.unwrap();
        let client = reqwest::Client::new();
        // Alertmanager's webhook, payload version 4, as 0.25 sends it.
        let alertmanager = json!({
            "version": "4", "groupKey": "{}:{bench_id=\"am-1\"}", "truncatedAlerts": 0,
            "status": "firing", "receiver": "bench",
            "groupLabels": {"bench_id": "am-1"}, "commonLabels": {"bench_id": "am-1"},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
            "alerts": [{
                "status": "firing", "labels": {"alertname": "X", "bench_id": "am-1"},
                "annotations": {}, "startsAt": "2026-12-03T17:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "0a1b"
            }]
        });
        // Watchkeeper's console webhook: the alert with its labels.
        let watchkeeper = json!({
            "type": "step", "delivery_id": "n-1", "incident": 1, "step": 1,
            "alert": {"id": "a1", "labels": {"alertname": "X", "bench_id": "wk-1"}}
        });
        for (path, body) in [("alertmanager", alertmanager), ("manila", watchkeeper)] {
            let response = client
                .post(format!("http://{}/{path}", arrivals.address))
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
        }
        let bad = client
            .post(format!("http://{}/alertmanager", arrivals.address))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let first = arrivals.first_of(["am-1", "wk-1", "never"].into_iter());
        assert!(first[0].is_some() && first[1].is_some() && first[2].is_none());
        // Waiting for what has arrived returns at once; for what never does, at the deadline.
        let sent = |ids: &[&str]| Sent {
            due: ids
                .iter()
                .map(|id| ((*id).to_owned(), Instant::now()))
                .collect(),
            accepted: 0,
            errors: BTreeMap::new(),
            elapsed: Duration::ZERO,
        };
        let both = arrivals
            .wait_for(&sent(&["am-1", "wk-1"]), Duration::from_secs(60))
            .await;
        assert!(both.iter().all(Option::is_some));
        let with_late = sent(&["wk-1", "late"]);
        let late = arrivals.wait_for(&with_late, Duration::from_secs(60));
        // `join!` polls the waiter first: it is waiting before the late alert is even sent.
        let post_late = async {
            let body = json!({"alert": {"labels": {"bench_id": "late"}}});
            client
                .post(format!("http://{}/manila", arrivals.address))
                .body(body.to_string())
                .send()
                .await
                .unwrap()
        };
        let (late, _) = tokio::join!(late, post_late);
        assert!(
            late.iter().all(Option::is_some),
            "woken by the late arrival"
        );
        let never = arrivals
            .wait_for(&sent(&["never"]), Duration::from_millis(50))
            .await;
        assert_eq!(never, [None]);
    }
}
