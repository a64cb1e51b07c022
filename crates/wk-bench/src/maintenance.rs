//! `wk-bench maintenance`: whether the local broker stalls while it maintains its storage.
//! Tansu 0.6 runs its maintenance (retention, then compaction, each one write transaction on
//! its SQLite file) when it starts and then every `maintenance_interval`; every produce and
//! fetch waits while it runs. This starts a broker as the test harness and `./dev run` do (the
//! same indexes), fills Watchkeeper's state changelog with Watchkeeper's own changelog producer
//! (`records` records over `keys` alerts), then, through `ticks` maintenance runs, keeps
//! superseding `updates` alerts' states a second (what each run then compacts away) while it
//! produces one submission-sized record at a time, open loop at `rate`/s with the api's
//! producer (acks=all). It reports the produce latency of the records sent while each run was
//! due, and how many rows each run deleted.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use wk_bus::producer::Producer;
use wk_core::config::KafkaConfig;
use wk_harness::Broker;

use crate::filler::Filler;
use crate::load::Percentiles;

#[derive(clap::Args)]
pub(crate) struct Run {
    /// Records written to the state changelog before the maintenance is watched.
    #[arg(long, default_value_t = 500_000)]
    pub(crate) records: u64,
    /// Distinct keys (alerts) among them; the rest are superseded versions to compact.
    #[arg(long, default_value_t = 500_000)]
    pub(crate) keys: u64,
    /// Bytes per changelog record (a state record of an alert with a short timeline).
    #[arg(long, default_value_t = 400)]
    pub(crate) payload: usize,
    #[arg(long, default_value_t = 6)]
    pub(crate) partitions: i32,
    /// Seconds between the broker's maintenance runs.
    #[arg(long = "interval", default_value_t = 60)]
    pub(crate) interval_s: u64,
    /// Probe records produced per second, each awaited (acks=all), open loop.
    #[arg(long, default_value_t = 50.0)]
    pub(crate) rate: f64,
    /// New versions of existing alerts' states written per second meanwhile (what each
    /// maintenance run compacts).
    #[arg(long, default_value_t = 100.0)]
    pub(crate) updates: f64,
    /// Maintenance runs to watch after the fill.
    #[arg(long, default_value_t = 2)]
    pub(crate) ticks: u32,
}

impl Run {
    fn interval(&self) -> Duration {
        Duration::from_secs(self.interval_s.max(1))
    }
}

/// Records the fill keeps queued before it waits for the oldest acknowledgement.
const FILL_IN_FLIGHT: usize = 20_000;
/// A maintenance run's window: the records sent from just before it was due until this long
/// after (a run that held the broker longer shows in their latency).
const WINDOW_BEFORE: Duration = Duration::from_millis(500);
const WINDOW_AFTER: Duration = Duration::from_secs(10);
/// A probe slower than this is listed with when it was sent.
const SLOW: Duration = Duration::from_millis(250);

/// Watchkeeper's topics on `brokers`, under names of the benchmarks' own.
pub(crate) fn kafka(brokers: String, partitions: i32) -> KafkaConfig {
    KafkaConfig {
        brokers,
        alerts_topic: "bench-alerts".into(),
        state_topic: "bench-state".into(),
        dead_letter_topic: "bench-dead-letter".into(),
        silences_topic: "bench-silences".into(),
        partitions,
        replication_factor: -1,
        consumer_group: "bench".into(),
        group_instance_id: None,
        produce_timeout: Duration::from_secs(30),
        properties: BTreeMap::new(),
    }
}

