//! Process health: a readiness probe (the broker answers metadata requests for the alerts
//! topic) feeding grpc.health.v1 and `/readyz`, and the telemetry listener serving
//! `/metrics` (Prometheus), `/healthz` (the process is alive) and `/readyz`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use wk_core::config::KafkaConfig;

const PROBE_EVERY: Duration = Duration::from_secs(2);
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Latency buckets in seconds, from a loopback produce to a slow acknowledgement.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

/// Installs the Prometheus recorder behind the `metrics` facade.
pub(crate) fn install_metrics() -> Result<PrometheusHandle, String> {
    PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .map_err(|error| error.to_string())?
        .install_recorder()
        .map_err(|error| error.to_string())
}

/// Probes the broker every 2 s and publishes whether it answered.
pub(crate) async fn probe_broker(
    kafka: KafkaConfig,
    ready: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    loop {
        let probe = wk_bus::admin::partition_count(&kafka, &kafka.alerts_topic);
        let reachable = matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)));
        if *ready.borrow() != reachable {
            if reachable {
                info!("broker reachable");
            } else {
                warn!("broker unreachable");
            }
            ready.send_replace(reachable);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}

#[derive(Clone)]
struct Telemetry {
    metrics: PrometheusHandle,
    ready: watch::Receiver<bool>,
}

async fn readyz(State(telemetry): State<Telemetry>) -> (StatusCode, &'static str) {
    if *telemetry.ready.borrow() {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: broker unreachable, or partitions not yet assigned and restored",
        )
    }
}

/// Publishes on `ready` whether every one of `parts` (named for the log) holds, until
/// `shutdown`.
pub(crate) async fn all_ready(
    mut parts: Vec<(&'static str, watch::Receiver<bool>)>,
    ready: watch::Sender<bool>,
    shutdown: CancellationToken,
) {
    loop {
        let mut waiting = Vec::new();
        for (name, part) in &mut parts {
            if !*part.borrow_and_update() {
                waiting.push(*name);
            }
        }
        let now = waiting.is_empty();
        if *ready.borrow() != now {
            if now {
                info!("ready");
            } else {
                warn!(waiting = ?waiting, "not ready");
            }
            ready.send_replace(now);
        }
        let changes = futures_util::future::select_all(
            parts.iter_mut().map(|(_, part)| Box::pin(part.changed())),
        );
        tokio::select! {
            () = shutdown.cancelled() => return,
            (changed, _, _) = changes => if changed.is_err() { return },
        }
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` until `shutdown`.
pub(crate) async fn serve_telemetry(
    address: SocketAddr,
    metrics: PrometheusHandle,
    ready: watch::Receiver<bool>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(address).await?;
    info!(address = %listener.local_addr()?, "telemetry listening (/metrics, /healthz, /readyz)");
    let router = Router::new()
        .route(
            "/metrics",
            get(|State(t): State<Telemetry>| async move { t.metrics.render() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(Telemetry { metrics, ready });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
