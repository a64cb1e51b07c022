//! What a restored dispatcher holds for a history of resolved alerts: the heap (dhat) after
//! restoring `HISTORY` resolved escalations with nothing owed (as `wk-bench restore` writes
//! them) and 1,000 open ones from an in-memory changelog, per alert, and the peak the restore
//! reached on the way. RSS cannot tell these apart: the allocator keeps what the restore
//! used at its peak (README, "The dispatcher held every resolved alert").
//!
//! `cargo bench -p wk-dispatcher --bench held_memory` (or `deploy/bench/run`).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::cast_precision_loss)]

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use wk_bus::BusError;
use wk_bus::consumer::{Assignment, Record};
use wk_bus::escalation_codec::encode_escalation;
use wk_bus::producer::ProduceError;
use wk_bus::restore::Newest;
use wk_bus::restore::newest::{Chunk, FIRST_SPAN, Seen};
use wk_core::Timestamp;
use wk_core::alert::{Alert, AlertId, Category, Severity};
use wk_core::config::Config;
use wk_core::escalation::{Escalation, Outcome, Responder};
use wk_dispatcher::executor::{Job, MailJob};
use wk_dispatcher::io::{Acknowledgement, Changelog, Input, Notifier, TokioClock};
use wk_dispatcher::{Dispatcher, Parts};

const HISTORY: usize = 300_000;
const OPEN: usize = 1_000;
const PARTITIONS: i32 = 6;

/// The alerts topic: nothing arrives.
struct Silent;

impl Input for Silent {
    async fn recv(&self) -> Result<Record, BusError> {
        std::future::pending().await
    }
    fn store_done(&self, _partition: i32, _offset: i64) -> Result<(), BusError> {
        Ok(())
    }
    async fn close(self, _timeout: Duration) -> Result<(), BusError> {
        Ok(())
    }
}

/// The changelog: its partitions' records, in offset order; writes acknowledged at once.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<HashMap<i32, Vec<Record>>>>);

