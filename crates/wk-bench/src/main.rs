//! `wk-bench`: Watchkeeper's load generator and scale benchmarks. Every command starts what it
//! needs on loopback (Tansu with SQLite storage, watchkeeper's api and dispatcher processes, a
//! webhook receiver for both consoles), unless `ingest --endpoint` targets a running api.
//! Every run is bounded in alerts and in time. Results print as markdown; `--json FILE` also
//! writes them as JSON. `deploy/bench/run` runs the whole set.
// The results are this tool's output.
#![allow(clippy::print_stdout)]

mod broker_share;
mod checkins;
mod filler;
mod headcount;
mod history;
mod load;
mod maintenance;
mod peer;
mod peer_http;
mod peer_report;
mod receiver;
mod stack;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use hdrhistogram::Histogram;
use serde_json::json;

use crate::load::{Mode, Percentiles, Spec};
use crate::receiver::Receiver;
use crate::stack::{Binaries, Stack, StackSpec};

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The watchkeeper binary (default: next to this one).
    #[arg(long, global = true)]
    watchkeeper: Option<PathBuf>,
    /// The tansu binary (default: ~/.cargo/bin/tansu, else PATH).
    #[arg(long, global = true)]
    tansu: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// The dispatcher's fetch.wait.max.ms: Tansu 0.6 answers every fetch only after this
    /// wait, so it bounds notification latency from below and broker load from above.
    #[arg(long, global = true, default_value_t = 10)]
    fetch_wait_ms: u32,
    /// Overrides the producers' linger.ms (api 1 ms, dispatcher changelog 5 ms).
    #[arg(long, global = true)]
    linger_ms: Option<u32>,
}

