//! `wk-bench peer`: Watchkeeper beside Prometheus Alertmanager 0.25 (Debian's
//! `prometheus-alertmanager`), driven by the same HTTP load generator (Alertmanager's API v2,
//! one alert per request) and delivering to the same webhook receiver, interleaved: each
//! round starts a fresh Alertmanager, measures it, stops it, then does the same with a fresh
//! Watchkeeper stack (Tansu, api, dispatcher). Each peer instance takes, in order: a warm-up,
//! `--seconds` at 100/s and at 1,000/s (submit → webhook latency from each alert's due time),
//! then `--max-count` alerts as fast as the requests in flight allow, once for each of
//! `--max-concurrency` (accepted/s and delivered/s; the best is the peer's maximum), and last
//! its resident memory per alert held (every alert sent since the
//! warm-up is still open in both: Alertmanager holds an alert until its `endsAt`, 5 minutes
//! away, Watchkeeper until it is resolved). Alertmanager runs alone (no cluster), groups by
//! every label and sends a group at once (`group_wait: 0s`), so each alert is one webhook, as
//! each Watchkeeper alert is one console webhook; Watchkeeper answers only once the alert is
//! on Kafka (acks=all), Alertmanager once it is in memory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde_json::json;
use sha2::Digest as _;
use tempfile::TempDir;
use wk_harness::{Service, free_port, wait_for_port};

use crate::load::Percentiles;
use crate::peer_http::{Arrivals, Sent, Target, drive};
use crate::stack::{Binaries, OFFICE, Stack, StackSpec};

#[derive(clap::Args)]
pub(crate) struct Run {
    /// Rounds, each an Alertmanager then a Watchkeeper.
    #[arg(long, default_value_t = 1)]
    pub(crate) rounds: u32,
    /// Seconds of each fixed-rate phase (100/s, then 1,000/s).
    #[arg(long, default_value_t = 10.0)]
    pub(crate) seconds: f64,
    /// Alerts of the as-fast-as-possible phase.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) max_count: u64,
    /// Requests in flight at a fixed rate, at most.
    #[arg(long, default_value_t = 64)]
    pub(crate) concurrency: usize,
    /// The as-fast-as-possible phase, once per number of requests in flight: each peer's
    /// best is its maximum (Alertmanager peaks at fewer than Watchkeeper, whose requests wait
    /// for the broker).
    #[arg(long, value_delimiter = ',', default_value = "64,256,1024")]
    pub(crate) max_concurrency: Vec<usize>,
    #[arg(long, default_value_t = 6)]
    pub(crate) partitions: u32,
    #[arg(long, default_value = "/usr/bin/prometheus-alertmanager")]
    pub(crate) alertmanager: PathBuf,
}

const KEY: &str = "bench-prometheus-key-0123456789abcdef";
const RATES: [f64; 2] = [100.0, 1000.0];
/// After the last alert of a phase was due, how long its stragglers may take.
const GRACE: Duration = Duration::from_secs(30);

/// One peer under test, freshly started.
enum Peer {
    Alertmanager {
        service: Box<Service>,
        _dir: TempDir,
    },
    Watchkeeper(Box<Stack>),
}

impl Peer {
    fn name(&self) -> &'static str {
        match self {
            Peer::Alertmanager { .. } => "alertmanager",
            Peer::Watchkeeper(_) => "watchkeeper",
        }
    }

    /// CPU seconds used so far, by process: Alertmanager's, or Watchkeeper's api,
    /// dispatcher and broker; then this process's own (the load generator and the webhook
    /// receiver, which share the machine with the peer).
    fn cpu_seconds(&self) -> anyhow::Result<Vec<(&'static str, f64)>> {
        let mut seconds = match self {
            Peer::Alertmanager { service, .. } => vec![("alertmanager", service.cpu_seconds()?)],
            Peer::Watchkeeper(stack) => {
                let [api, dispatcher, broker] = stack.cpu_seconds()?;
                vec![("api", api), ("dispatcher", dispatcher), ("broker", broker)]
            }
        };
        seconds.push((
            "load_and_receiver",
            wk_harness::cpu_seconds_of(std::process::id())?,
        ));
        Ok(seconds)
    }

    /// Resident memory of the service: Alertmanager's process, or Watchkeeper's api and
    /// dispatcher (the broker is storage, as Alertmanager's is its own disk).
    fn rss_kib(&self) -> anyhow::Result<u64> {
        match self {
            Peer::Alertmanager { service, .. } => service.rss_kib(),
            Peer::Watchkeeper(stack) => {
                let dispatcher = stack.dispatcher.as_ref().context("no dispatcher")?;
                Ok(stack.api.rss_kib()? + dispatcher.rss_kib()?)
            }
        }
    }
}

