//! The machines this dispatcher holds, of every kind, by partition, with one timer queue over
//! all of them; and which partitions were lost (going on from memory, writing nothing).

use std::collections::{HashMap, HashSet};

use wk_bus::trace::TraceHeaders;
use wk_core::Timestamp;
use wk_core::escalation::TimerQueue;

use crate::held::{Held, Subject};

pub(crate) struct Tracked<M = Held> {
    pub(crate) machine: M,
    /// The alerts-topic offset of the last event this escalation reflects.
    pub(crate) input_offset: i64,
    /// Its entry in the timer index, if armed.
    pub(crate) armed: Option<Timestamp>,
    /// Timeline entries already counted in metrics.
    pub(crate) counted: usize,
    /// The trace context of the record that raised it (empty with OpenTelemetry off or after a
    /// restore): timer-driven steps join the alert's trace.
    pub(crate) trace: TraceHeaders,
}

impl Tracked {
    /// A machine opened by the record at `input_offset`, with its trace context.
    pub(crate) fn new(machine: Held, input_offset: i64, trace: TraceHeaders) -> Tracked {
        Tracked {
            machine,
            input_offset,
            armed: None,
            counted: 0,
            trace,
        }
    }
}

/// The machines this dispatcher holds.
#[derive(Default)]
pub(crate) struct Store {
    /// Restored partitions and their machines.
    partitions: HashMap<i32, HashMap<Subject, Tracked>>,
    /// Partitions whose assignment was lost (session expired, broker away): their escalations
    /// go on from memory (timers fire, notifications go out; neither needs the broker) but
    /// write nothing, since another member may own them now. The next assignment drops them
    /// and restores whatever it gives from the changelog.
    orphaned: HashSet<i32>,
    /// Every armed escalation timer, earliest first.
    timers: TimerQueue<(i32, Subject)>,
}

impl Store {
    pub(crate) fn is_restored(&self, partition: i32) -> bool {
        self.partitions.contains_key(&partition)
    }

    pub(crate) fn restored(&self) -> usize {
        self.partitions.len()
    }

    /// Installs a restored partition (replacing anything held for it).
    pub(crate) fn install(&mut self, partition: i32, machines: HashMap<Subject, Tracked>) {
        self.drop_partition(partition);
        self.partitions.insert(partition, machines);
    }

    pub(crate) fn get(&self, (partition, id): &(i32, Subject)) -> Option<&Tracked> {
        self.partitions.get(partition)?.get(id)
    }

    pub(crate) fn get_mut(&mut self, (partition, id): &(i32, Subject)) -> Option<&mut Tracked> {
        self.partitions.get_mut(partition)?.get_mut(id)
    }

    pub(crate) fn insert(&mut self, (partition, id): (i32, Subject), tracked: Tracked) {
        self.partitions
            .entry(partition)
            .or_default()
            .insert(id, tracked);
    }

    /// Forgets `partition` and its timers; true if it was held.
    pub(crate) fn drop_partition(&mut self, partition: i32) -> bool {
        self.orphaned.remove(&partition);
        if self.partitions.remove(&partition).is_some() {
            self.timers
                .retain(|(timer_partition, _)| *timer_partition != partition);
            true
        } else {
            false
        }
    }

    /// The assignment of `partitions` was lost: they go on from memory, writing nothing.
    pub(crate) fn orphan(&mut self, partitions: impl IntoIterator<Item = i32>) {
        let held: Vec<i32> = partitions
            .into_iter()
            .filter(|p| self.partitions.contains_key(p))
            .collect();
        self.orphaned.extend(held);
    }

    /// Drops every orphaned partition (a new assignment supersedes what went on from memory).
    pub(crate) fn drop_orphans(&mut self) {
        for partition in std::mem::take(&mut self.orphaned) {
            self.drop_partition(partition);
        }
    }

    pub(crate) fn is_orphaned(&self, partition: i32) -> bool {
        self.orphaned.contains(&partition)
    }

    /// Re-arms the timer of `key` at `due` (none: disarmed).
    pub(crate) fn rearm(&mut self, key: &(i32, Subject), due: Option<Timestamp>) {
        if let Some(tracked) = self
            .partitions
            .get_mut(&key.0)
            .and_then(|s| s.get_mut(&key.1))
        {
            tracked.armed = self.timers.rearm(key.clone(), tracked.armed, due);
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.next_deadline()
    }

    /// The next escalation whose timer is due at `now`, disarmed.
    pub(crate) fn pop_due(&mut self, now: Timestamp) -> Option<(i32, Subject)> {
        let key = self.timers.pop_due(now)?;
        if let Some(tracked) = self.get_mut(&key) {
            tracked.armed = None;
        }
        Some(key)
    }

    pub(crate) fn armed_timers(&self) -> usize {
        self.timers.len()
    }

    /// Every held machine's key.
    pub(crate) fn keys(&self) -> Vec<(i32, Subject)> {
        self.partitions
            .iter()
            .flat_map(|(partition, held)| held.keys().map(|subject| (*partition, subject.clone())))
            .collect()
    }

    pub(crate) fn machines(&self) -> impl Iterator<Item = &Held> {
        self.partitions
            .values()
            .flat_map(HashMap::values)
            .map(|tracked| &tracked.machine)
    }
}