impl Log {
    fn records(&self, partition: i32, range: &Range<i64>) -> Vec<Record> {
        let log = self.0.lock().unwrap();
        log.get(&partition)
            .map(|records| {
                records
                    .iter()
                    .filter(|record| range.contains(&record.offset))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Changelog for Log {
    fn write(
        &self,
        partition: i32,
        key: &str,
        payload: &[u8],
    ) -> Result<Acknowledgement<i64>, ProduceError> {
        let mut log = self.0.lock().unwrap();
        let records = log.entry(partition).or_default();
        let offset = records.len() as i64;
        records.push(record(partition, offset, key, payload));
        Ok(Box::pin(async move { Ok(offset) }))
    }

    fn publish(&self, _key: &str, _payload: &[u8]) -> Result<Acknowledgement, ProduceError> {
        Ok(Box::pin(async { Ok(()) }))
    }

    async fn dead_letter(&self, _key: &str, _payload: &[u8]) -> Result<(), ProduceError> {
        Ok(())
    }

    async fn read_newest(&self, partition: i32) -> Result<Newest, BusError> {
        let high = self.0.lock().unwrap().get(&partition).map_or(0, Vec::len) as i64;
        let range = high.saturating_sub(FIRST_SPAN)..high;
        let chunk = Chunk::of(self.records(partition, &range), &range, &Seen::default());
        Ok(Newest {
            low: 0,
            high,
            range,
            chunk,
        })
    }

    async fn read_range(
        &self,
        partition: i32,
        range: Range<i64>,
        seen: Seen,
    ) -> Result<Chunk, BusError> {
        Ok(Chunk::of(self.records(partition, &range), &range, &seen))
    }

    async fn read_at(&self, partition: i32, offset: i64) -> Result<Option<Record>, BusError> {
        Ok(self.records(partition, &(offset..offset + 1)).pop())
    }
}

/// Deliveries: decided and dropped (nothing reports back).
struct Nowhere;

impl Notifier for Nowhere {
    fn spawn(&self, _job: Job) {}
    fn spawn_mail(&self, _job: MailJob) {}
}

fn record(partition: i32, offset: i64, key: &str, payload: &[u8]) -> Record {
    Record {
        partition,
        offset,
        key: Some(key.as_bytes().to_vec()),
        payload: Some(payload.to_vec()),
        trace: Default::default(),
    }
}

/// The dispatcher's unit tests' configuration: one office, Manila then Panama.
fn config() -> Config {
    Config::from_toml(include_str!("../src/tests/config.toml"), Vec::new()).expect("valid")
}

fn alert(index: usize) -> Alert {
    let dedup = format!("history-{index:08}");
    Alert {
        id: AlertId::for_dedup_key("ng-maiduguri", &dedup),
        office_id: "ng-maiduguri".into(),
        severity: Severity::Warning,
        category: Category::CivilUnrest,
        title: "Road blocked by demonstrators".into(),
        description: "Cleared by the police within the hour.".into(),
        country: "NG".into(),
        place: "Abuja".into(),
        coordinates: None,
        occurred_at: Timestamp::from_unix_millis(1_795_000_000_000),
        staff_affected: 0,
        dedup_key: Some(dedup),
        labels: Default::default(),
        origin: None,
    }
}

/// The changelog of `wk-bench restore`: `HISTORY` resolved escalations, everything
/// delivered, then `OPEN` open ones, spread over the partitions.
fn changelog(config: &Config, now: Timestamp) -> Log {
    let log = Log::default();
    let by = Responder {
        actor: "bench".into(),
        channel: "bench".into(),
    };
    let directory = &config.policy.directory;
    let deliver_all = |escalation: &mut Escalation| {
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
    };
    for index in 0..HISTORY + OPEN {
        let alert = alert(index);
        let key = alert.id.to_string();
        let mut escalation = Escalation::route(alert, &config.policy, now);
        deliver_all(&mut escalation);
        if index < HISTORY {
            escalation.handle_resolve(by.clone(), None, directory, now);
            deliver_all(&mut escalation);
        }
        let payload = encode_escalation(escalation.as_snapshot(), -1);
        let partition = (index % PARTITIONS as usize) as i32;
        let _ = log.write(partition, &key, &payload);
    }
    log
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = config();
    let now = Timestamp::from_unix_millis(1_795_000_000_000);
    let log = changelog(&config, now);
    let before = dhat::HeapStats::get();
    let (assign, assignments) = mpsc::unbounded_channel();
    let (_reports_sender, reports) = mpsc::unbounded_channel();
    let dispatcher = runtime.block_on(async {
        Dispatcher::from_parts(
            Parts {
                input: Silent,
                assignments,
                changelog: log.clone(),
                notifier: Nowhere,
                reports,
                clock: TokioClock::starting_at(now),
            },
            config.policy.clone(),
        )
    });
    let mut ready = dispatcher.readiness();
    let shutdown = CancellationToken::new();
    let running = runtime.spawn(dispatcher.run(shutdown.clone()));
    assign
        .send(Assignment::Assigned((0..PARTITIONS).collect()))
        .unwrap();
    runtime.block_on(async {
        ready.wait_for(|ready| *ready).await.unwrap();
    });
    let held = dhat::HeapStats::get();
    shutdown.cancel();
    runtime.block_on(running).unwrap().unwrap();
    let alerts = (HISTORY + OPEN) as f64;
    let bytes = held.curr_bytes.saturating_sub(before.curr_bytes);
    let peak = held.max_bytes.saturating_sub(before.curr_bytes);
    println!(
        "| dispatcher restored with {HISTORY} resolved + {OPEN} open, {PARTITIONS} partitions | \
         heap held {:.1} MiB, {:.0} B per alert | restore peak {:.1} MiB above the records |",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / alerts,
        peak as f64 / 1_048_576.0,
    );
}
