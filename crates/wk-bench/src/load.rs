//! The load generator: drives `AlertIngest` over real gRPC, unary with N concurrent workers or
//! with the batch RPC, at a fixed rate or as fast as the server answers, bounded by an alert
//! count and a duration. Latencies go into HDR histograms (microseconds).
//!
//! At a fixed rate, request `i` is due at `start + i / rate` and its latency is measured from
//! that due time, so a stalled server is charged for the requests it delayed (no coordinated
//! omission).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tonic::transport::{Channel, Endpoint};
use wk_proto::v1 as pb;
use wk_proto::v1::alert_ingest_client::AlertIngestClient;

use crate::stack::{OFFICE, TOKEN};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// `SubmitAlert`, one alert per call.
    Unary,
    /// `SubmitAlerts`, `batch_size` alerts per call.
    Batch,
}

#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Spec {
    pub(crate) mode: Mode,
    pub(crate) concurrency: usize,
    pub(crate) batch_size: usize,
    /// Alerts per second; `None` sends as fast as the server answers.
    pub(crate) rate: Option<f64>,
    pub(crate) count: u64,
    #[serde(serialize_with = "seconds")]
    pub(crate) duration: Duration,
    /// HTTP/2 connections the workers share.
    pub(crate) connections: usize,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

pub(crate) struct Outcome {
    pub(crate) sent: u64,
    pub(crate) accepted: u64,
    pub(crate) duplicates: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    pub(crate) elapsed: Duration,
    /// Per request (a whole batch in batch mode), microseconds.
    pub(crate) latency: Histogram<u64>,
}

struct Worker {
    sent: u64,
    accepted: u64,
    duplicates: u64,
    errors: BTreeMap<String, u64>,
    latency: Histogram<u64>,
}

