//! The loop: records, delivery reports and timers in; each escalation change is queued for
//! the changelog and acted on at once; input offsets are stored once the changes before them
//! are acknowledged. One `select!` over a closed set of inputs; all decisions are the
//! escalation engine's.
//!
//! Restart safety: a partition's escalations are restored from the changelog as soon as it is
//! assigned (and before any of its records is applied); restored escalations re-send their
//! pending notifications under the same ids and re-arm their timers. Revocation drops them.
//! An input offset is stored only once the escalation reflecting it (and every change queued
//! before it) is on the changelog, so a crash re-reads every record whose effect might not
//! be: the engine decides the same notifications again, under the same ids (receivers drop
//! repeats by id). A record re-read whose effect is on the changelog (offset ≤ the state's
//! `input_offset`) changes nothing.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;

use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn};
use wk_bus::BusError;
use wk_bus::codec::{Event, decode_event};
use wk_bus::consumer::{Assignment, GroupConsumer, Record};
use wk_bus::escalation_codec::{decode_escalation, encode_escalation};
use wk_bus::producer::{ProduceError, Producer};
use wk_bus::restore::{Latest, read_latest_by_key};
use wk_bus::trace::TraceHeaders;
use wk_core::Timestamp;
use wk_core::alert::AlertId;
use wk_core::config::KafkaConfig;
use wk_core::escalation::{Action, Escalation, Event as TimelineEvent, Status, TimerQueue};
use wk_core::policy::Policy;

use crate::executor::{Executor, Job, Report, wall_clock};
use crate::metrics;

const RESTORE_TIMEOUT: Duration = Duration::from_secs(60);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const IDLE: Duration = Duration::from_secs(3600);
const GAUGES: Duration = Duration::from_secs(5);
/// Changelog records awaiting acknowledgement before the loop stops taking new input.
const MAX_PENDING: usize = 20_000;
/// Changes to one escalation within this window become one changelog write (an alert is
/// typically opened and its first deliveries reported within a few milliseconds).
const FLUSH_EVERY: Duration = Duration::from_millis(5);
/// Escalations changed since the last flush that force an early one.
const MAX_DIRTY: usize = 2_000;
/// How long a stopping dispatcher waits for queued changes, to store their offsets.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A queued changelog write (or a record with nothing to write), in input order.
struct Settled {
    partition: i32,
    /// The escalation written, to write again if the broker refused it.
    alert: Option<AlertId>,
    /// The input offset to store once this and everything before it is acknowledged.
    store: Option<i64>,
    result: Result<(), ProduceError>,
}

type Queued = Pin<Box<dyn Future<Output = Settled> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Bus(#[from] BusError),
}

struct Tracked {
    escalation: Escalation,
    /// The alerts-topic offset of the last event this escalation reflects.
    input_offset: i64,
    /// Its entry in the timer index, if armed.
    armed: Option<Timestamp>,
    /// Timeline entries already counted in metrics.
    counted: usize,
    /// The trace context of the record that raised it (empty with OpenTelemetry off or after a
    /// restore): timer-driven steps join the alert's trace.
    trace: TraceHeaders,
}

pub struct Dispatcher {
    kafka: KafkaConfig,
    consumer: GroupConsumer,
    assignments: tokio::sync::mpsc::UnboundedReceiver<Assignment>,
    producer: Producer,
    policy: Policy,
    executor: Executor,
    reports: tokio::sync::mpsc::UnboundedReceiver<Report>,
    /// Restored partitions and their escalations.
    partitions: HashMap<i32, HashMap<AlertId, Tracked>>,
    /// Partitions whose assignment was lost (session expired, broker away): their escalations
    /// go on from memory (timers fire, notifications go out; neither needs the broker) but
    /// write nothing, since another member may own them now. The next assignment drops them
    /// and restores whatever it gives from the changelog.
    orphaned: HashSet<i32>,
    /// Every armed escalation timer, earliest first.
    timers: TimerQueue<(i32, AlertId)>,
    /// True once the group gave this dispatcher its partitions (possibly none) and every one
    /// of them is restored; false again while a new assignment is being restored.
    ready: tokio::sync::watch::Sender<bool>,
    /// Changelog writes in the order they were queued.
    pending: FuturesOrdered<Queued>,
    /// Escalations changed (and already acted on) since the last flush, in order.
    dirty: Vec<(i32, AlertId)>,
    dirty_set: HashSet<(i32, AlertId)>,
    /// Input offsets to store after the next flush's writes.
    unflushed: Vec<(i32, i64)>,
}