#[derive(Args, Clone)]
struct LoadArgs {
    #[arg(long, value_enum, default_value = "unary")]
    mode: Mode,
    /// Concurrent requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 100)]
    batch_size: usize,
    /// Alerts per second; leave out to send as fast as the server answers.
    #[arg(long)]
    rate: Option<f64>,
    /// Alerts to send at most.
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Seconds to send for at most.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// HTTP/2 connections shared by the workers.
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

impl LoadArgs {
    fn spec(&self) -> Spec {
        Spec {
            mode: self.mode,
            concurrency: self.concurrency,
            batch_size: self.batch_size,
            rate: self.rate,
            count: self.count,
            duration: Duration::from_secs_f64(self.duration),
            connections: self.connections,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Ingest throughput and accept latency (to broker acknowledgement, acks=all).
    Ingest {
        #[command(flatten)]
        load: LoadArgs,
        /// Partitions of the alerts topic.
        #[arg(long, default_value_t = 6)]
        partitions: u32,
        /// An api already running with the bench's office token, instead of starting a stack.
        #[arg(long)]
        endpoint: Option<String>,
        /// Run a dispatcher too (it then competes for the same cores).
        #[arg(long)]
        with_dispatcher: bool,
    },
    /// SubmitAlert to the first console webhook received, with the alerts that never arrived.
    E2e {
        #[command(flatten)]
        load: LoadArgs,
        #[arg(long, default_value_t = 6)]
        partitions: u32,
        /// Seconds to wait after the last send for stragglers.
        #[arg(long, default_value_t = 30.0)]
        grace: f64,
    },
    /// Many offices checking in on schedule: the CPU and memory it costs the api and the
    /// dispatcher per office, the check-ins' latency, and that no office was taken for silent.
    CheckIns {
        #[arg(long, default_value_t = 2_000)]
        offices: u32,
        /// Seconds between an office's check-ins.
        #[arg(long, default_value_t = 60.0)]
        every: f64,
        /// Seconds to run for (at least two rounds make the steady state).
        #[arg(long, default_value_t = 180.0)]
        duration: f64,
        #[arg(long, default_value_t = 6)]
        partitions: u32,
    },
    /// A staff headcount of many people: the time until every first question is handed to a
    /// real SMTP server, the memory held per person, and GetHeadcount's time.
    Headcount {
        #[arg(long, default_value_t = 10_000)]
        people: u32,
        #[arg(long, default_value_t = 6)]
        partitions: u32,
        /// Seconds to wait for every first question at most.
        #[arg(long, default_value_t = 900.0)]
        within: f64,
    },
    /// The broker's own share of `e2e`'s latency: Watchkeeper's producer to its group
    /// consumer on the same kind of broker, at a given rate, with nothing in between.
    Broker(broker_share::Run),
    /// Whether the local broker stalls during its storage maintenance: produce latency while
    /// Tansu compacts a changelog of many records (every `--interval` seconds).
    Maintenance(maintenance::Run),
    /// Watchkeeper beside Prometheus Alertmanager (Debian's package): the same HTTP load
    /// generator and webhook receiver, interleaved; latency at 100/s and 1,000/s, the most
    /// alerts delivered per second, memory per open alert, and the ratios.
    Peer(peer::Run),
    /// How soon a restarted dispatcher resumes its open alerts' timers when the changelog
    /// also holds a long history of resolved alerts.
    Restore(history::Run),
    /// Dispatcher memory and restore time with many open escalations, and how late their
    /// next step fires.
    Scale {
        /// Open alerts to hold.
        #[arg(long, default_value_t = 10_000)]
        open: u64,
        #[arg(long, default_value_t = 6)]
        partitions: u32,
        /// Step 1 timeout: long enough to ingest, dispatch and restart before step 2 fires.
        #[arg(long, default_value_t = 120.0)]
        step_timeout: f64,
        /// Submit at this many alerts/s (batches of 50) instead of as fast as possible: keeps
        /// the dispatcher's lag, and so Tansu's fetch cost, small.
        #[arg(long)]
        rate: Option<f64>,
    },
}

fn binaries(cli: &Cli) -> anyhow::Result<Binaries> {
    let watchkeeper = match &cli.watchkeeper {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory")?
            .join("watchkeeper"),
    };
    let tansu = cli.tansu.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(|home| PathBuf::from(home).join(".cargo/bin/tansu"))
            .filter(|path| path.exists())
            .unwrap_or_else(|| PathBuf::from("tansu"))
    });
    Ok(Binaries { watchkeeper, tansu })
}

fn errors_text(errors: &std::collections::BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".to_owned();
    }
    errors
        .iter()
        .map(|(code, count)| format!("{code}: {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(|| "max".to_owned(), |rate| format!("{rate}/s"))
}

async fn ingest(
    cli: &Cli,
    load: &LoadArgs,
    partitions: u32,
    endpoint: Option<String>,
    with_dispatcher: bool,
) -> anyhow::Result<serde_json::Value> {
    let receiver = Receiver::start().await?;
    let stack = match endpoint {
        Some(_) => None,
        None => Some(Stack::start(
            &binaries(cli)?,
            &StackSpec {
                dispatcher: with_dispatcher,
                ..StackSpec::new(cli, partitions, receiver.address)
            },
        )?),
    };
    let endpoint = endpoint
        .or_else(|| stack.as_ref().map(Stack::endpoint))
        .context("no endpoint")?;
    let spec = load.spec();
    let prefix = format!("ingest-{}", std::process::id());
    let outcome = load::run(&endpoint, &spec, &prefix, Arc::new(|_: &str| {})).await?;
    let per_second = outcome.accepted as f64 / outcome.elapsed.as_secs_f64();
    let latency = Percentiles::of(&outcome.latency);
    println!(
        "| ingest {mode:?} c={c}{batch} {rate} p={partitions} | {accepted} | {per_second:.0}/s | {cells} | {errors} |",
        mode = spec.mode,
        c = spec.concurrency,
        batch = if spec.mode == Mode::Batch {
            format!(" b={}", spec.batch_size)
        } else {
            String::new()
        },
        rate = rate_text(spec.rate),
        accepted = outcome.accepted,
        cells = latency.cells(),
        errors = errors_text(&outcome.errors),
    );
    Ok(json!({
        "benchmark": "ingest",
        "spec": spec,
        "partitions": partitions,
        "with_dispatcher": with_dispatcher,
        "sent": outcome.sent,
        "accepted": outcome.accepted,
        "duplicates": outcome.duplicates,
        "errors": outcome.errors,
        "elapsed_s": outcome.elapsed.as_secs_f64(),
        "accepted_per_s": per_second,
        "latency_per_request": latency,
    }))
}

async fn e2e(
    cli: &Cli,
    load: &LoadArgs,
    partitions: u32,
    grace: f64,
) -> anyhow::Result<serde_json::Value> {
    let receiver = Receiver::start().await?;
    let stack = Stack::start(
        &binaries(cli)?,
        &StackSpec::new(cli, partitions, receiver.address),
    )?;
    stack.dispatcher_ready(Duration::from_secs(60)).await?;
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let record = sent_at.clone();
    let spec = load.spec();
    let prefix = format!("e2e-{}", std::process::id());
    let on_send = Arc::new(move |key: &str| {
        let id = load::alert_id(key);
        record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Instant::now());
    });
    let cpu_before = stack.cpu_seconds()?;
    let outcome = load::run(&stack.endpoint(), &spec, &prefix, on_send).await?;
    // Wait, bounded, for every sent alert to reach Manila.
    let expected = outcome.sent as usize;
    let deadline = Instant::now() + Duration::from_secs_f64(grace);
    while receiver.manila(|manila| manila.first.len()) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // CPU per accepted alert in each process (the wait above adds idle time, not CPU).
    let cpu_after = stack.cpu_seconds()?;
    let per_alert = |before: f64, after: f64| {
        let ms = (after - before) * 1000.0 / (outcome.accepted.max(1) as f64);
        (ms * 100.0).round() / 100.0
    };
    let cpu_ms = json!({
        "api": per_alert(cpu_before[0], cpu_after[0]),
        "dispatcher": per_alert(cpu_before[1], cpu_after[1]),
        "broker": per_alert(cpu_before[2], cpu_after[2]),
    });
    eprintln!("CPU ms per accepted alert: {cpu_ms}");
    let sent_at = sent_at.lock().unwrap_or_else(PoisonError::into_inner);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (arrived, repeats) = receiver.manila(|manila| {
        for (id, sent) in sent_at.iter() {
            if let Some(first) = manila.first.get(id) {
                let micros = first.saturating_duration_since(*sent).as_micros();
                let _ = latency.record(u64::try_from(micros).unwrap_or(u64::MAX).max(1));
            }
        }
        (manila.first.len(), manila.repeats)
    });
    // Alerts accepted but never notified are lost; refused ones were never accepted.
    let never_arrived = outcome.accepted.saturating_sub(arrived as u64);
    let accepted_per_s = outcome.accepted as f64 / outcome.elapsed.as_secs_f64();
    let e2e = Percentiles::of(&latency);
    let accept = Percentiles::of(&outcome.latency);
    println!(
        "| e2e {rate} c={c} p={partitions} | {accepted} | {accepted_per_s:.0}/s | {a99:.2} | {cells} | {never_arrived} | {errors} |",
        rate = rate_text(spec.rate),
        c = spec.concurrency,
        accepted = outcome.accepted,
        a99 = accept.p99_ms,
        cells = e2e.cells(),
        errors = errors_text(&outcome.errors),
    );
    Ok(json!({
        "benchmark": "e2e",
        "cpu_ms_per_alert": cpu_ms,
        "spec": spec,
        "partitions": partitions,
        "sent": outcome.sent,
        "accepted": outcome.accepted,
        "errors": outcome.errors,
        "accepted_per_s": accepted_per_s,
        "accept_latency": accept,
        "submit_to_first_webhook": e2e,
        "arrived": arrived,
        "never_arrived": never_arrived,
        "repeated_deliveries": repeats,
    }))
}

/// The dispatcher's `watchkeeper_open_alerts{status="triggered"}` once it reaches `open`
/// (the gauge refreshes every 5 s), or what it shows after 30 s.
async fn held_open(stack: &Stack, open: u64) -> anyhow::Result<f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = stack
            .dispatcher_metric("watchkeeper_open_alerts", "status=\"triggered\"")
            .await?;
        if held >= open as f64 || Instant::now() >= deadline {
            return Ok(held);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn scale(
    cli: &Cli,
    open: u64,
    partitions: u32,
    step_timeout: f64,
    rate: Option<f64>,
) -> anyhow::Result<serde_json::Value> {
    let receiver = Receiver::start().await?;
    let step = Duration::from_secs_f64(step_timeout);
    let mut stack = Stack::start(
        &binaries(cli)?,
        &StackSpec {
            step_timeout: step,
            ..StackSpec::new(cli, partitions, receiver.address)
        },
    )?;
    stack.dispatcher_ready(Duration::from_secs(60)).await?;
    let dispatcher = stack.dispatcher.as_ref().context("no dispatcher")?;
    let baseline_kib = dispatcher.rss_kib()?;
    let api_baseline_kib = stack.api.rss_kib()?;
    let started = Instant::now();
    let spec = Spec {
        mode: Mode::Batch,
        concurrency: 8,
        batch_size: if rate.is_some() { 50 } else { 500 },
        rate,
        count: open,
        duration: Duration::from_secs(600),
        connections: 2,
    };
    let prefix = format!("scale-{}", std::process::id());
    let outcome = load::run(&stack.endpoint(), &spec, &prefix, Arc::new(|_: &str| {})).await?;
    anyhow::ensure!(
        outcome.accepted == open,
        "only {} of {open} accepted: {:?}",
        outcome.accepted,
        outcome.errors
    );
    // Every alert notified at step 1: the dispatcher holds them all, waiting for step 2.
    let deadline = started + step.saturating_sub(Duration::from_secs(5));
    while (receiver.manila(|manila| manila.first.len()) as u64) < open {
        anyhow::ensure!(
            Instant::now() < deadline,
            "step 1 not delivered for every alert before step 2 was due ({} of {open}); \
             raise --step-timeout",
            receiver.manila(|manila| manila.first.len())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dispatched_in = started.elapsed();
    // The gauges refresh every 5 s: wait until they show every alert held.
    let held = held_open(&stack, open).await?;
    let dispatcher = stack.dispatcher.as_ref().context("no dispatcher")?;
    let loaded_kib = dispatcher.rss_kib()?;
    // The api's read view holds every open alert too: the service's cost is both.
    let api_loaded_kib = stack.api.rss_kib()?;
    // Crash and restore.
    stack.restart_dispatcher()?;
    let restore = stack.dispatcher_ready(Duration::from_secs(120)).await?;
    let restored_held = held_open(&stack, open).await?;
    let dispatcher = stack.dispatcher.as_ref().context("no dispatcher")?;
    let restored_kib = dispatcher.rss_kib()?;
    // Step 2 (Panama) is due `step` after each alert's step 1: how late does it fire?
    let deadline = Instant::now() + step + Duration::from_secs(60);
    while (receiver.panama(|panama| panama.first.len()) as u64) < open && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // What the dispatcher still holds (all zero once every step 2 fired).
    let armed_timers = stack
        .dispatcher_metric("watchkeeper_armed_timers", "")
        .await?;
    let pending_writes = stack
        .dispatcher_metric("watchkeeper_changelog_writes_pending", "")
        .await?;
    let mut lateness = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let manila_first = receiver.manila(|manila| manila.first.clone());
    let fired = receiver.panama(|panama| {
        for (id, second) in &panama.first {
            if let Some(first) = manila_first.get(id) {
                let late = second.saturating_duration_since(*first + step);
                let _ = lateness.record(u64::try_from(late.as_micros()).unwrap_or(u64::MAX).max(1));
            }
        }
        panama.first.len()
    });
    let late = Percentiles::of(&lateness);
    let per_alert = |kib: u64| (kib.saturating_sub(baseline_kib)) as f64 * 1024.0 / open as f64;
    let api_per_alert =
        api_loaded_kib.saturating_sub(api_baseline_kib) as f64 * 1024.0 / open as f64;
    let service = per_alert(loaded_kib) + api_per_alert;
    println!(
        "| scale {open} open p={partitions} | {held} | {base:.1} | {loaded:.1} | {per:.0} | {api_per_alert:.0} | {service:.0} | {restore:.2} | {restored_held} | {restored:.1} | {fired} | {p50:.0} | {p99:.0} | {max:.0} |",
        base = baseline_kib as f64 / 1024.0,
        loaded = loaded_kib as f64 / 1024.0,
        per = per_alert(loaded_kib),
        restore = restore.as_secs_f64(),
        restored = restored_kib as f64 / 1024.0,
        p50 = late.p50_ms,
        p99 = late.p99_ms,
        max = late.max_ms,
    );
    Ok(json!({
        "benchmark": "scale",
        "open": open,
        "partitions": partitions,
        "step_timeout_s": step_timeout,
        "ingest_accepted_per_s": outcome.accepted as f64 / outcome.elapsed.as_secs_f64(),
        "all_dispatched_after_s": dispatched_in.as_secs_f64(),
        "open_alerts_gauge": held,
        "rss_baseline_kib": baseline_kib,
        "rss_loaded_kib": loaded_kib,
        "bytes_per_open_alert": per_alert(loaded_kib),
        "api_rss_baseline_kib": api_baseline_kib,
        "api_rss_loaded_kib": api_loaded_kib,
        "api_bytes_per_open_alert": api_per_alert,
        "service_bytes_per_open_alert": service,
        "service_bytes_per_open_alert_after_restore": per_alert(restored_kib) + api_per_alert,
        "restart_to_ready_s": restore.as_secs_f64(),
        "open_alerts_after_restore": restored_held,
        "rss_after_restore_kib": restored_kib,
        "bytes_per_open_alert_after_restore": per_alert(restored_kib),
        "step2_fired": fired,
        "armed_timers_at_end": armed_timers,
        "changelog_writes_pending_at_end": pending_writes,
        "step2_lateness": late,
    }))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("wk-bench: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let value = match &cli.command {
            Command::Ingest {
                load,
                partitions,
                endpoint,
                with_dispatcher,
            } => ingest(&cli, load, *partitions, endpoint.clone(), *with_dispatcher).await?,
            Command::E2e {
                load,
                partitions,
                grace,
            } => e2e(&cli, load, *partitions, *grace).await?,
            Command::Scale {
                open,
                partitions,
                step_timeout,
                rate,
            } => scale(&cli, *open, *partitions, *step_timeout, *rate).await?,
            Command::CheckIns {
                offices,
                every,
                duration,
                partitions,
            } => {
                let run = checkins::Run {
                    offices: *offices,
                    every: Duration::from_secs_f64(*every),
                    duration: Duration::from_secs_f64(*duration),
                    partitions: *partitions,
                };
                checkins::run(&binaries(&cli)?, &cli, &run).await?
            }
            Command::Broker(run) => broker_share::run(&binaries(&cli)?.tansu, run).await?,
            Command::Maintenance(run) => maintenance::run(&binaries(&cli)?.tansu, run).await?,
            Command::Restore(run) => history::run(&cli, run).await?,
            Command::Peer(run) => peer::run(&binaries(&cli)?, &cli, run).await?,
            Command::Headcount {
                people,
                partitions,
                within,
            } => {
                let run = headcount::Run {
                    people: *people,
                    partitions: *partitions,
                    within: Duration::from_secs_f64(*within),
                };
                headcount::run(&binaries(&cli)?, &cli, &run).await?
            }
        };
        if let Some(path) = &cli.json {
            std::fs::write(path, serde_json::to_string_pretty(&value)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        anyhow::Ok(())
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wk-bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
