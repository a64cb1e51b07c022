//! `wk-bench broker`: the broker's own share of the end-to-end latency. A broker started as
//! `e2e`'s stack starts it (Tansu with the same indexes), Watchkeeper's own api producer
//! (acks=all, idempotent, 1 ms linger) sending open loop at `rate`, and the dispatcher's own
//! group consumer (`fetch.wait.max.ms` 10) receiving: produce → consume latency per record,
//! with nothing of Watchkeeper's in between. What `e2e` measures at the same rate, less this,
//! is what Watchkeeper adds.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde_json::json;
use wk_bus::consumer::{Assignment, GroupConsumer};
use wk_bus::producer::Producer;
use wk_harness::Broker;

use crate::load::Percentiles;

#[derive(clap::Args)]
pub(crate) struct Run {
    #[arg(long, default_value_t = 100.0)]
    pub(crate) rate: f64,
    #[arg(long, default_value_t = 3_000)]
    pub(crate) count: u64,
    #[arg(long, default_value_t = 6)]
    pub(crate) partitions: i32,
    /// Seconds to wait after the last send for the last records.
    #[arg(long = "grace", default_value_t = 30.0)]
    pub(crate) grace_s: f64,
    /// Also the broker traffic Watchkeeper's durability adds, without Watchkeeper: for each
    /// record received, one record of `--state-bytes` on the state topic in the received
    /// record's partition through the changelog's producer (5 ms linger), and a tail
    /// following the state topic from its start, as the api's view does. What `e2e` adds
    /// beyond this is Watchkeeper's own work.
    #[arg(long)]
    pub(crate) changelog: bool,
    #[arg(long, default_value_t = 1_200)]
    pub(crate) state_bytes: usize,
}

type Times = Arc<Mutex<HashMap<String, Instant>>>;

/// Records sent and received before the measured ones.
const WARM_UP: usize = 60;

pub(crate) async fn run(tansu: &Path, run: &Run) -> anyhow::Result<serde_json::Value> {
    if run.rate <= 0.0 || run.count == 0 {
        bail!("--rate must be positive and --count at least 1");
    }
    let broker = Broker::start_with(tansu)?;
    let mut kafka = crate::maintenance::kafka(broker.address(), run.partitions);
    kafka.consumer_group = "bench-broker-share".into();
    wk_bus::admin::ensure_topics(&kafka).await?;
    let (consumer, mut assignments) = GroupConsumer::subscribe(&kafka)?;
    let changelog = match run.changelog {
        true => Some(Changelog::start(&kafka, run.state_bytes).await?),
        false => None,
    };
    let received: Times = Arc::default();
    // How many records arrived in all, warm-up included: what the waits below wait on.
    let (arrived, mut arrivals) = tokio::sync::watch::channel(0usize);
    let receiving = {
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let record = match consumer.recv().await {
                    Ok(record) => record,
                    Err(error) => return Err::<(), anyhow::Error>(error.into()),
                };
                let at = Instant::now();
                if let (Some(changelog), Some(key)) = (&changelog, &record.key) {
                    changelog.write(key, record.partition)?;
                }
                if let Some(key) = record.key {
                    received
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(String::from_utf8_lossy(&key).into_owned(), at);
                    arrived.send_modify(|count| *count += 1);
                }
            }
        })
    };
    // Every partition assigned before the first send, as a dispatcher is before it is ready.
    let mut assigned = 0;
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while assigned < run.partitions {
            match assignments.recv().await {
                Some(Assignment::Assigned(partitions)) => {
                    assigned += i32::try_from(partitions.len()).unwrap_or(i32::MAX);
                }
                Some(_) => {}
                None => break,
            }
        }
    })
    .await;
    if waited.is_err() || assigned < run.partitions {
        bail!(
            "the consumer was assigned {assigned} of {} partitions",
            run.partitions
        );
    }

    let producer = Producer::new(&kafka)?;
    let payload = vec![b'a'; 600];
    // Warm up: the first fetches of every partition answered before anything is measured
    // (as a dispatcher that has been consuming is).
    for index in 0..WARM_UP {
        let key = format!("warm-{index}");
        producer
            .send(&kafka.alerts_topic, &key, &payload, None, false)
            .await?;
    }
    // The warm-up's keys stay in `received`; the report looks up only the measured ones.
    let warm = arrivals.wait_for(|count| *count >= WARM_UP);
    if tokio::time::timeout(Duration::from_secs(30), warm)
        .await
        .is_err()
    {
        bail!("the warm-up records did not all arrive within 30 s");
    }
    let sent: Times = Arc::default();
    let period = Duration::from_secs_f64(1.0 / run.rate);
    let started = Instant::now();
    let mut acknowledgements = tokio::task::JoinSet::new();
    for index in 0..run.count {
        tokio::time::sleep_until((started + period.mul_f64(index as f64)).into()).await;
        let key = format!("share-{index}");
        sent.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), Instant::now());
        let queued = producer.enqueue(&kafka.alerts_topic, &key, &payload, None, false)?;
        acknowledgements.spawn(queued.acknowledged());
    }
    while let Some(acknowledged) = acknowledgements.join_next().await {
        acknowledged?.context("a record was not acknowledged")?;
    }
    // Those that never arrive within the grace are reported as such.
    let all = WARM_UP + usize::try_from(run.count).unwrap_or(usize::MAX);
    let _ = tokio::time::timeout(
        Duration::from_secs_f64(run.grace_s.max(0.0)),
        arrivals.wait_for(|count| *count >= all),
    )
    .await;
    receiving.abort();
    report(run, &sent, &received)
}

