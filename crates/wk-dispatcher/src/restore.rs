//! Restore on assignment: a partition's machines, of every kind, are read back from the
//! changelog before any of its records is applied; each restored machine decides again what
//! it still owes (an escalation its pending notifications, a watch its unacknowledged
//! publications, under the same ids) and re-arms its timer.
//!
//! Newest first (`wk_bus::restore::newest`): each partition is read from its end back to
//! its start in growing ranges, all partitions a range at a time together. A machine met in
//! a range is final (its latest record), so it is back at once, and while ranges are read,
//! and between slices of `RESTORE_SLICE` machines as they are restored, the timers due
//! meanwhile fire: the alerts still escalating, whose records are the newest, resume
//! before a long history of resolved ones is read. Input records wait until the whole
//! partition is read (an older key may be the one they are about). A restored escalation
//! that is done is let go at once (`Store::insert_away`); `recall` reads one back when a fact
//! other than a repeat comes for it.

use std::ops::Range;

use futures_util::StreamExt as _;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};
use wk_bus::restore::Kept;
use wk_bus::restore::newest::NewestFirst;
use wk_bus::state_codec::decode_state;
use wk_bus::trace::TraceHeaders;

use crate::dispatcher::{Dispatcher, Flow, pause};
use crate::held::Held;
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::pipeline::Key;
use crate::store::{Away, Tracked, Written};

/// Machines restored between two looks at the timers (about 15 ms of the loop).
const RESTORE_SLICE: usize = 2_048;

