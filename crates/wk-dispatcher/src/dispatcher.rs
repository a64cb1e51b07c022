//! The loop: records, assignments, delivery reports and timers in; each escalation change is
//! acted on at once and written behind (`pipeline`); input offsets are stored once the
//! changes before them are acknowledged. One `select!` over a closed set of inputs; every
//! decision is the escalation engine's, every write-ordering decision the pipeline's, and all
//! I/O goes through the traits of `io`, so the loop is unit-tested with paused time.
//!
//! Restart safety: a partition's escalations are restored from the changelog as soon as it is
//! assigned (and before any of its records is applied); restored escalations re-send their
//! pending notifications under the same ids and re-arm their timers. Revocation drops them.
//! A crash re-reads every record whose effect might not be on the changelog: the engine
//! decides the same notifications again, under the same ids (receivers drop repeats by id).
//! A record re-read whose effect is on the changelog (offset ≤ the state's `input_offset`)
//! changes nothing.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tracing::{info, info_span, warn};
use wk_bus::BusError;
use wk_bus::codec::{Fact, decode_event};
use wk_bus::consumer::{Assignment, GroupConsumer, Record};
use wk_bus::producer::{ProduceError, Producer};
use wk_core::config::KafkaConfig;
use wk_core::policy::Policy;
use wk_core::silence::SilenceBook;
use wk_core::watch::WatchConfig;

use crate::executor::{Executor, Report};
use crate::held::{Held, Subject, World};
use crate::io::{Acknowledgement, Changelog, Clock, Input, KafkaChangelog, Notifier, WallClock};
use crate::metrics;
use crate::pipeline::{Key, Release, Ticket, WriteBehind};
use crate::store::{Seen, Standing, Store};

const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
const IDLE: Duration = Duration::from_secs(3600);
const GAUGES: Duration = Duration::from_secs(5);
/// How often machines left alone are packed (`Store::sweep`), and at most how many at a time
/// (about 10 µs each: a sweep holds the loop 20 ms at most).
const SWEEP_EVERY: Duration = Duration::from_secs(1);
const PACK_PER_SWEEP: usize = 2_000;
/// Changelog writes awaiting acknowledgement before the loop stops taking new input.
const MAX_PENDING: usize = 20_000;
/// Changes to one escalation within this window become one changelog write (an alert is
/// typically opened and its first deliveries reported within a few milliseconds).
const FLUSH_EVERY: Duration = Duration::from_millis(5);
/// Escalations changed since the last flush that force an early one.
const MAX_DIRTY: usize = 2_000;
/// How long a stopping dispatcher waits for queued changes, to store their offsets.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Between two tries of a refused or failed write.
pub(crate) const RETRY: Duration = Duration::from_secs(1);

/// What came of a queued state write.
pub(crate) enum Answer {
    /// Acknowledged at this changelog offset.
    Written(i64),
    Refused,
    /// A refused write's pause is over: write the machine's current state again.
    Retry,
}

type InFlight = Pin<Box<dyn Future<Output = (Ticket, Key, Answer)> + Send>>;
pub(crate) type Published =
    Pin<Box<dyn Future<Output = (Key, crate::act::Publishing, bool)> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Whether the loop should go on.
pub(crate) enum Flow {
    Continue,
    Stop,
}

/// Everything the loop talks to.
pub struct Parts<I, C, N, K> {
    pub input: I,
    pub assignments: UnboundedReceiver<Assignment>,
    pub changelog: C,
    pub notifier: N,
    pub reports: UnboundedReceiver<Report>,
    pub clock: K,
}