/// Whether the loop should go on.
enum Flow {
    Continue,
    Stop,
}

impl Dispatcher {
    pub fn new(
        kafka: KafkaConfig,
        producer: Producer,
        policy: Policy,
        executor: (Executor, tokio::sync::mpsc::UnboundedReceiver<Report>),
    ) -> Result<Dispatcher, DispatchError> {
        let (consumer, assignments) = GroupConsumer::subscribe(&kafka)?;
        let (executor, reports) = executor;
        Ok(Dispatcher {
            kafka,
            consumer,
            assignments,
            producer,
            policy,
            executor,
            reports,
            partitions: HashMap::new(),
            orphaned: HashSet::new(),
            timers: TimerQueue::new(),
            ready: tokio::sync::watch::Sender::new(false),
            pending: FuturesOrdered::new(),
            dirty: Vec::new(),
            dirty_set: HashSet::new(),
            unflushed: Vec::new(),
        })
    }

    /// Whether the dispatcher owns its partitions with their state restored (for readiness).
    pub fn readiness(&self) -> tokio::sync::watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Runs until `shutdown`; then commits what is done.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), DispatchError> {
        info!(group = %self.kafka.consumer_group, topic = %self.kafka.alerts_topic, "dispatcher started");
        let mut gauges = tokio::time::interval(GAUGES);
        let mut flushes = tokio::time::interval(FLUSH_EVERY);
        flushes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wait = self.timers.next_deadline().map_or(IDLE, |at| {
                Duration::from_millis(
                    u64::try_from(at.as_unix_millis() - wall_clock().as_unix_millis()).unwrap_or(0),
                )
            });
            let flow = tokio::select! {
                biased;
                () = shutdown.cancelled() => Flow::Stop,
                Some(assignment) = self.assignments.recv() => self.on_assignment(assignment, &shutdown).await,
                _ = flushes.tick(), if !self.dirty.is_empty() => self.flush(&shutdown).await,
                Some(settled) = self.pending.next(), if !self.pending.is_empty() => {
                    self.settle(settled, &shutdown).await
                }
                Some(report) = self.reports.recv() => self.on_report(report),
                () = tokio::time::sleep(wait) => self.on_timers(),
                _ = gauges.tick() => {
                    self.record_gauges();
                    Flow::Continue
                }
                record = self.consumer.recv(), if self.pending.len() < MAX_PENDING => match record {
                    Ok(record) => self.on_record(record, &shutdown).await?,
                    Err(error) => {
                        warn!(%error, "consume failed; retrying");
                        Flow::Continue
                    }
                },
            };
            if let Flow::Stop = flow {
                break;
            }
            if self.dirty.len() >= MAX_DIRTY && matches!(self.flush(&shutdown).await, Flow::Stop) {
                break;
            }
        }
        self.drain().await;
        self.consumer.close(CLOSE_TIMEOUT).await?;
        info!("dispatcher stopped; offsets committed");
        Ok(())
    }

    async fn on_assignment(
        &mut self,
        assignment: Assignment,
        shutdown: &CancellationToken,
    ) -> Flow {
        match assignment {
            Assignment::Assigned(partitions) => {
                self.ready.send_replace(false);
                // Whatever went on from memory is superseded by the changelog: whoever owned
                // these partitions meanwhile (this dispatcher included) wrote the truth there.
                for partition in std::mem::take(&mut self.orphaned) {
                    self.revoke(partition);
                }
                // Read the new partitions' changelogs concurrently; any that fails is read
                // again, alone, below.
                let missing: Vec<i32> = partitions
                    .iter()
                    .copied()
                    .filter(|partition| !self.partitions.contains_key(partition))
                    .collect();
                let reads = futures_util::future::join_all(missing.iter().map(|partition| {
                    read_latest_by_key(
                        &self.kafka,
                        &self.kafka.state_topic,
                        *partition,
                        RESTORE_TIMEOUT,
                    )
                }));
                let results = tokio::select! {
                    () = shutdown.cancelled() => return Flow::Stop,
                    results = reads => results,
                };
                for (partition, result) in missing.into_iter().zip(results) {
                    match result {
                        Ok(latest) => self.restore(partition, &latest),
                        Err(error) => warn!(partition, %error, "restore failed; retrying"),
                    }
                }
                for partition in partitions {
                    if !self.ensure_restored(partition, shutdown).await {
                        return Flow::Stop;
                    }
                }
                info!(
                    partitions = self.partitions.len(),
                    "assignment restored: ready"
                );
                self.ready.send_replace(true);
            }
            Assignment::Revoked(partitions) => {
                for partition in partitions {
                    self.revoke(partition);
                }
            }
            Assignment::Lost(partitions) => {
                warn!(
                    ?partitions,
                    "assignment lost (group session expired): escalating from memory until the \
                     group assigns partitions again"
                );
                self.orphaned.extend(
                    partitions
                        .into_iter()
                        .filter(|p| self.partitions.contains_key(p)),
                );
            }
        }
        Flow::Continue
    }

    fn record_gauges(&self) {
        let (mut triggered, mut acknowledged) = (0, 0);
        for tracked in self.partitions.values().flat_map(HashMap::values) {
            match tracked.escalation.status() {
                Status::Triggered => triggered += 1,
                Status::Acknowledged { .. } => acknowledged += 1,
                Status::Resolved { .. } => {}
            }
        }
        metrics::open_alerts(triggered, acknowledged);
        metrics::backlog(self.timers.len(), self.pending.len() + self.dirty.len());
    }

    fn revoke(&mut self, partition: i32) {
        if self.partitions.remove(&partition).is_some() {
            self.timers
                .retain(|(timer_partition, _)| *timer_partition != partition);
            info!(partition, "partition revoked");
        }
    }

    /// Restores `partition` from the changelog unless already restored; false on shutdown.
    async fn ensure_restored(&mut self, partition: i32, shutdown: &CancellationToken) -> bool {
        while !self.partitions.contains_key(&partition) {
            match read_latest_by_key(
                &self.kafka,
                &self.kafka.state_topic,
                partition,
                RESTORE_TIMEOUT,
            )
            .await
            {
                Ok(latest) => self.restore(partition, &latest),
                Err(error) => {
                    warn!(partition, %error, "restore failed; retrying");
                    if pause(shutdown).await {
                        return false;
                    }
                }
            }
        }
        true
    }

    fn restore(&mut self, partition: i32, read: &Latest) {
        let mut latest = HashMap::new();
        for record in &read.records {
            match record.payload.as_deref().map(decode_escalation) {
                Some(Ok((snapshot, input_offset))) => {
                    latest.insert(snapshot.alert.id, (snapshot, input_offset));
                }
                Some(Err(error)) => {
                    warn!(partition, offset = record.offset, %error, "undecodable state skipped");
                }
                None => {}
            }
        }
        let count = latest.len();
        self.partitions.insert(partition, HashMap::new());
        for (id, (snapshot, input_offset)) in latest {
            let escalation = Escalation::restore_in(snapshot, &self.policy);
            if let Some(states) = self.partitions.get_mut(&partition) {
                states.insert(
                    id,
                    Tracked {
                        escalation,
                        input_offset,
                        armed: None,
                        // Restored history was counted by whoever lived it.
                        counted: usize::MAX,
                        trace: TraceHeaders::default(),
                    },
                );
            }
            // Pending notifications go out again (same ids) and timers are re-armed.
            self.act(partition, id);
        }
        info!(
            partition,
            alerts = count,
            records = read.read,
            "partition restored"
        );
    }

    async fn on_record(
        &mut self,
        record: Record,
        shutdown: &CancellationToken,
    ) -> Result<Flow, DispatchError> {
        let (partition, offset) = (record.partition, record.offset);
        if !self.ensure_restored(partition, shutdown).await {
            return Ok(Flow::Stop);
        }
        let event = match record.payload.as_deref().map(decode_event) {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                warn!(partition, offset, %error, "undecodable alert record; sent to dead letter");
                return self.dead_letter(&record, shutdown).await;
            }
            None => {
                warn!(partition, offset, "empty alert record skipped");
                self.store_in_order(partition, offset);
                return Ok(Flow::Continue);
            }
        };
        let span = info_span!("dispatch", alert_id = %event.alert_id(), partition, offset);
        record.trace.adopt(&span);
        span.in_scope(|| self.apply(partition, offset, event, record.trace));
        Ok(Flow::Continue)
    }

    /// Applies one event from the alerts topic to its escalation and acts on a change; the
    /// change is written at the next flush and the record's offset stored after that.
    fn apply(&mut self, partition: i32, offset: i64, event: Event, trace: TraceHeaders) {
        let id = event.alert_id();
        let now = wall_clock();
        let states = self.partitions.entry(partition).or_default();
        let changed = match (states.get_mut(&id), event) {
            (Some(tracked), _) if offset <= tracked.input_offset => false,
            (Some(tracked), event) => {
                match event {
                    Event::Raised { alert, .. } => {
                        tracked.escalation.handle_trigger(alert, &self.policy, now)
                    }
                    Event::Acknowledged { by, incident, .. } => {
                        let effect = tracked.escalation.handle_ack(by, incident, now);
                        info!(alert_id = %id, ?effect, "acknowledgement");
                    }
                    Event::NoteAdded { by, text, .. } => {
                        tracked.escalation.handle_note(by, text, now)
                    }
                    Event::Resolved { by, incident, .. } => {
                        let resolved = tracked.escalation.handle_resolve(by, incident, now);
                        info!(alert_id = %id, resolved, "resolution");
                    }
                }
                tracked.input_offset = offset;
                true
            }
            (None, Event::Raised { alert, .. }) => {
                let escalation = Escalation::route(alert, &self.policy, now);
                info!(alert_id = %id, incident = escalation.incident(), "alert opened");
                states.insert(
                    id,
                    Tracked {
                        escalation,
                        input_offset: offset,
                        armed: None,
                        counted: 0,
                        trace,
                    },
                );
                true
            }
            (
                None,
                Event::Acknowledged { .. } | Event::Resolved { .. } | Event::NoteAdded { .. },
            ) => {
                warn!(alert_id = %id, "action on an unknown alert ignored");
                false
            }
        };
        if changed {
            self.mark(partition, id, Some(offset));
            self.act(partition, id);
        } else {
            self.store_in_order(partition, offset);
        }
    }

    fn on_report(&mut self, report: Report) -> Flow {
        let Some(tracked) = self
            .partitions
            .get_mut(&report.partition)
            .and_then(|states| states.get_mut(&report.alert_id))
        else {
            // The partition was revoked meanwhile: its new owner re-sends what is pending.
            return Flow::Continue;
        };
        tracked.escalation.handle_delivery(
            &report.notification_id,
            report.outcome,
            &self.policy.directory,
            wall_clock(),
        );
        self.mark(report.partition, report.alert_id, None);
        self.act(report.partition, report.alert_id);
        Flow::Continue
    }

    fn on_timers(&mut self) -> Flow {
        let now = wall_clock();
        while let Some((partition, id)) = self.timers.pop_due(now) {
            let Some(tracked) = self
                .partitions
                .get_mut(&partition)
                .and_then(|states| states.get_mut(&id))
            else {
                continue;
            };
            tracked.armed = None;
            let span = info_span!("escalate", alert_id = %id, partition);
            tracked.trace.adopt(&span);
            tracked
                .escalation
                .handle_timeout(&self.policy.directory, now);
            self.mark(partition, id, None);
            span.in_scope(|| self.act(partition, id));
        }
        Flow::Continue
    }

    /// Sends the escalation's decided notifications and re-arms its timer. Call once the
    /// change that decided them is queued for the changelog.
    fn act(&mut self, partition: i32, id: AlertId) {
        let Some(tracked) = self
            .partitions
            .get_mut(&partition)
            .and_then(|states| states.get_mut(&id))
        else {
            return;
        };
        let escalation = &mut tracked.escalation;
        count_new_events(escalation, &mut tracked.counted);
        while let Some(Action::Deliver(notification)) = escalation.poll_action() {
            let snapshot_alert = escalation.alert().clone();
            let notification_id = notification.id.clone();
            let span = info_span!(
                "deliver",
                alert_id = %id,
                notification = %notification.id,
                purpose = ?notification.purpose,
            );
            self.executor.spawn(Job {
                partition,
                span,
                notification,
                alert: snapshot_alert,
                incident: escalation.incident(),
                first_seen: escalation.first_seen(),
                occurrences: escalation.occurrences(),
                parked_since: escalation.parked_since(&notification_id),
            });
        }
        tracked.armed =
            self.timers
                .rearm((partition, id), tracked.armed, escalation.poll_timeout());
    }

    /// Notes that the escalation of `id` changed (its notifications go out at once); the next
    /// flush writes it, once however often it changed. `store` is the input offset that may
    /// be stored once that write is acknowledged.
    fn mark(&mut self, partition: i32, id: AlertId, store: Option<i64>) {
        if self.dirty_set.insert((partition, id)) {
            self.dirty.push((partition, id));
        }
        if let Some(offset) = store {
            self.unflushed.push((partition, offset));
        }
    }

    /// Queues every changed escalation for the changelog, then the input offsets that wait
    /// for them.
    async fn flush(&mut self, shutdown: &CancellationToken) -> Flow {
        let dirty = std::mem::take(&mut self.dirty);
        self.dirty_set.clear();
        for (partition, id) in dirty {
            if !self.enqueue_state(partition, id, shutdown).await {
                return Flow::Stop;
            }
        }
        for (partition, offset) in std::mem::take(&mut self.unflushed) {
            self.store_in_order(partition, offset);
        }
        Flow::Continue
    }

    /// Queues the escalation of `id` for the changelog. Waits only while the producer's queue
    /// is full; false if shutdown came first.
    async fn enqueue_state(
        &mut self,
        partition: i32,
        id: AlertId,
        shutdown: &CancellationToken,
    ) -> bool {
        let store = None;
        if self.orphaned.contains(&partition) {
            // Another member may own it now; the next assignment restores from the changelog.
            return true;
        }
        let Some(tracked) = self
            .partitions
            .get(&partition)
            .and_then(|states| states.get(&id))
        else {
            // Revoked meanwhile: its next owner has the last acknowledged state.
            return true;
        };
        let key = id.to_string();
        let payload = encode_escalation(&tracked.escalation.snapshot(), tracked.input_offset);
        loop {
            match self.producer.enqueue(
                &self.kafka.state_topic,
                &key,
                &payload,
                Some(partition),
                false,
            ) {
                Ok(queued) => {
                    self.pending.push_back(Box::pin(async move {
                        Settled {
                            partition,
                            alert: Some(id),
                            store,
                            result: queued.acknowledged().await.map(|_| ()),
                        }
                    }));
                    return true;
                }
                Err(ProduceError::QueueFull) => {
                    // Make room: settle the oldest queued write.
                    match self.pending.next().await {
                        Some(settled) => {
                            if let Flow::Stop = self.settle(settled, shutdown).await {
                                return false;
                            }
                        }
                        None => {
                            if pause(shutdown).await {
                                return false;
                            }
                        }
                    }
                }
                Err(error) => {
                    metrics::produce_error();
                    warn!(%error, alert_id = %id, "state not queued; retrying");
                    if pause(shutdown).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Stores `offset` after everything queued before it is acknowledged (at once when
    /// nothing is).
    fn store_in_order(&mut self, partition: i32, offset: i64) {
        if !self.dirty.is_empty() {
            self.unflushed.push((partition, offset));
        } else if self.pending.is_empty() {
            self.store(partition, offset);
        } else {
            self.pending.push_back(Box::pin(std::future::ready(Settled {
                partition,
                alert: None,
                store: Some(offset),
                result: Ok(()),
            })));
        }
    }

    fn store(&self, partition: i32, offset: i64) {
        // Fails only when the partition was revoked meanwhile: its next owner re-reads the
        // record, and the engine decides the same notifications under the same ids.
        if let Err(error) = self.consumer.store_done(partition, offset) {
            warn!(partition, offset, %error, "offset not stored");
        }
    }

    /// The oldest queued write is acknowledged (store its offset) or refused (write the
    /// escalation's current state until the broker takes it, then store the offset; later
    /// writes wait meanwhile, so offsets stay in order).
    async fn settle(&mut self, settled: Settled, shutdown: &CancellationToken) -> Flow {
        if let Err(error) = settled.result {
            metrics::produce_error();
            warn!(%error, partition = settled.partition, "state not acknowledged; writing it again");
            if let Some(id) = settled.alert
                && let Some(tracked) = self
                    .partitions
                    .get(&settled.partition)
                    .and_then(|states| states.get(&id))
            {
                let key = id.to_string();
                let payload =
                    encode_escalation(&tracked.escalation.snapshot(), tracked.input_offset);
                loop {
                    if pause(shutdown).await {
                        return Flow::Stop;
                    }
                    let sent = self
                        .producer
                        .send(
                            &self.kafka.state_topic,
                            &key,
                            &payload,
                            Some(settled.partition),
                            false,
                        )
                        .await;
                    match sent {
                        Ok(_) => break,
                        Err(error) => {
                            metrics::produce_error();
                            warn!(%error, alert_id = %id, "state not acknowledged; retrying");
                        }
                    }
                }
            }
        }
        if let Some(offset) = settled.store {
            self.store(settled.partition, offset);
        }
        Flow::Continue
    }

    /// On the way out: stores the offsets whose changes the broker acknowledges within
    /// `DRAIN_TIMEOUT`; the rest are re-read after the restart.
    async fn drain(&mut self) {
        let queued = self.pending.len() + self.dirty.len();
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            // Queue what changed since the last flush (a fresh token: the loop's is cancelled).
            if let Flow::Stop = self.flush(&CancellationToken::new()).await {
                return;
            }
            while let Some(settled) = self.pending.next().await {
                match (settled.result, settled.store) {
                    (Ok(()), Some(offset)) => self.store(settled.partition, offset),
                    (Ok(()), None) => {}
                    (Err(_), _) => return,
                }
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                queued,
                "changelog writes not all acknowledged before stopping"
            );
        }
    }

    async fn dead_letter(
        &mut self,
        record: &Record,
        shutdown: &CancellationToken,
    ) -> Result<Flow, DispatchError> {
        let key = record
            .key
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
            .into_owned();
        let payload = record.payload.as_deref().unwrap_or_default();
        loop {
            match self
                .producer
                .send(&self.kafka.dead_letter_topic, &key, payload, None, false)
                .await
            {
                Ok(_) => break,
                Err(error) => warn!(%error, "dead letter not acknowledged; retrying"),
            }
            if pause(shutdown).await {
                return Ok(Flow::Stop);
            }
        }
        self.store_in_order(record.partition, record.offset);
        Ok(Flow::Continue)
    }
}

/// Records in metrics the timeline entries added since `counted` (restored escalations start
/// counted, so a restart does not count their history again).
fn count_new_events(escalation: &Escalation, counted: &mut usize) {
    let timeline = escalation.timeline();
    if *counted > timeline.len() {
        *counted = timeline.len();
        return;
    }
    for entry in &timeline[*counted..] {
        match &entry.event {
            TimelineEvent::StepFired { .. } => metrics::step_fired(),
            TimelineEvent::FailedOver { from, to, .. } => metrics::failover(from, to),
            TimelineEvent::Updated { .. } => metrics::updated(),
            TimelineEvent::ActionRefused { .. } => metrics::action_refused(),
            TimelineEvent::Acknowledged { .. } => {
                let elapsed = entry.at.as_unix_millis() - escalation.first_seen().as_unix_millis();
                metrics::time_to_acknowledge(Duration::from_millis(
                    u64::try_from(elapsed).unwrap_or(0),
                ));
            }
            _ => {}
        }
    }
    *counted = timeline.len();
}

/// Waits a second between retries; true if shutdown came first.
async fn pause(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(Duration::from_secs(1)) => false,
    }
}
