//! `wk-bench check-ins`: many field offices checking in on schedule, over gRPC with each
//! office's own token, spread evenly over each interval. Reports what it costs the api and the
//! dispatcher (CPU seconds from /proc, per check-in and per office-hour; resident memory held
//! per watched office) and the check-ins' latency to the broker's acknowledgement; and checks
//! that every office is watched and up and none was taken for silent.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use sha2::Digest as _;
use wk_proto::v1 as pb;
use wk_proto::v1::alert_ingest_client::AlertIngestClient;

use crate::Cli;
use crate::load::Percentiles;
use crate::receiver::Receiver;
use crate::stack::{Binaries, Stack, StackSpec};

pub(crate) struct Run {
    pub(crate) offices: u32,
    pub(crate) every: Duration,
    pub(crate) duration: Duration,
    pub(crate) partitions: u32,
}

fn office(index: u32) -> (String, String) {
    (
        format!("bench-watch-{index:05}"),
        format!("bench-watch-token-{index:05}-0123456789abcdef"),
    )
}

/// `[[offices]]` for every watched office, checking in every `every` with a grace of a
/// quarter of it (at least 15 minutes: nobody is silent within a run).
fn offices_config(run: &Run) -> String {
    let every = run.every.as_secs().max(1);
    let mut text = String::new();
    for index in 0..run.offices {
        let (id, token) = office(index);
        let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        text.push_str(&format!(
            "[[offices]]\nid = \"{id}\"\ntoken_sha256 = \"{hash}\"\ncountry = \"NG\"\n\
             check_in = {{ every = \"{every}s\" }}\n\n"
        ));
    }
    text
}

/// CPU seconds and resident KiB of a process.
fn usage(process: &wk_harness::Service) -> anyhow::Result<(f64, u64)> {
    Ok((process.cpu_seconds()?, process.rss_kib()?))
}

pub(crate) async fn run(
    binaries: &Binaries,
    cli: &Cli,
    run: &Run,
) -> anyhow::Result<serde_json::Value> {
    let receiver = Receiver::start().await?;
    let stack = Stack::start(
        binaries,
        &StackSpec {
            extra_offices: offices_config(run),
            ..StackSpec::new(cli, run.partitions, receiver.address)
        },
    )?;
    stack.dispatcher_ready(Duration::from_secs(120)).await?;
    let dispatcher = stack.dispatcher.as_ref().context("no dispatcher")?;
    // Settled: what the processes cost before any office checked in.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (api_cpu_before, api_rss_before) = usage(&stack.api)?;
    let (dispatcher_cpu_before, dispatcher_rss_before) = usage(dispatcher)?;

    let channel = tonic::transport::Endpoint::from_shared(stack.endpoint())?
        .connect()
        .await?;
    let gap = run.every.div_f64(f64::from(run.offices.max(1)));
    let started = Instant::now();
    let mut latency = Histogram::<u64>::new(3)?;
    let (mut sent, mut refused) = (0u64, 0u64);
    let mut next = tokio::time::Instant::now();
    // One check-in every `gap`, offices in turn: each office once per `every`.
    while started.elapsed() < run.duration {
        let index = u32::try_from(sent % u64::from(run.offices.max(1))).unwrap_or(0);
        let (id, token) = office(index);
        let mut request = tonic::Request::new(pb::CheckInRequest {
            office_id: id,
            status: String::new(),
            coordinates: None,
            via: String::new(),
        });
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let began = Instant::now();
        match AlertIngestClient::new(channel.clone())
            .check_in(request)
            .await
        {
            Ok(_) => {
                let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.record(micros.max(1))?;
            }
            Err(_) => refused += 1,
        }
        sent += 1;
        next += gap;
        tokio::time::sleep_until(next).await;
    }
    let elapsed = started.elapsed();
    // Let the dispatcher apply the last ones.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (api_cpu_after, api_rss_after) = usage(&stack.api)?;
    let (dispatcher_cpu_after, dispatcher_rss_after) = usage(dispatcher)?;
    let up = stack
        .dispatcher_metric("watchkeeper_offices", "state=\"up\"")
        .await?;
    // Due again since their last round (inside the 15-minute grace): shown, not paged.
    let late = stack
        .dispatcher_metric("watchkeeper_offices", "state=\"late\"")
        .await?;
    // (A sum of no series is -0.0.)
    let silent = stack
        .dispatcher_metric("watchkeeper_office_silence_alerts_total", "")
        .await?
        .abs();
    let watched = run.offices.min(u32::try_from(sent).unwrap_or(u32::MAX));
    if refused > 0 || silent > 0.0 || ((up + late) as u32) < watched {
        bail!(
            "check-ins refused: {refused}, silence alerts: {silent}, offices up or late: {} of {watched}",
            up + late
        );
    }
    let accepted = sent - refused;
    let office_hours = f64::from(run.offices) * elapsed.as_secs_f64() / 3600.0;
    let per = |before: f64, after: f64| {
        (
            (after - before) * 1000.0 / accepted.max(1) as f64,
            (after - before) / office_hours,
        )
    };
    let (api_ms, api_per_office_hour) = per(api_cpu_before, api_cpu_after);
    let (dispatcher_ms, dispatcher_per_office_hour) =
        per(dispatcher_cpu_before, dispatcher_cpu_after);
    let rss_per_office = |before: u64, after: u64| {
        after.saturating_sub(before) as f64 * 1024.0 / f64::from(run.offices)
    };
    let lat = Percentiles::of(&latency);
    println!(
        "| check-ins: {offices} offices every {every:?} for {elapsed:.0?} | {accepted} | {rate:.1}/s | \
         api {api_ms:.3} CPU-ms/check-in ({api_h:.4} CPU-s per office-hour), RSS +{api_rss:.0} B/office | \
         dispatcher {dispatcher_ms:.3} CPU-ms/check-in ({disp_h:.4} CPU-s per office-hour), RSS +{disp_rss:.0} B/office | \
         latency p50 {p50:.2} ms p99 {p99:.2} ms | up {up}, late {late} | silence alerts {silent} |",
        offices = run.offices,
        every = run.every,
        rate = accepted as f64 / elapsed.as_secs_f64(),
        api_h = api_per_office_hour,
        api_rss = rss_per_office(api_rss_before, api_rss_after),
        disp_h = dispatcher_per_office_hour,
        disp_rss = rss_per_office(dispatcher_rss_before, dispatcher_rss_after),
        p50 = lat.p50_ms,
        p99 = lat.p99_ms,
    );
    Ok(json!({
        "scenario": "check-ins",
        "offices": run.offices,
        "every_s": run.every.as_secs_f64(),
        "elapsed_s": elapsed.as_secs_f64(),
        "check_ins": accepted,
        "api_cpu_ms_per_check_in": api_ms,
        "api_cpu_s_per_office_hour": api_per_office_hour,
        "api_rss_bytes_per_office": rss_per_office(api_rss_before, api_rss_after),
        "dispatcher_cpu_ms_per_check_in": dispatcher_ms,
        "dispatcher_cpu_s_per_office_hour": dispatcher_per_office_hour,
        "dispatcher_rss_bytes_per_office": rss_per_office(dispatcher_rss_before, dispatcher_rss_after),
        "latency_ms": {"p50": lat.p50_ms, "p99": lat.p99_ms, "max": lat.max_ms},
        "offices_up": up,
        "offices_late": late,
        "silence_alerts": silent,
    }))
}