fn report(run: &Run, sent: &Times, received: &Times) -> anyhow::Result<serde_json::Value> {
    let sent = sent.lock().unwrap_or_else(PoisonError::into_inner);
    let received = received.lock().unwrap_or_else(PoisonError::into_inner);
    let mut latency = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let mut missing = 0u64;
    for (key, at) in sent.iter() {
        match received.get(key) {
            Some(got) => latency.saturating_record(
                u64::try_from(got.saturating_duration_since(*at).as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1),
            ),
            None => missing += 1,
        }
    }
    let share = Percentiles::of(&latency);
    println!(
        "| broker alone {:.0}/s p={}{} | {} | {} | {missing} |",
        run.rate,
        run.partitions,
        if run.changelog {
            ", with a changelog"
        } else {
            ""
        },
        run.count,
        share.cells()
    );
    Ok(json!({
        "benchmark": "broker",
        "rate": run.rate,
        "count": run.count,
        "partitions": run.partitions,
        "changelog": run.changelog,
        "produce_to_consume": share,
        "never_received": missing,
    }))
}

/// The broker traffic of Watchkeeper's durability, without Watchkeeper: a state record
/// written behind each record received, and a tail reading them all back.
struct Changelog {
    producer: Producer,
    topic: String,
    payload: Vec<u8>,
    reading: tokio::task::JoinHandle<()>,
}

impl Changelog {
    async fn start(kafka: &wk_core::config::KafkaConfig, bytes: usize) -> anyhow::Result<Self> {
        let tail = wk_bus::tail::Tail::follow(kafka, &kafka.state_topic).await?;
        // Read and dropped, as the api's view would decode and keep them; a failed read ends
        // the tail (the figures then show the broker without it).
        let reading = tokio::spawn(async move { while tail.recv().await.is_ok() {} });
        Ok(Changelog {
            producer: Producer::batching(kafka)?,
            topic: kafka.state_topic.clone(),
            payload: vec![b's'; bytes],
            reading,
        })
    }

    /// Queues the state record of `key` (not awaited: the dispatcher writes behind).
    fn write(&self, key: &[u8], partition: i32) -> anyhow::Result<()> {
        let key = String::from_utf8_lossy(key);
        drop(
            self.producer
                .enqueue(&self.topic, &key, &self.payload, Some(partition), false)?,
        );
        Ok(())
    }
}

impl Drop for Changelog {
    fn drop(&mut self) {
        self.reading.abort();
    }
}