/// A realistic alert (sizes as a field office would send).
pub(crate) fn alert(key: String) -> pb::Alert {
    pb::Alert {
        office_id: OFFICE.into(),
        severity: pb::Severity::Critical as i32,
        category: pb::Category::SecurityIncident as i32,
        title: "Armed group reported near the compound".into(),
        description: "Gunfire heard 2 km east of the compound at 14:05. Staff are sheltering in \
                      place; the road to the airstrip is closed. Requesting guidance."
            .into(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: Some(pb::Coordinates {
            latitude: 11.8464,
            longitude: 13.1603,
        }),
        occurred_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        staff_affected: 12,
        dedup_key: key,
        labels: [("team".to_owned(), "security".to_owned())]
            .into_iter()
            .collect(),
        origin: None,
    }
}

/// The id ingest will give the alert with this dedup key (UUIDv5 of office and key).
pub(crate) fn alert_id(key: &str) -> String {
    wk_core::AlertId::for_dedup_key(OFFICE, key).to_string()
}

fn authorized<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {TOKEN}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    // 1 µs to 10 minutes, 3 significant digits.
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

/// Runs the load; `on_send` is told each alert's dedup key just before its request leaves.
pub(crate) async fn run(
    endpoint: &str,
    spec: &Spec,
    prefix: &str,
    on_send: Arc<dyn Fn(&str) + Send + Sync>,
) -> anyhow::Result<Outcome> {
    let mut channels = Vec::new();
    for _ in 0..spec.connections.max(1) {
        let channel = Endpoint::from_shared(endpoint.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await?;
        channels.push(channel);
    }
    let per_request = match spec.mode {
        Mode::Unary => 1,
        Mode::Batch => spec.batch_size.max(1) as u64,
    };
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + spec.duration;
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..spec.concurrency.max(1) {
        let client = AlertIngestClient::new(channels[index % channels.len()].clone())
            .max_decoding_message_size(16 << 20)
            .max_encoding_message_size(16 << 20);
        let spec = spec.clone();
        let next = next.clone();
        let prefix = prefix.to_owned();
        let on_send = on_send.clone();
        let latency = new_histogram()?;
        workers.spawn(async move {
            let mut worker = Worker {
                sent: 0,
                accepted: 0,
                duplicates: 0,
                errors: BTreeMap::new(),
                latency,
            };
            work(
                client,
                &spec,
                per_request,
                &next,
                start,
                deadline,
                &prefix,
                &*on_send,
                &mut worker,
            )
            .await;
            worker
        });
    }
    let mut outcome = Outcome {
        sent: 0,
        accepted: 0,
        duplicates: 0,
        errors: BTreeMap::new(),
        elapsed: Duration::ZERO,
        latency: new_histogram()?,
    };
    while let Some(worker) = workers.join_next().await {
        let worker = worker?;
        outcome.sent += worker.sent;
        outcome.accepted += worker.accepted;
        outcome.duplicates += worker.duplicates;
        for (code, count) in worker.errors {
            *outcome.errors.entry(code).or_default() += count;
        }
        outcome.latency.add(&worker.latency)?;
    }
    outcome.elapsed = start.elapsed();
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn work(
    mut client: AlertIngestClient<Channel>,
    spec: &Spec,
    per_request: u64,
    next: &AtomicU64,
    start: Instant,
    deadline: Instant,
    prefix: &str,
    on_send: &(dyn Fn(&str) + Send + Sync),
    worker: &mut Worker,
) {
    loop {
        let first = next.fetch_add(per_request, Ordering::Relaxed);
        if first >= spec.count || Instant::now() >= deadline {
            return;
        }
        let last = (first + per_request).min(spec.count);
        let due = match spec.rate {
            Some(rate) => {
                let due = start + Duration::from_secs_f64(first as f64 / rate);
                if due >= deadline {
                    return;
                }
                tokio::time::sleep_until(due.into()).await;
                due
            }
            None => Instant::now(),
        };
        let keys: Vec<String> = (first..last).map(|n| format!("{prefix}-{n}")).collect();
        for key in &keys {
            on_send(key);
        }
        worker.sent += keys.len() as u64;
        let result = match spec.mode {
            Mode::Unary => {
                let key = keys.into_iter().next().unwrap_or_default();
                let request = pb::SubmitAlertRequest {
                    alert: Some(alert(key)),
                };
                client
                    .submit_alert(authorized(request))
                    .await
                    .map(|response| {
                        let response = response.into_inner();
                        vec![Ok(response.duplicate)]
                    })
            }
            Mode::Batch => {
                let request = pb::SubmitAlertsRequest {
                    alerts: keys.into_iter().map(alert).collect(),
                };
                client
                    .submit_alerts(authorized(request))
                    .await
                    .map(|response| {
                        response
                            .into_inner()
                            .results
                            .into_iter()
                            .map(|result| match result.outcome {
                                Some(pb::submit_alerts_result::Outcome::Accepted(accepted)) => {
                                    Ok(accepted.duplicate)
                                }
                                Some(pb::submit_alerts_result::Outcome::Error(error)) => {
                                    Err(tonic::Code::from_i32(error.code))
                                }
                                None => Err(tonic::Code::Unknown),
                            })
                            .collect()
                    })
            }
        };
        let micros = u64::try_from(due.elapsed().as_micros()).unwrap_or(u64::MAX);
        let _ = worker.latency.record(micros.max(1));
        match result {
            Ok(items) => {
                for item in items {
                    match item {
                        Ok(false) => worker.accepted += 1,
                        Ok(true) => worker.duplicates += 1,
                        Err(code) => *worker.errors.entry(format!("{code:?}")).or_default() += 1,
                    }
                }
            }
            Err(status) => {
                *worker
                    .errors
                    .entry(format!("{:?}", status.code()))
                    .or_default() += last - first;
            }
        }
    }
}

/// Percentiles of a microsecond histogram, in milliseconds.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Percentiles {
    pub(crate) count: u64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) p999_ms: f64,
    pub(crate) max_ms: f64,
}

impl Percentiles {
    pub(crate) fn of(histogram: &Histogram<u64>) -> Percentiles {
        let ms = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1000.0;
        Percentiles {
            count: histogram.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: histogram.max() as f64 / 1000.0,
        }
    }

    /// `p50 | p90 | p99 | p99.9 | max`, in milliseconds, as the result tables print them.
    pub(crate) fn cells(&self) -> String {
        format!(
            "{:.2} | {:.2} | {:.2} | {:.2} | {:.2}",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms
        )
    }
}