/// One partition being restored.
struct Restoring {
    partition: i32,
    plan: NewestFirst,
    machines: usize,
}

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// Restores every partition of `partitions` not held yet, newest first, reading them
    /// concurrently and a failed read again; false on shutdown.
    pub(crate) async fn restore_all(
        &mut self,
        partitions: &[i32],
        shutdown: &CancellationToken,
    ) -> bool {
        let missing: Vec<i32> = partitions
            .iter()
            .copied()
            .filter(|partition| !self.store.is_restored(*partition))
            .collect();
        let Some(mut restoring) = self.read_newest(missing, shutdown).await else {
            return false;
        };
        loop {
            let ranges: Vec<(usize, Range<i64>)> = restoring
                .iter()
                .enumerate()
                .filter_map(|(index, partition)| partition.plan.next().map(|range| (index, range)))
                .collect();
            if ranges.is_empty() {
                break;
            }
            let changelog = std::sync::Arc::clone(&self.changelog);
            let reads = futures_util::future::join_all(ranges.iter().map(|(index, range)| {
                let partition = &restoring[*index];
                changelog.read_range(partition.partition, range.clone(), partition.plan.seen())
            }));
            // What is back escalates on while the next ranges are read (a range of an old
            // partition can take seconds to read).
            let Some(results) = self.escalating_until(reads, shutdown).await else {
                return false;
            };
            let mut failed = false;
            for ((index, range), result) in ranges.into_iter().zip(results) {
                let partition = &mut restoring[index];
                match result {
                    Ok(chunk) => {
                        let kept = partition.plan.take(&range, chunk);
                        debug!(
                            partition = partition.partition,
                            from = range.start,
                            to = range.end,
                            machines = kept.len(),
                            "changelog range restored"
                        );
                        partition.machines += kept.len();
                        let number = partition.partition;
                        // In slices, firing what fell due between them: a range of 32,768
                        // machines takes about 0.25 s to restore, six partitions' 1.2 s, and
                        // a step due meanwhile waited for all of it.
                        let mut kept = kept.into_iter();
                        loop {
                            let mut slice = kept.by_ref().take(RESTORE_SLICE).peekable();
                            if slice.peek().is_none() {
                                break;
                            }
                            self.restore(number, slice);
                            self.on_timers();
                        }
                    }
                    Err(error) => {
                        warn!(partition = partition.partition, %error, "restore read failed; retrying");
                        failed = true;
                    }
                }
            }
            // Due while this range was taken in.
            self.on_timers();
            if self.pipeline.dirty() > 0 && matches!(self.flush(shutdown).await, Flow::Stop) {
                return false;
            }
            if failed && !self.escalating_pause(shutdown).await {
                return false;
            }
        }
        for partition in restoring {
            info!(
                partition = partition.partition,
                machines = partition.machines,
                records = partition.plan.read(),
                end = partition.plan.end(),
                "partition restored"
            );
        }
        true
    }

    /// Waits for `work` (a restore's reads) while what is already back escalates on: its
    /// timers fire as they fall due, its delivery reports are taken (a console that cannot be
    /// reached fails over at once) and the broker's acknowledgements are settled. `None` on
    /// shutdown.
    pub(crate) async fn escalating_until<T>(
        &mut self,
        work: impl Future<Output = T>,
        shutdown: &CancellationToken,
    ) -> Option<T> {
        let mut work = std::pin::pin!(work);
        loop {
            let wait = self.until_timers();
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return None,
                done = &mut work => return Some(done),
                Some((ticket, key, answer)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    self.settled(ticket, key, answer);
                }
                Some(report) = self.reports.recv() => {
                    self.on_report(report);
                }
                () = tokio::time::sleep(wait) => {
                    self.on_timers();
                }
            }
        }
    }

    /// Waits `RETRY` before a read is tried again, what is back escalating on; false on
    /// shutdown.
    async fn escalating_pause(&mut self, shutdown: &CancellationToken) -> bool {
        let paused = tokio::time::sleep(crate::dispatcher::RETRY);
        self.escalating_until(paused, shutdown).await.is_some()
    }

    /// Restores `partition` unless already restored; false on shutdown.
    pub(crate) async fn ensure_restored(
        &mut self,
        partition: i32,
        shutdown: &CancellationToken,
    ) -> bool {
        self.store.is_restored(partition) || self.restore_all(&[partition], shutdown).await
    }

    /// Installs each of `partitions` and restores its newest offsets (a small partition
    /// whole) in one read each, concurrently, reading again any that fails; `None` on
    /// shutdown.
    async fn read_newest(
        &mut self,
        mut partitions: Vec<i32>,
        shutdown: &CancellationToken,
    ) -> Option<Vec<Restoring>> {
        let mut restoring = Vec::with_capacity(partitions.len());
        while !partitions.is_empty() {
            let changelog = std::sync::Arc::clone(&self.changelog);
            let reads = futures_util::future::join_all(
                partitions
                    .iter()
                    .map(|partition| changelog.read_newest(*partition)),
            );
            // One small read per partition: nothing else is taken meanwhile, as before
            // restores read newest first (escalating during this read too doubled the fault
            // suite's repeated deliveries: ARCHITECTURE.md departure 22).
            let results = tokio::select! {
                () = shutdown.cancelled() => return None,
                results = reads => results,
            };
            let mut failed = Vec::new();
            for (partition, result) in partitions.into_iter().zip(results) {
                match result {
                    Ok(newest) => {
                        self.store.install(partition);
                        let mut plan = NewestFirst::new(newest.low, newest.high);
                        let kept = plan.take(&newest.range, newest.chunk);
                        let machines = kept.len();
                        self.restore(partition, kept);
                        restoring.push(Restoring {
                            partition,
                            plan,
                            machines,
                        });
                    }
                    Err(error) => {
                        warn!(partition, %error, "changelog not read; retrying");
                        failed.push(partition);
                    }
                }
            }
            partitions = failed;
            if !partitions.is_empty() && pause(shutdown).await {
                return None;
            }
        }
        Some(restoring)
    }

    /// Restores the machines of `records` (each its key's latest record) into `partition`,
    /// one at a time, each record let go once decoded and each machine packed, unless it
    /// changed, before the next is decoded: at no time does the dispatcher hold the partition
    /// both as records and as live machines (holding both left it at twice its running size
    /// after a restore of 100,000).
    fn restore(&mut self, partition: i32, records: impl IntoIterator<Item = Kept>) {
        // Pending notifications and publications go out again (same ids); timers re-armed;
        // then silences that began or ended while they were elsewhere are applied; then it
        // is packed unless it changed: a restored dispatcher holds no more than the one it
        // replaced.
        let now = self.clock.now();
        for record in records {
            let Some(payload) = record.payload() else {
                continue;
            };
            let (state, input_offset) = match decode_state(&payload) {
                Ok(decoded) => decoded,
                Err(error) => {
                    warn!(partition, offset = record.offset, %error, "undecodable state skipped");
                    continue;
                }
            };
            drop(payload);
            let Some((subject, machine)) = Held::restore(state, &self.world) else {
                warn!(
                    partition,
                    offset = record.offset,
                    "state of a kind not driven yet skipped"
                );
                continue;
            };
            let key = (partition, subject);
            // A done escalation owes nothing and no silence changes it: it is let go at once,
            // neither acted on, judged nor packed, so a restored dispatcher holds what is
            // going on and the history costs a decode each.
            if let Held::Escalation(escalation) = &machine
                && escalation.is_done()
            {
                let away = Away {
                    offset: record.offset,
                    input_offset,
                    incident: escalation.incident(),
                };
                self.store.insert_away(key, away);
                continue;
            }
            let mut tracked = Tracked::new(machine, input_offset, TraceHeaders::default());
            // Restored history was counted by whoever lived it.
            tracked.counted = usize::MAX;
            tracked.written = Written::At(record.offset);
            self.store.insert(key.clone(), tracked);
            self.act(key.clone());
            self.judge(key.clone(), now);
            self.store.pack(&key, self.pipeline.is_dirty(&key));
        }
    }

    /// Reads the state of `key` back from the changelog if it was let go, and holds it again,
    /// before a fact about it (at `input_offset`) other than a repeat is applied: an
    /// acknowledgement, a resolution or a note on a resolved alert goes in its timeline.
    /// What is back escalates on meanwhile; a failed read is tried again; false on shutdown.
    pub(crate) async fn recall(
        &mut self,
        key: &Key,
        input_offset: i64,
        shutdown: &CancellationToken,
    ) -> bool {
        let offset = match self.store.away(key) {
            // A record re-read after a restart, already in its state, changes nothing.
            Some(away) if input_offset > away.input_offset => away.offset,
            _ => return true,
        };
        let changelog = std::sync::Arc::clone(&self.changelog);
        let payload = loop {
            let Some(read) = self
                .escalating_until(changelog.read_at(key.0, offset), shutdown)
                .await
            else {
                return false;
            };
            match read {
                Ok(record) => {
                    break record
                        .filter(|record| {
                            record.key.as_deref() == Some(key.1.to_string().as_bytes())
                        })
                        .and_then(|record| record.payload);
                }
                Err(error) => {
                    warn!(partition = key.0, offset, %error, "state of a let-go alert not read back; retrying");
                    if !self.escalating_pause(shutdown).await {
                        return false;
                    }
                }
            }
        };
        let restored = payload
            .as_deref()
            .and_then(|payload| decode_state(payload).ok())
            .and_then(|(state, input_offset)| {
                Held::restore(state, &self.world).map(|(_, machine)| (machine, input_offset))
            });
        let Some((machine, input_offset)) = restored else {
            // Only this dispatcher writes its partitions' states and compaction keeps each
            // key's latest, so this does not happen; were it to, the alert is taken as unknown.
            error!(
                partition = key.0,
                offset, "state of a let-go alert not on the changelog where it was left"
            );
            self.store.forget(key);
            return true;
        };
        debug!(partition = key.0, offset, "let-go alert read back");
        let mut tracked = Tracked::new(machine, input_offset, TraceHeaders::default());
        tracked.counted = usize::MAX;
        tracked.written = Written::At(offset);
        self.store.insert(key.clone(), tracked);
        true
    }
}