pub struct Dispatcher<I = GroupConsumer, C = KafkaChangelog, N = Executor, K = WallClock> {
    pub(crate) input: I,
    assignments: UnboundedReceiver<Assignment>,
    pub(crate) changelog: Arc<C>,
    pub(crate) notifier: N,
    pub(crate) reports: UnboundedReceiver<Report>,
    pub(crate) clock: K,
    pub(crate) world: World,
    pub(crate) store: Store,
    /// Publications of watches awaiting the broker (the silence alert, its resolution).
    pub(crate) published: FuturesUnordered<Published>,
    pub(crate) pipeline: WriteBehind,
    /// Acknowledgements of queued writes, in any order (the pipeline orders them).
    pub(crate) in_flight: FuturesUnordered<InFlight>,
    /// True once the group gave this dispatcher its partitions (possibly none) and every one
    /// of them is restored; false again while a new assignment is being restored.
    ready: tokio::sync::watch::Sender<bool>,
    /// For the start-up log line.
    group: String,
    /// The silences topic's book, replaced by the binary's follower on every change.
    pub(crate) silences: Option<tokio::sync::watch::Receiver<Arc<SilenceBook>>>,
    /// When a silence next starts or ends: every machine is judged again then.
    pub(crate) silence_wake: Option<wk_core::Timestamp>,
}