fn alertmanager_config(receiver: std::net::SocketAddr) -> String {
    format!(
        "route:\n  receiver: bench\n  group_by: ['...']\n  group_wait: 0s\n  \
         group_interval: 5m\n  repeat_interval: 4h\nreceivers:\n  - name: bench\n    \
         webhook_configs:\n      - url: http://{receiver}/alertmanager\n        \
         send_resolved: false\n"
    )
}

async fn start_alertmanager(
    program: &Path,
    receiver: std::net::SocketAddr,
) -> anyhow::Result<(Peer, Target)> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, alertmanager_config(receiver))?;
    let port = free_port()?;
    let mut service = Service::new("alertmanager", program, dir.path(), "alertmanager.log")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // Alone: no gossip, and no wait for peers before each notification.
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn");
    service.start()?;
    wait_for_port(port, &mut service, Duration::from_secs(30))?;
    let target = Target {
        url: format!("http://127.0.0.1:{port}/api/v2/alerts"),
        bearer: None,
    };
    let service = Box::new(service);
    Ok((Peer::Alertmanager { service, _dir: dir }, target))
}

async fn start_watchkeeper(
    binaries: &Binaries,
    cli: &crate::Cli,
    run: &Run,
    receiver: std::net::SocketAddr,
) -> anyhow::Result<(Peer, Target)> {
    let mut spec = StackSpec::new(cli, run.partitions, receiver);
    spec.extra_offices = format!(
        "[[integrations]]\nname = \"bench-prometheus\"\nkind = \"alertmanager-api-v2\"\n\
         office = \"{OFFICE}\"\nkey_sha256 = \"{}\"\ncountry = \"NG\"\nplace = \"Maiduguri\"\n",
        hex::encode(sha2::Sha256::digest(KEY.as_bytes()))
    );
    let stack = Stack::start(binaries, &spec)?;
    stack.dispatcher_ready(Duration::from_secs(60)).await?;
    let target = Target {
        url: format!(
            "http://127.0.0.1:{}/integrations/bench-prometheus/api/v2/alerts",
            stack.http_port
        ),
        bearer: Some(KEY.to_owned()),
    };
    Ok((Peer::Watchkeeper(Box::new(stack)), target))
}

/// Latency from due to first arrival of what `sent` sent, and how many never arrived.
fn latency(sent: &Sent, arrivals: &[Option<Instant>]) -> anyhow::Result<(Percentiles, u64)> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut never = 0;
    for ((_, due), arrived) in sent.due.iter().zip(arrivals) {
        match arrived {
            Some(at) => histogram.saturating_record(
                u64::try_from(at.saturating_duration_since(*due).as_micros()).unwrap_or(u64::MAX),
            ),
            None => never += 1,
        }
    }
    Ok((Percentiles::of(&histogram), never))
}