/// Rows in the broker's record table, read beside it (its SQLite file is in WAL mode, so a
/// reader never waits for its writer).
fn stored_records(db: &Path) -> anyhow::Result<u64> {
    let output = std::process::Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 5000"])
        .arg(db)
        .arg("select count(*) from record;")
        .stdin(std::process::Stdio::null())
        .output()
        .context("running sqlite3")?;
    if !output.status.success() {
        bail!(
            "sqlite3: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("sqlite3's count")
}

/// Queues `run.records` changelog records (key `alert-<i mod keys>`) and waits for every
/// acknowledgement; returns the seconds it took.
async fn fill(producer: &Producer, topic: &str, run: &Run) -> anyhow::Result<f64> {
    let started = Instant::now();
    let payload = vec![b'x'; run.payload];
    let mut filler = Filler::new(producer, FILL_IN_FLIGHT);
    for index in 0..run.records {
        let key = format!("alert-{:08}", index % run.keys.max(1));
        filler.send(topic, &key, &payload, None).await?;
    }
    filler.finish().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// One probe record: when it was sent (since the broker started) and how long its
/// acknowledgement took.
type Sample = (Duration, Duration);

pub(crate) async fn run(tansu: &Path, run: &Run) -> anyhow::Result<serde_json::Value> {
    if run.rate <= 0.0 || run.ticks == 0 {
        bail!("--rate must be positive and --ticks at least 1");
    }
    let interval = format!("{}s", run.interval().as_secs());
    let broker = Broker::start_maintaining(tansu, &interval)?;
    // Its first maintenance ran as it started listening; the next come every interval.
    let started = Instant::now();
    let db = broker.dir().join("data/tansu.db");
    let kafka = kafka(broker.address(), run.partitions);
    wk_bus::admin::ensure_topics(&kafka).await?;
    let changelog = Producer::batching(&kafka)?;
    // The probes' producer is ready before the fill (connected, its producer id taken), so
    // its first records measure the broker, not the producer's start.
    let submissions = Producer::new(&kafka)?;
    submissions
        .enqueue(&kafka.alerts_topic, "probe-warm-up", b"", None, false)?
        .acknowledged()
        .await?;
    let fill_seconds = fill(&changelog, &kafka.state_topic, run).await?;
    let filled_at = started.elapsed();
    let stored_after_fill = stored_records(&db)?;

    // The maintenance runs that fall due after the fill, and a little past the last one.
    let first = (filled_at.as_secs_f64() / run.interval().as_secs_f64()).floor() as u32 + 1;
    let due: Vec<Duration> = (first..first + run.ticks)
        .map(|tick| run.interval() * tick)
        .collect();
    let until = due.last().copied().unwrap_or_default() + WINDOW_AFTER + Duration::from_secs(2);

    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let instants = due
        .iter()
        .flat_map(|at| {
            [
                at.saturating_sub(WINDOW_BEFORE * 2),
                *at + WINDOW_AFTER + Duration::from_millis(500),
            ]
        })
        .collect();
    let counts = count_at(db.clone(), started, instants);
    let updates = supersede(changelog, kafka.state_topic.clone(), run, started, until);
    let period = Duration::from_secs_f64(1.0 / run.rate);
    let mut sends = tokio::task::JoinSet::new();
    let mut next = started.elapsed();
    let payload = vec![b'y'; 600];
    let mut index = 0u64;
    while next < until {
        tokio::time::sleep_until((started + next).into()).await;
        let sent = started.elapsed();
        let queued = submissions.enqueue(
            &kafka.alerts_topic,
            &format!("probe-{index}"),
            &payload,
            None,
            false,
        )?;
        let samples = Arc::clone(&samples);
        sends.spawn(async move {
            let result = queued.acknowledged().await;
            let took = started.elapsed().saturating_sub(sent);
            samples
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((sent, took));
            result.map(|_| ())
        });
        index += 1;
        next += period;
    }
    while let Some(joined) = sends.join_next().await {
        joined??;
    }
    let superseded = updates.await??;
    let counts = counts.await??;
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(PoisonError::into_inner));
    let fill = Fill {
        seconds: fill_seconds,
        rows: stored_after_fill,
        superseded,
    };
    report(run, &due, &samples, &counts, &fill)
}

/// Writes a new version of `run.updates` alerts' states a second (round the keys) until
/// `until`, as a dispatcher escalating them would; returns how many it wrote.
fn supersede(
    changelog: Producer,
    topic: String,
    run: &Run,
    started: Instant,
    until: Duration,
) -> tokio::task::JoinHandle<anyhow::Result<u64>> {
    let (keys, payload) = (run.keys.max(1), vec![b'z'; run.payload]);
    let period = (run.updates > 0.0).then(|| Duration::from_secs_f64(1.0 / run.updates));
    tokio::spawn(async move {
        let Some(period) = period else {
            return Ok(0);
        };
        let mut pending = VecDeque::new();
        let (mut next, mut written) = (started.elapsed(), 0u64);
        while next < until {
            tokio::time::sleep_until((started + next).into()).await;
            let key = format!("alert-{:08}", (written * 7_919) % keys);
            pending.push_back(changelog.enqueue(&topic, &key, &payload, None, false)?);
            while pending.len() > FILL_IN_FLIGHT {
                if let Some(oldest) = pending.pop_front() {
                    oldest.acknowledged().await?;
                }
            }
            written += 1;
            next += period;
        }
        for queued in pending {
            queued.acknowledged().await?;
        }
        Ok(written)
    })
}

struct Fill {
    seconds: f64,
    rows: u64,
    /// Versions written during the maintenance runs, superseding earlier ones.
    superseded: u64,
}

/// The broker's record count at each of `instants` (since `started`), off the async threads:
/// a count reads the whole record table, so it is taken only just before each maintenance run
/// is due and once the run's window has passed, not while the probe measures.
fn count_at(
    db: std::path::PathBuf,
    started: Instant,
    instants: Vec<Duration>,
) -> tokio::task::JoinHandle<anyhow::Result<Vec<(Duration, u64)>>> {
    tokio::task::spawn_blocking(move || {
        let mut counts = Vec::new();
        for at in instants {
            std::thread::sleep(at.saturating_sub(started.elapsed()));
            counts.push((at, stored_records(&db)?));
        }
        Ok(counts)
    })
}

fn histogram_of<'a>(
    latencies: impl Iterator<Item = &'a Duration>,
) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for latency in latencies {
        histogram.saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }
    Ok(histogram)
}

