//! How soon a restarted dispatcher resumes its open alerts when the changelog also holds a
//! long history of resolved ones: the history is written onto the stack's state topic as
//! the dispatcher writes it (real resolved escalations, one record each), then open alerts
//! are raised through the api; once their step 1 is delivered the dispatcher is killed and
//! started again, and their step 2 falls due while it restores. How late step 2 fires, set
//! beside how long the restore took to reach readiness, shows whether timers waited for the
//! history.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hdrhistogram::Histogram;
use serde_json::json;
use wk_bus::escalation_codec::encode_escalation;
use wk_bus::producer::Producer;
use wk_bus::silence_codec::encode_silence;
use wk_core::Timestamp;
use wk_core::alert::{Alert, AlertId, Category, Severity};
use wk_core::config::Config;
use wk_core::escalation::{Escalation, Outcome, Responder};
use wk_core::policy::Directory;
use wk_core::silence::{Matcher, Silence};

use crate::filler::Filler;
use crate::load::{self, Mode, Percentiles, Spec};
use crate::receiver::Receiver;
use crate::stack::{OFFICE, Stack, StackSpec};

#[derive(clap::Args, Debug)]
pub(crate) struct Run {
    /// Resolved alerts on the changelog before the open ones.
    #[arg(long, default_value_t = 300_000)]
    history: u64,
    /// Open alerts raised after the history, through the api.
    #[arg(long, default_value_t = 1_000)]
    open: u64,
    #[arg(long, default_value_t = 6)]
    partitions: u32,
    /// Step 1 timeout: step 2 falls due this long after step 1, while the restore runs.
    #[arg(long, default_value_t = 15.0)]
    step_timeout: f64,
}

/// History records queued before waiting for the oldest acknowledgement.
const IN_FLIGHT: usize = 20_000;