/// One peer instance through every phase.
async fn measure(
    peer: &Peer,
    target: &Target,
    run: &Run,
    arrivals: &Arrivals,
    round: u32,
) -> anyhow::Result<serde_json::Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let prefix = |phase: &str| format!("{}-{round}-{phase}", peer.name());
    let warm = drive(
        &client,
        target,
        &prefix("warm"),
        200,
        Some(100.0),
        run.concurrency,
    )
    .await?;
    arrivals.wait_for(&warm, GRACE).await;
    let rss_before = peer.rss_kib()?;
    let mut held = 0;
    let mut rates = Vec::new();
    for rate in RATES {
        let count = (rate * run.seconds).round() as u64;
        let phase = format!("r{rate}");
        let sent = drive(
            &client,
            target,
            &prefix(&phase),
            count,
            Some(rate),
            run.concurrency,
        )
        .await?;
        let (percentiles, never) = latency(&sent, &arrivals.wait_for(&sent, GRACE).await)?;
        held += sent.due.len() as u64;
        rates.push(json!({
            "rate": rate,
            "sent": sent.due.len(),
            "accepted": sent.accepted,
            "errors": sent.errors,
            "latency": percentiles,
            "never_arrived": never,
        }));
    }
    let mut max = Vec::new();
    for concurrency in &run.max_concurrency {
        let cpu_before = peer.cpu_seconds()?;
        let started = Instant::now();
        let phase = format!("max{concurrency}");
        let sent = drive(
            &client,
            target,
            &prefix(&phase),
            run.max_count,
            None,
            *concurrency,
        )
        .await?;
        let arrived = arrivals.wait_for(&sent, GRACE).await;
        held += sent.due.len() as u64;
        let last = arrived.iter().flatten().max().copied().unwrap_or(started);
        let delivered = arrived.iter().flatten().count() as u64;
        // Where the CPU went, per alert delivered: the profile's first question.
        let cpu_ms_per_alert: serde_json::Map<String, serde_json::Value> = peer
            .cpu_seconds()?
            .into_iter()
            .zip(cpu_before)
            .map(|((process, after), (_, before))| {
                let per_alert = (after - before) * 1000.0 / delivered.max(1) as f64;
                (process.to_owned(), json!(per_alert))
            })
            .collect();
        max.push(json!({
            "concurrency": concurrency,
            "cpu_ms_per_alert": cpu_ms_per_alert,
            "sent": sent.due.len(),
            "accepted": sent.accepted,
            "errors": sent.errors,
            "accepted_per_s": sent.accepted as f64 / sent.elapsed.as_secs_f64(),
            "delivered": delivered,
            "delivered_per_s": delivered as f64
                / last.saturating_duration_since(started).as_secs_f64().max(f64::EPSILON),
        }));
    }
    // The peer's maximum: its best number of requests in flight.
    let rate = |value: &serde_json::Value| value["delivered_per_s"].as_f64().unwrap_or(0.0);
    let best = max
        .iter()
        .max_by(|a, b| rate(a).total_cmp(&rate(b)))
        .cloned()
        .unwrap_or_default();
    let rss_after = peer.rss_kib()?;
    let bytes_per_alert = rss_after.saturating_sub(rss_before) as f64 * 1024.0 / held as f64;
    Ok(json!({
        "peer": peer.name(),
        "round": round,
        "rates": rates,
        "max": best,
        "max_by_concurrency": max,
        "held": held,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "bytes_per_open_alert": bytes_per_alert,
    }))
}

pub(crate) async fn run(
    binaries: &Binaries,
    cli: &crate::Cli,
    run: &Run,
) -> anyhow::Result<serde_json::Value> {
    let arrivals = Arrivals::start().await?;
    println!(
        "## Beside Prometheus Alertmanager 0.25: the same HTTP load (API v2, one alert per \
         request) and webhook receiver, {} round(s), {} s per rate, then {} alerts as fast as \
         {:?} requests in flight allow (each peer's best)\n",
        run.rounds.max(1),
        run.seconds,
        run.max_count,
        run.max_concurrency
    );
    crate::peer_report::header();
    let mut results = Vec::new();
    for round in 1..=run.rounds.max(1) {
        for watchkeeper in [false, true] {
            let (peer, target) = if watchkeeper {
                start_watchkeeper(binaries, cli, run, arrivals.address).await?
            } else {
                start_alertmanager(&run.alertmanager, arrivals.address).await?
            };
            let result = measure(&peer, &target, run, &arrivals, round).await?;
            crate::peer_report::row(&result);
            results.push(result);
            drop(peer);
        }
    }
    let ratios = crate::peer_report::ratios(&results);
    Ok(json!({
        "seconds_per_rate": run.seconds,
        "max_count": run.max_count,
        "concurrency": run.concurrency,
        "partitions": run.partitions,
        "results": results,
        "ratios": ratios,
    }))
}