fn report(
    run: &Run,
    due: &[Duration],
    samples: &[Sample],
    counts: &[(Duration, u64)],
    fill: &Fill,
) -> anyhow::Result<serde_json::Value> {
    let in_window = |sent: Duration| {
        due.iter()
            .any(|at| sent + WINDOW_BEFORE >= *at && sent <= *at + WINDOW_AFTER)
    };
    let mut maintenance = Vec::new();
    println!(
        "## Broker maintenance (Tansu 0.6, indexed SQLite), {} records over {} keys\n",
        run.records, run.keys
    );
    println!(
        "filled in {:.1} s ({:.0} records/s); {} rows stored; then {} new versions at {}/s and \
         probes at {}/s, maintenance every {} s\n",
        fill.seconds,
        run.records as f64 / fill.seconds.max(f64::EPSILON),
        fill.rows,
        fill.superseded,
        run.updates,
        run.rate,
        run.interval().as_secs()
    );
    println!(
        "| maintenance due at | rows before → after | produce p50 | p90 | p99 | p99.9 | max (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for at in due {
        let window: Vec<&Duration> = samples
            .iter()
            .filter(|(sent, _)| *sent + WINDOW_BEFORE >= *at && *sent <= *at + WINDOW_AFTER)
            .map(|(_, took)| took)
            .collect();
        let latency = Percentiles::of(&histogram_of(window.into_iter())?);
        let before = counts
            .iter()
            .filter(|(seen, _)| *seen <= *at)
            .map(|(_, rows)| *rows)
            .next_back();
        let after = counts
            .iter()
            .find(|(seen, _)| *seen > *at + WINDOW_AFTER)
            .map(|(_, rows)| *rows);
        println!(
            "| {:.0} s | {} → {} | {} |",
            at.as_secs_f64(),
            before.map_or("?".into(), |rows| rows.to_string()),
            after.map_or("?".into(), |rows| rows.to_string()),
            latency.cells()
        );
        maintenance.push(json!({
            "due_s": at.as_secs_f64(),
            "rows_before": before,
            "rows_after": after,
            "produce": latency,
        }));
    }
    let during = Percentiles::of(&histogram_of(
        samples
            .iter()
            .filter(|(sent, _)| in_window(*sent))
            .map(|(_, took)| took),
    )?);
    let outside = Percentiles::of(&histogram_of(
        samples
            .iter()
            .filter(|(sent, _)| !in_window(*sent))
            .map(|(_, took)| took),
    )?);
    // When the slow ones were sent: whether the stalls are the maintenance or something else.
    let slow: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(_, took)| *took > SLOW)
        .take(500)
        .map(|(sent, took)| (sent.as_secs_f64(), took.as_secs_f64() * 1000.0))
        .collect();
    println!("| all maintenance windows | | {} |", during.cells());
    println!("| outside them | | {} |", outside.cells());
    println!();
    Ok(json!({
        "records": run.records,
        "keys": run.keys,
        "payload_bytes": run.payload,
        "partitions": run.partitions,
        "interval_s": run.interval().as_secs_f64(),
        "probe_rate": run.rate,
        "updates_per_s": run.updates,
        "fill_seconds": fill.seconds,
        "rows_after_fill": fill.rows,
        "superseded": fill.superseded,
        "maintenance": maintenance,
        "produce_during_maintenance": during,
        "produce_outside_maintenance": outside,
        "slow_sends_s_ms": slow,
    }))
}