pub(crate) async fn run(cli: &crate::Cli, run: &Run) -> anyhow::Result<serde_json::Value> {
    let receiver = Receiver::start().await?;
    let step = Duration::from_secs_f64(run.step_timeout);
    let mut stack = Stack::start(
        &crate::binaries(cli)?,
        &StackSpec {
            step_timeout: step,
            ..StackSpec::new(cli, run.partitions, receiver.address)
        },
    )?;
    stack.dispatcher_ready(Duration::from_secs(60)).await?;
    let rss_empty_kib = dispatcher_rss_kib(&stack)?;
    let config_text = std::fs::read_to_string(stack.dir.path().join("dispatcher.toml"))?;
    let config = Config::from_toml(&config_text, std::iter::empty())
        .map_err(|errors| anyhow::anyhow!("the stack's configuration: {errors}"))?;
    let fill_started = Instant::now();
    fill(&config, run).await?;
    let fill_s = fill_started.elapsed().as_secs_f64();

    let spec = Spec {
        mode: Mode::Batch,
        concurrency: 4,
        batch_size: 50,
        rate: Some(500.0),
        count: run.open,
        duration: Duration::from_secs(120),
        connections: 2,
    };
    let prefix = format!("history-{}", std::process::id());
    let raised_at = Instant::now();
    let outcome = load::run(&stack.endpoint(), &spec, &prefix, Arc::new(|_: &str| {})).await?;
    anyhow::ensure!(
        outcome.accepted == run.open,
        "only {} of {} accepted",
        outcome.accepted,
        run.open
    );
    let deadline = raised_at + step.saturating_sub(Duration::from_secs(2));
    while (receiver.manila(|manila| manila.first.len()) as u64) < run.open {
        anyhow::ensure!(
            Instant::now() < deadline,
            "step 1 not delivered for every open alert before step 2 was due; raise --step-timeout"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Step 2 falls due from `step` after the first step 1 on: during the restore.
    stack.restart_dispatcher()?;
    let restarted = Instant::now();
    let ready = stack.dispatcher_ready(Duration::from_secs(300)).await?;
    let ready_at = restarted + ready;
    let until = Instant::now() + step + Duration::from_secs(30);
    while (receiver.panama(|panama| panama.first.len()) as u64) < run.open && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What the restarted dispatcher holds: the open alerts, and of the history each resolved
    // alert let go (where its state is) or, in versions before, packed.
    let rss_restored_kib = dispatcher_rss_kib(&stack)?;
    let mut held = [0.0; 3];
    for (count, form) in held.iter_mut().zip(["live", "packed", "away"]) {
        *count = stack
            .dispatcher_metric("watchkeeper_machines_held", &format!("form=\"{form}\""))
            .await?;
    }
    let held_bytes_per_alert = rss_restored_kib.saturating_sub(rss_empty_kib) as f64 * 1024.0
        / (run.history + run.open).max(1) as f64;
    let (idle_cpu_s, silence_cpu_s) = silence_change(&config, &stack).await?;
    let manila = receiver.manila(|manila| manila.first.clone());
    let mut lateness = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (fired, before_ready) = receiver.panama(|panama| {
        let mut before_ready = 0usize;
        for (id, second) in &panama.first {
            if let Some(first) = manila.get(id) {
                let late = second.saturating_duration_since(*first + step);
                let _ = lateness.record(u64::try_from(late.as_micros()).unwrap_or(u64::MAX).max(1));
                before_ready += usize::from(*second < ready_at);
            }
        }
        (panama.first.len(), before_ready)
    });
    let late = Percentiles::of(&lateness);
    println!(
        "| restore with history {history} resolved + {open} open p={p} | fill {fill_s:.1} s | ready after {ready:.2} s | step 2 fired {fired} ({before_ready} before ready), late p50 {p50:.0} / p99 {p99:.0} / max {max:.0} ms | dispatcher RSS {empty:.0} → {restored:.0} MiB, {held_bytes_per_alert:.0} B per alert held (live {live:.0}, packed {packed:.0}, let go {away:.0}) | dispatcher CPU over 10 s: idle {idle_cpu_s:.2} s, a silence created {silence_cpu_s:.2} s |",
        history = run.history,
        open = run.open,
        p = run.partitions,
        ready = ready.as_secs_f64(),
        p50 = late.p50_ms,
        p99 = late.p99_ms,
        max = late.max_ms,
        empty = rss_empty_kib as f64 / 1024.0,
        restored = rss_restored_kib as f64 / 1024.0,
        live = held[0],
        packed = held[1],
        away = held[2],
    );
    Ok(json!({
        "benchmark": "restore_with_history",
        "history": run.history,
        "open": run.open,
        "partitions": run.partitions,
        "step_timeout_s": run.step_timeout,
        "fill_s": fill_s,
        "restart_to_ready_s": ready.as_secs_f64(),
        "step2_fired": fired,
        "step2_fired_before_ready": before_ready,
        "step2_lateness": late,
        "dispatcher_rss_empty_kib": rss_empty_kib,
        "dispatcher_rss_restored_kib": rss_restored_kib,
        "dispatcher_bytes_per_alert_held": held_bytes_per_alert,
        "dispatcher_machines_held": { "live": held[0], "packed": held[1], "away": held[2] },
        "idle_dispatcher_cpu_s": idle_cpu_s,
        "silence_created_dispatcher_cpu_s": silence_cpu_s,
    }))
}

/// How much CPU the restored dispatcher spends on one silence being created (it judges every
/// machine it holds again): a silence that matches nothing is written to the silences topic
/// as the api writes one, and the dispatcher's CPU time is read before it and over the
/// `SILENCE_WINDOW` after; with the CPU time of a window just before, with nothing happening.
async fn silence_change(config: &Config, stack: &Stack) -> anyhow::Result<(f64, f64)> {
    let dispatcher = stack
        .dispatcher
        .as_ref()
        .context("the stack has no dispatcher")?;
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let silence = Silence {
        id: format!("bench-{}", std::process::id()),
        matchers: vec![Matcher::parse("office=\"no-such-office\"").map_err(anyhow::Error::msg)?],
        starts_at: now,
        ends_at: now.saturating_add_millis(3_600_000),
        created_by: "bench".into(),
        created_at: now,
        comment: "matches nothing".into(),
        expired: None,
        window: None,
    };
    // What the dispatcher spends over the same window with nothing happening, to set beside.
    let idle_from = dispatcher.cpu_seconds()?;
    tokio::time::sleep(SILENCE_WINDOW).await;
    let idle = dispatcher.cpu_seconds()? - idle_from;
    let before = dispatcher.cpu_seconds()?;
    Producer::new(&config.kafka)?
        .send(
            &config.kafka.silences_topic,
            &silence.id,
            &encode_silence(&silence),
            None,
            false,
        )
        .await?;
    tokio::time::sleep(SILENCE_WINDOW).await;
    let spent = dispatcher.cpu_seconds()? - before;
    // The window is the measurement, not a wait: the figure counts only if the dispatcher
    // took the silence within it (its gauge, set every 5 s, counts it).
    let active = stack
        .dispatcher_metric("watchkeeper_silences_active", "")
        .await?;
    anyhow::ensure!(
        active >= 1.0,
        "the dispatcher had not taken the silence within {SILENCE_WINDOW:?}"
    );
    Ok((idle, spent))
}

/// Two fixed windows of CPU time, set side by side: long enough for the dispatcher to read
/// the silence, judge what it holds and count it in its gauge (every 5 s).
const SILENCE_WINDOW: Duration = Duration::from_secs(10);

fn dispatcher_rss_kib(stack: &Stack) -> anyhow::Result<u64> {
    stack
        .dispatcher
        .as_ref()
        .context("the stack has no dispatcher")?
        .rss_kib()
}

/// Writes `run.history` resolved escalations onto the state topic, spread over its
/// partitions, each keyed by its alert's id as the dispatcher keys it.
async fn fill(config: &Config, run: &Run) -> anyhow::Result<()> {
    let kafka = &config.kafka;
    let producer = Producer::batching(kafka)?;
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let by = Responder {
        actor: "bench".into(),
        channel: "bench".into(),
    };
    let mut filler = Filler::new(&producer, IN_FLIGHT);
    for index in 0..run.history {
        let dedup = format!("history-{index:08}");
        let alert = Alert {
            id: AlertId::for_dedup_key(OFFICE, &dedup),
            office_id: OFFICE.into(),
            severity: Severity::Warning,
            category: Category::CivilUnrest,
            title: "Road blocked by demonstrators".into(),
            description: "Cleared by the police within the hour.".into(),
            country: "NG".into(),
            place: "Abuja".into(),
            coordinates: None,
            occurred_at: now,
            staff_affected: 0,
            dedup_key: Some(dedup),
            labels: Default::default(),
            origin: None,
        };
        let key = alert.id.to_string();
        // Notified, delivered, resolved, and the resolution delivered: nothing owed.
        let directory = &config.policy.directory;
        let mut escalation = Escalation::route(alert, &config.policy, now);
        deliver_all(&mut escalation, directory, now);
        escalation.handle_resolve(by.clone(), None, directory, now);
        deliver_all(&mut escalation, directory, now);
        let payload = encode_escalation(escalation.as_snapshot(), -1);
        let partition =
            i32::try_from(index % u64::from(run.partitions.max(1))).context("partition")?;
        filler
            .send(&kafka.state_topic, &key, &payload, Some(partition))
            .await?;
    }
    filler.finish().await?;
    Ok(())
}

/// Reports every notification `escalation` still owes as delivered.
fn deliver_all(escalation: &mut Escalation, directory: &Directory, now: Timestamp) {
    let owed: Vec<String> = escalation
        .deliveries()
        .iter()
        .filter(|record| record.state.is_open())
        .map(|record| record.notification.id.to_string())
        .collect();
    for id in owed {
        escalation.handle_delivery(&id, Outcome::Delivered, directory, now);
    }
    while escalation.poll_action().is_some() {}
}