impl Dispatcher {
    pub fn new(
        kafka: KafkaConfig,
        producer: Producer,
        policy: Policy,
        executor: (Executor, UnboundedReceiver<Report>),
    ) -> Result<Dispatcher, DispatchError> {
        let (input, assignments) = GroupConsumer::subscribe(&kafka)?;
        let (notifier, reports) = executor;
        let group = format!("{} on {}", kafka.consumer_group, kafka.alerts_topic);
        let mut dispatcher = Dispatcher::from_parts(
            Parts {
                input,
                assignments,
                changelog: KafkaChangelog { kafka, producer },
                notifier,
                reports,
                clock: WallClock,
            },
            policy,
        );
        dispatcher.group = group;
        Ok(dispatcher)
    }
}

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    pub fn from_parts(parts: Parts<I, C, N, K>, policy: Policy) -> Dispatcher<I, C, N, K> {
        let chains = policy.chains.clone();
        Dispatcher {
            input: parts.input,
            assignments: parts.assignments,
            changelog: Arc::new(parts.changelog),
            notifier: parts.notifier,
            reports: parts.reports,
            clock: parts.clock,
            world: World {
                policy,
                watches: BTreeMap::new(),
                silences: Arc::default(),
            },
            store: Store::new(chains),
            published: FuturesUnordered::new(),
            pipeline: WriteBehind::default(),
            in_flight: FuturesUnordered::new(),
            ready: tokio::sync::watch::Sender::new(false),
            group: String::new(),
            silences: None,
            silence_wake: None,
        }
    }

    /// The offices to watch for check-ins, by office id.
    pub fn with_watches(mut self, watches: BTreeMap<String, WatchConfig>) -> Self {
        self.world.watches = watches;
        self
    }

    /// Whether the dispatcher owns its partitions with their state restored (for readiness).
    pub fn readiness(&self) -> tokio::sync::watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// Runs until `shutdown`; then commits what is done.
    pub async fn run(mut self, shutdown: CancellationToken) -> Result<(), DispatchError> {
        info!(group = %self.group, "dispatcher started");
        let mut gauges = tokio::time::interval(GAUGES);
        let mut sweeps = tokio::time::interval(SWEEP_EVERY);
        sweeps.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flushes = tokio::time::interval(FLUSH_EVERY);
        flushes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wait = self.until_timers();
            let taking = self.pipeline.queued() < MAX_PENDING;
            let flow = tokio::select! {
                biased;
                () = shutdown.cancelled() => Flow::Stop,
                Some(assignment) = self.assignments.recv() => self.on_assignment(assignment, &shutdown).await,
                _ = flushes.tick(), if self.pipeline.dirty() > 0 => self.flush(&shutdown).await,
                Some((ticket, key, answer)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.settled(ticket, key, answer)
                }
                Some((key, owed, acknowledged)) = self.published.next(), if !self.published.is_empty() => {
                    self.on_published(key, owed, acknowledged)
                }
                Some(report) = self.reports.recv() => self.on_report(report),
                Some(Ok(())) = changed(self.silences.as_mut()) => self.on_silences(),
                () = tokio::time::sleep(wait) => self.on_timers(),
                _ = gauges.tick() => {
                    self.record_gauges();
                    Flow::Continue
                }
                _ = sweeps.tick() => {
                    let pipeline = &self.pipeline;
                    self.store.sweep(PACK_PER_SWEEP, |key| pipeline.is_dirty(key));
                    Flow::Continue
                }
                record = self.input.recv(), if taking => match record {
                    Ok(record) => self.on_record(record, &shutdown).await,
                    Err(error) => {
                        warn!(%error, "consume failed; retrying");
                        Flow::Continue
                    }
                },
            };
            if let Flow::Stop = flow {
                break;
            }
            if self.pipeline.dirty() >= MAX_DIRTY
                && matches!(self.flush(&shutdown).await, Flow::Stop)
            {
                break;
            }
        }
        self.drain().await;
        self.input.close(CLOSE_TIMEOUT).await?;
        info!("dispatcher stopped; offsets committed");
        Ok(())
    }

    /// How long until the earliest timer or silence boundary falls due.
    pub(crate) fn until_timers(&self) -> Duration {
        let now = self.clock.now();
        let next = [self.store.next_deadline(), self.silence_wake()]
            .into_iter()
            .flatten()
            .min();
        next.map_or(IDLE, |at| {
            Duration::from_millis(
                u64::try_from(at.as_unix_millis() - now.as_unix_millis()).unwrap_or(0),
            )
        })
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
                self.store.drop_orphans();
                if !self.restore_all(&partitions, shutdown).await {
                    return Flow::Stop;
                }
                info!(
                    partitions = self.store.restored(),
                    "assignment restored: ready"
                );
                self.ready.send_replace(true);
            }
            Assignment::Revoked(partitions) => {
                for partition in partitions {
                    if self.store.drop_partition(partition) {
                        info!(partition, "partition revoked");
                    }
                }
            }
            Assignment::Lost(partitions) => {
                warn!(
                    ?partitions,
                    "assignment lost (group session expired): escalating from memory until the \
                     group assigns partitions again"
                );
                self.store.orphan(partitions);
            }
        }
        Flow::Continue
    }

    fn record_gauges(&self) {
        let (mut triggered, mut acknowledged, mut held) = (0, 0, 0);
        let mut offices = std::collections::HashMap::new();
        for machine in self.store.machines() {
            let standing = match machine {
                Seen::Live(Held::Escalation(escalation)) => Standing::of(escalation),
                Seen::Packed(standing) => standing,
                Seen::Live(Held::Watch(watch)) => {
                    *offices.entry(watch.status()).or_insert(0) += 1;
                    continue;
                }
                Seen::Live(Held::Headcount(_)) => continue,
            };
            match standing {
                Standing::Triggered { held: is_held } => {
                    triggered += 1;
                    held += usize::from(is_held);
                }
                Standing::Acknowledged => acknowledged += 1,
                Standing::Resolved => {}
            }
        }
        metrics::open_alerts(triggered, acknowledged);
        metrics::silences(self.world.silences.active(self.clock.now()), held);
        metrics::offices(&offices);
        metrics::machines(self.store.census());
        metrics::backlog(
            self.store.armed_timers(),
            self.pipeline.queued() + self.pipeline.dirty(),
        );
    }

    async fn on_record(&mut self, record: Record, shutdown: &CancellationToken) -> Flow {
        let (partition, offset) = (record.partition, record.offset);
        if !self.ensure_restored(partition, shutdown).await {
            return Flow::Stop;
        }
        let event = match record.payload.as_deref().map(decode_event) {
            Some(Ok(event)) => event,
            Some(Err(error)) => {
                warn!(partition, offset, %error, "undecodable alert record; sent to dead letter");
                return self.dead_letter(&record, shutdown).await;
            }
            None => {
                warn!(partition, offset, "empty alert record skipped");
                self.pipeline.unchanged(partition, offset);
                self.release();
                return Flow::Continue;
            }
        };
        // A repeat of a let-go alert needs only what the store kept; anything else about it
        // waits for its state.
        if let Some(id) = event.alert_id()
            && !matches!(event, Fact::Raised { .. })
            && !self
                .recall(&(partition, Subject::Alert(id)), offset, shutdown)
                .await
        {
            return Flow::Stop;
        }
        let span = match (&event, event.alert_id()) {
            (_, Some(id)) => info_span!("dispatch", alert_id = %id, partition, offset),
            (Fact::Office { office, .. }, None) => {
                info_span!("dispatch", office = %office, partition, offset)
            }
            (_, None) => info_span!("dispatch", partition, offset),
        };
        record.trace.adopt(&span);
        span.in_scope(|| self.apply(partition, offset, event, record.trace));
        Flow::Continue
    }

    pub(crate) fn on_report(&mut self, report: Report) -> Flow {
        let key = (report.partition, report.subject);
        let now = self.clock.now();
        match self.store.get_mut(&key).map(|tracked| &mut tracked.machine) {
            Some(Held::Escalation(escalation)) => escalation.handle_delivery(
                &report.notification_id,
                report.outcome,
                &self.world.policy.directory,
                now,
            ),
            // Taken by the SMTP server or given up: either way not sent again.
            Some(Held::Headcount(headcount)) => headcount.handle_done(&report.notification_id),
            // The partition was revoked meanwhile: its new owner re-sends what is pending.
            Some(Held::Watch(_)) | None => return Flow::Continue,
        }
        self.pipeline.changed(key.clone(), None);
        self.act(key);
        Flow::Continue
    }

    pub(crate) fn on_timers(&mut self) -> Flow {
        let now = self.clock.now();
        if self.silence_wake.is_some_and(|wake| wake <= now) {
            self.judge_all();
        }
        while let Some(key) = self.store.pop_due(now) {
            let Some(tracked) = self.store.get_mut(&key) else {
                continue;
            };
            let span = match &key.1 {
                Subject::Alert(id) => info_span!("escalate", alert_id = %id, partition = key.0),
                Subject::Office(office) => info_span!("watch", office = %office, partition = key.0),
                Subject::Headcount(id) => {
                    info_span!("headcount", headcount = %id, partition = key.0)
                }
            };
            tracked.trace.adopt(&span);
            tracked.machine.handle_timeout(&self.world, now);
            self.pipeline.changed(key.clone(), None);
            span.in_scope(|| self.act(key));
        }
        Flow::Continue
    }

    /// The broker answered a queued write, or a refused one is due again.
    pub(crate) fn settled(&mut self, ticket: Ticket, key: Key, answer: Answer) -> Flow {
        match answer {
            Answer::Written(offset) => {
                self.store.acknowledged(&key, ticket, offset);
                self.pipeline.settled(ticket, true);
            }
            Answer::Refused => {
                metrics::produce_error();
                warn!("state not acknowledged; writing it again");
                self.pipeline.settled(ticket, false);
            }
            Answer::Retry => self.rewrite(ticket, key),
        }
        self.release();
        Flow::Continue
    }

    /// Writes `key`'s current state again under `ticket` (encoded now, not when refused: a
    /// later write of it may have landed meanwhile, and an older state must not follow it).
    fn rewrite(&mut self, ticket: Ticket, key: Key) {
        let payload = match self.store.encode(&key) {
            Some(payload) if !self.store.is_orphaned(key.0) => payload,
            // Revoked or lost meanwhile (its owner has the last acknowledged state), or let
            // go (a later write holds its current state).
            _ => {
                self.pipeline.settled(ticket, true);
                return;
            }
        };
        match self.changelog.write(key.0, &key.1.to_string(), &payload) {
            Ok(acknowledgement) => {
                self.store.queued(&key, ticket);
                self.in_flight.push(answered(ticket, key, acknowledgement));
            }
            Err(error) => {
                warn!(%error, key = %key.1, "state not queued again; retrying");
                self.pipeline.settled(ticket, false);
            }
        }
    }

    /// Does what the pipeline releases: stores offsets, writes refused states again.
    pub(crate) fn release(&mut self) {
        while let Some(release) = self.pipeline.poll_release() {
            match release {
                Release::Store { partition, offset } => {
                    // Fails only when the partition was revoked meanwhile: its next owner
                    // re-reads the record, and the engine decides the same notifications.
                    if let Err(error) = self.input.store_done(partition, offset) {
                        warn!(partition, offset, %error, "offset not stored");
                    }
                }
                Release::Rewrite { ticket, key } => {
                    self.in_flight.push(Box::pin(async move {
                        tokio::time::sleep(RETRY).await;
                        (ticket, key, Answer::Retry)
                    }));
                }
            }
        }
    }

    /// Queues every changed escalation for the changelog, then the input offsets that wait
    /// for them.
    pub(crate) async fn flush(&mut self, shutdown: &CancellationToken) -> Flow {
        for key in self.pipeline.take_dirty() {
            if !self.write_state(key, shutdown).await {
                return Flow::Stop;
            }
        }
        self.pipeline.flushed();
        self.release();
        Flow::Continue
    }

    /// Queues the state of `key` (unless its partition is revoked or lost). Waits only while
    /// the producer's queue is full; false if shutdown came first.
    async fn write_state(&mut self, key: Key, shutdown: &CancellationToken) -> bool {
        if self.store.is_orphaned(key.0) {
            // Another member may own it now; the next assignment restores from the changelog.
            // Its change is not there, so it is not let go meanwhile.
            self.store.unwritten(&key);
            return true;
        }
        let Some(payload) = self.store.encode(&key) else {
            // Revoked meanwhile: its next owner has the last acknowledged state.
            return true;
        };
        let name = key.1.to_string();
        loop {
            match self.changelog.write(key.0, &name, &payload) {
                Ok(acknowledgement) => {
                    let ticket = self.pipeline.queue_write(key.clone());
                    self.store.queued(&key, ticket);
                    self.in_flight.push(answered(ticket, key, acknowledgement));
                    return true;
                }
                Err(ProduceError::QueueFull) => {
                    // Make room: wait for an acknowledgement.
                    match self.in_flight.next().await {
                        Some((ticket, key, answer)) => {
                            self.settled(ticket, key, answer);
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
                    warn!(%error, key = %key.1, "state not queued; retrying");
                    if pause(shutdown).await {
                        return false;
                    }
                }
            }
        }
    }

    /// On the way out: stores the offsets whose changes the broker acknowledges within
    /// `DRAIN_TIMEOUT`; the rest are re-read after the restart.
    async fn drain(&mut self) {
        let queued = self.pipeline.queued() + self.pipeline.dirty();
        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            // Queue what changed since the last flush (a fresh token: the loop's is cancelled).
            if let Flow::Stop = self.flush(&CancellationToken::new()).await {
                return;
            }
            while self.pipeline.queued() > 0 {
                let Some((ticket, key, Answer::Written(offset))) = self.in_flight.next().await
                else {
                    // Refused: not written again on the way out; the restart re-reads its input.
                    return;
                };
                self.store.acknowledged(&key, ticket, offset);
                self.pipeline.settled(ticket, true);
                self.release();
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
}

/// A queued state write's answer, under its ticket.
fn answered(ticket: Ticket, key: Key, acknowledgement: Acknowledgement<i64>) -> InFlight {
    Box::pin(async move {
        let answer = match acknowledgement.await {
            Ok(offset) => Answer::Written(offset),
            Err(_) => Answer::Refused,
        };
        (ticket, key, answer)
    })
}

/// The next change of the silences book, if it is followed.
async fn changed(
    book: Option<&mut tokio::sync::watch::Receiver<Arc<SilenceBook>>>,
) -> Option<Result<(), tokio::sync::watch::error::RecvError>> {
    match book {
        Some(book) => Some(book.changed().await),
        None => std::future::pending().await,
    }
}

/// Waits between retries; true if shutdown came first.
pub(crate) async fn pause(shutdown: &CancellationToken) -> bool {
    tokio::select! {
        () = shutdown.cancelled() => true,
        () = tokio::time::sleep(RETRY) => false,
    }
}
