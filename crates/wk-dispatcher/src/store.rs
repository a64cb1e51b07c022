//! The machines this dispatcher holds, of every kind, by partition, with one timer queue over
//! all of them; and which partitions were lost (going on from memory, writing nothing).
//!
//! An escalation left alone for a while (everything it decided carried out, no write of it
//! waiting) is held packed: its state record, LZ4-compressed, a third of the live machine or
//! less; it is unpacked when next touched (`get_mut`), exactly as it was (`Packed`). Most open
//! alerts wait minutes for an acknowledgement or their next step, so most are packed.
//!
//! An escalation that is done (`Escalation::is_done`: resolved, nothing owed, no timer) and
//! whose current state the changelog has acknowledged is let go after `REST_SWEEPS` packed
//! (at once when restored): the store keeps only where that state is and what a repeat
//! needs (`Away`: a repeat opens the next incident afresh), and the dispatcher reads the
//! state back (`Dispatcher::recall`) before any other fact about it is applied. So the
//! dispatcher holds the alerts still going on, not its history.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use wk_bus::escalation_codec::encode_escalation;
use wk_bus::trace::TraceHeaders;
use wk_core::Timestamp;
use wk_core::escalation::TimerQueue;
use wk_core::policy::Chain;

use crate::held::{Held, Subject};
use crate::pipeline::{Key, Ticket};

mod packed;

pub(crate) use packed::Standing;
use packed::{Packed, decompress, unpack};

/// Sweeps (one a second) a machine stays untouched before it is packed.
pub(crate) const IDLE_SWEEPS: u64 = 10;
/// Sweeps a done escalation stays packed before it is let go (a repeat within them, the
/// common one, needs no read).
pub(crate) const REST_SWEEPS: u64 = 600;

/// Where the changelog holds a machine's current state, as far as this process knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Written {
    /// Not written since it was made here.
    #[default]
    No,
    /// Its latest write, not acknowledged yet.
    Queued(Ticket),
    /// Its latest write, acknowledged at this changelog offset (a change since is dirty in
    /// the pipeline until its write is queued).
    At(i64),
}

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
    /// Where its current state is on the changelog.
    pub(crate) written: Written,
    /// The sweep during which it was last touched.
    touched: u64,
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
            written: Written::No,
            touched: 0,
        }
    }
}

/// What the store keeps of a done escalation it let go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Away {
    /// The changelog offset of its current state.
    pub(crate) offset: i64,
    /// The alerts-topic offset of the last event that state reflects (a record re-read
    /// after a restart at or before it changes nothing).
    pub(crate) input_offset: i64,
    /// The incident resolved: a repeat opens the next.
    pub(crate) incident: u32,
}

/// A held machine as the gauges see it.
pub(crate) enum Seen<'a> {
    Live(&'a Held),
    Packed(Standing),
}

// A let-go escalation costs its key (32 bytes), its slot and the map's control byte: about
// 85 bytes at the map's load, against 840-970 for a packed one (`wk-bench restore`).
const _: () = assert!(std::mem::size_of::<Slot>() <= 32);
const _: () = assert!(std::mem::size_of::<Subject>() <= 32);

enum Slot {
    Live(Box<Tracked>),
    Packed(Box<Packed>),
    /// A done escalation let go.
    Away(Away),
}

impl Slot {
    fn armed_mut(&mut self) -> Option<&mut Option<Timestamp>> {
        match self {
            Slot::Live(tracked) => Some(&mut tracked.armed),
            Slot::Packed(packed) => Some(&mut packed.armed),
            Slot::Away(_) => None,
        }
    }

    fn written_mut(&mut self) -> Option<&mut Written> {
        match self {
            Slot::Live(tracked) => Some(&mut tracked.written),
            Slot::Packed(packed) => Some(&mut packed.written),
            Slot::Away(_) => None,
        }
    }

    fn seen(&self) -> Seen<'_> {
        match self {
            Slot::Live(tracked) => Seen::Live(&tracked.machine),
            Slot::Packed(packed) => Seen::Packed(packed.status),
            Slot::Away(_) => Seen::Packed(Standing::Resolved),
        }
    }
}

/// The machines this dispatcher holds.
#[derive(Default)]
pub(crate) struct Store {
    /// Restored partitions and their machines.
    partitions: HashMap<i32, HashMap<Subject, Slot>>,
    /// Partitions whose assignment was lost (session expired, broker away): their escalations
    /// go on from memory (timers fire, notifications go out; neither needs the broker) but
    /// write nothing, since another member may own them now. The next assignment drops them
    /// and restores whatever it gives from the changelog.
    orphaned: HashSet<i32>,
    /// Every armed escalation timer, earliest first.
    timers: TimerQueue<Key>,
    /// The policy's chains, shared again by unpacked escalations.
    chains: BTreeMap<String, Arc<Chain>>,
    /// The current sweep.
    sweep: u64,
    /// Live machines in the order they were last touched, with that sweep (an entry whose
    /// machine was touched again since is stale and skipped).
    touched: VecDeque<(u64, Key)>,
    /// Done escalations in the order they were packed, with that sweep (likewise).
    resting: VecDeque<(u64, Key)>,
}

impl Store {
    /// A store whose unpacked escalations share `chains` (the policy's).
    pub(crate) fn new(chains: BTreeMap<String, Arc<Chain>>) -> Store {
        Store {
            chains,
            ..Store::default()
        }
    }

    pub(crate) fn is_restored(&self, partition: i32) -> bool {
        self.partitions.contains_key(&partition)
    }

    pub(crate) fn restored(&self) -> usize {
        self.partitions.len()
    }

    /// Starts a restored partition, empty (replacing anything held for it); its machines
    /// come in one at a time with [`Store::insert`].
    pub(crate) fn install(&mut self, partition: i32) {
        self.drop_partition(partition);
        self.partitions.insert(partition, HashMap::new());
    }

    pub(crate) fn contains(&self, (partition, id): &Key) -> bool {
        self.partitions
            .get(partition)
            .is_some_and(|slots| slots.contains_key(id))
    }

    /// What is kept of `key` if it was let go (a repeat opens its next incident; any other
    /// fact about it waits until its state is read back).
    pub(crate) fn away(&self, (partition, id): &Key) -> Option<Away> {
        match self.partitions.get(partition)?.get(id)? {
            Slot::Away(away) => Some(*away),
            _ => None,
        }
    }

    /// Holds `key` as let go (a restored escalation that is done).
    pub(crate) fn insert_away(&mut self, (partition, id): Key, away: Away) {
        self.partitions
            .entry(partition)
            .or_default()
            .insert(id, Slot::Away(away));
    }

    /// Forgets `key` (a let-go escalation whose state is not where it was left).
    pub(crate) fn forget(&mut self, (partition, id): &Key) {
        if let Some(slots) = self.partitions.get_mut(partition) {
            slots.remove(id);
        }
    }

    /// The machine of `key`, unpacked if it was packed; `None` if it is not held or was let
    /// go ([`Store::away`]).
    pub(crate) fn get_mut(&mut self, key: &Key) -> Option<&mut Tracked> {
        let slot = self.partitions.get_mut(&key.0)?.get_mut(&key.1)?;
        if let Slot::Packed(packed) = slot {
            *slot = Slot::Live(Box::new(unpack(packed, &self.chains)?));
        }
        let Slot::Live(tracked) = slot else {
            return None;
        };
        if tracked.touched != self.sweep {
            tracked.touched = self.sweep;
            self.touched.push_back((self.sweep, key.clone()));
        }
        Some(tracked)
    }

    pub(crate) fn insert(&mut self, key: Key, mut tracked: Tracked) {
        tracked.touched = self.sweep;
        self.touched.push_back((self.sweep, key.clone()));
        self.partitions
            .entry(key.0)
            .or_default()
            .insert(key.1, Slot::Live(Box::new(tracked)));
    }

    /// The state record of `key` as the changelog takes it.
    pub(crate) fn encode(&self, (partition, id): &Key) -> Option<Vec<u8>> {
        match self.partitions.get(partition)?.get(id)? {
            Slot::Live(tracked) => Some(tracked.machine.encode(tracked.input_offset)),
            Slot::Packed(packed) => decompress(&packed.record),
            Slot::Away(_) => None,
        }
    }

    /// A write of `key`'s current state was queued under `ticket`.
    pub(crate) fn queued(&mut self, key: &Key, ticket: Ticket) {
        if let Some(written) = self.slot_mut(key).and_then(Slot::written_mut) {
            *written = Written::Queued(ticket);
        }
    }

    /// `key` changed and its change will not be written (its partition was lost).
    pub(crate) fn unwritten(&mut self, key: &Key) {
        if let Some(written) = self.slot_mut(key).and_then(Slot::written_mut) {
            *written = Written::No;
        }
    }

    /// The write of `ticket` was acknowledged at `offset`: if it is `key`'s latest, the
    /// changelog holds its current state there.
    pub(crate) fn acknowledged(&mut self, key: &Key, ticket: Ticket, offset: i64) {
        if let Some(written) = self.slot_mut(key).and_then(Slot::written_mut)
            && *written == Written::Queued(ticket)
        {
            *written = Written::At(offset);
        }
    }

    fn slot_mut(&mut self, (partition, id): &Key) -> Option<&mut Slot> {
        self.partitions.get_mut(partition)?.get_mut(id)
    }

    /// Calls `judge` with the machine of `key`; a packed one is unpacked for it and kept
    /// unpacked only if `judge` says it changed. `None` if `key` is not held.
    pub(crate) fn judge(
        &mut self,
        key: &Key,
        judge: impl FnOnce(&mut Held) -> bool,
    ) -> Option<bool> {
        let slot = self.partitions.get_mut(&key.0)?.get_mut(&key.1)?;
        match slot {
            Slot::Live(tracked) => Some(judge(&mut tracked.machine)),
            Slot::Away(_) => None,
            Slot::Packed(packed) => {
                let mut tracked = unpack(packed, &self.chains)?;
                let changed = judge(&mut tracked.machine);
                if changed {
                    *slot = Slot::Live(Box::new(tracked));
                    self.get_mut(key)?;
                }
                Some(changed)
            }
        }
    }

    /// Packs `key` if it is a settled escalation and `waiting` (a write of it is waiting) is
    /// false; whether it is packed now.
    pub(crate) fn pack(&mut self, key: &Key, waiting: bool) -> bool {
        let Some(slot) = self
            .partitions
            .get_mut(&key.0)
            .and_then(|slots| slots.get_mut(&key.1))
        else {
            return false;
        };
        let Slot::Live(tracked) = slot else {
            return true;
        };
        let Held::Escalation(escalation) = &tracked.machine else {
            return false;
        };
        if waiting || !escalation.is_settled() {
            return false;
        }
        let record = encode_escalation(escalation.as_snapshot(), tracked.input_offset);
        let done = escalation.is_done();
        *slot = Slot::Packed(Box::new(Packed {
            record: lz4_flex::block::compress_prepend_size(&record).into_boxed_slice(),
            input_offset: tracked.input_offset,
            armed: tracked.armed,
            counted: tracked.counted,
            trace: std::mem::take(&mut tracked.trace),
            status: Standing::of(escalation),
            written: tracked.written,
            done,
            since: self.sweep,
            incident: escalation.incident(),
        }));
        if done {
            self.resting.push_back((self.sweep, key.clone()));
        }
        true
    }

    /// Lets `key` go if it is a packed done escalation whose current state the changelog
    /// holds (and `waiting`, a change of it not written yet, is false); whether it is away.
    pub(crate) fn let_go(&mut self, key: &Key, waiting: bool) -> bool {
        let Some(slot) = self.slot_mut(key) else {
            return false;
        };
        match slot {
            Slot::Away(_) => true,
            Slot::Packed(packed) if packed.done && packed.armed.is_none() && !waiting => {
                let Written::At(offset) = packed.written else {
                    return false;
                };
                *slot = Slot::Away(Away {
                    offset,
                    input_offset: packed.input_offset,
                    incident: packed.incident,
                });
                true
            }
            _ => false,
        }
    }

    /// Starts the next sweep and packs, of the machines untouched for `IDLE_SWEEPS`, at most
    /// `limit`; `waiting` says whether a write of a machine is waiting (then it is looked at
    /// again later). How many it packed.
    pub(crate) fn sweep(&mut self, limit: usize, waiting: impl Fn(&Key) -> bool) -> usize {
        self.sweep += 1;
        let mut packed = 0;
        while packed < limit {
            let Some((at, key)) = self
                .touched
                .front()
                .filter(|(at, _)| at + IDLE_SWEEPS <= self.sweep)
                .cloned()
            else {
                break;
            };
            self.touched.pop_front();
            let current = match self.partitions.get(&key.0).and_then(|s| s.get(&key.1)) {
                Some(Slot::Live(tracked)) => tracked.touched == at,
                _ => false,
            };
            if !current {
                continue;
            }
            if self.pack(&key, waiting(&key)) {
                packed += 1;
            } else if let Some(Slot::Live(tracked)) = self
                .partitions
                .get_mut(&key.0)
                .and_then(|s| s.get_mut(&key.1))
                .filter(|_| matches!(&key.1, Subject::Alert(_)))
            {
                // Not settled or not written yet: looked at again later.
                tracked.touched = self.sweep;
                self.touched.push_back((self.sweep, key));
            }
        }
        self.let_go_rested(limit, &waiting);
        packed
    }

    /// Lets go of at most `limit` of the done escalations packed `REST_SWEEPS` ago; one
    /// whose write is not acknowledged yet is looked at again later.
    fn let_go_rested(&mut self, limit: usize, waiting: &impl Fn(&Key) -> bool) {
        let mut looked = 0;
        while looked < limit {
            let Some((at, key)) = self
                .resting
                .front()
                .filter(|(at, _)| at + REST_SWEEPS <= self.sweep)
                .cloned()
            else {
                break;
            };
            self.resting.pop_front();
            looked += 1;
            let sweep = self.sweep;
            let current =
                matches!(self.slot_mut(&key), Some(Slot::Packed(packed)) if packed.since == at);
            if !current || self.let_go(&key, waiting(&key)) {
                continue;
            }
            if let Some(Slot::Packed(packed)) = self.slot_mut(&key) {
                packed.since = sweep;
                self.resting.push_back((sweep, key));
            }
        }
    }

    /// Forgets `partition` and its timers; true if it was held.
    pub(crate) fn drop_partition(&mut self, partition: i32) -> bool {
        self.orphaned.remove(&partition);
        if self.partitions.remove(&partition).is_some() {
            self.timers
                .retain(|(timer_partition, _)| *timer_partition != partition);
            self.touched.retain(|(_, (p, _))| *p != partition);
            self.resting.retain(|(_, (p, _))| *p != partition);
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
    pub(crate) fn rearm(&mut self, key: &Key, due: Option<Timestamp>) {
        if let Some(armed) = self
            .partitions
            .get_mut(&key.0)
            .and_then(|s| s.get_mut(&key.1))
            .and_then(Slot::armed_mut)
        {
            *armed = self.timers.rearm(key.clone(), *armed, due);
        }
    }

    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.next_deadline()
    }

    /// The next escalation whose timer is due at `now`, disarmed.
    pub(crate) fn pop_due(&mut self, now: Timestamp) -> Option<Key> {
        let key = self.timers.pop_due(now)?;
        if let Some(armed) = self
            .partitions
            .get_mut(&key.0)
            .and_then(|s| s.get_mut(&key.1))
            .and_then(Slot::armed_mut)
        {
            *armed = None;
        }
        Some(key)
    }

    pub(crate) fn armed_timers(&self) -> usize {
        self.timers.len()
    }

    /// The keys of the held machines that `keep` keeps, as the gauges see them (a packed
    /// machine is not unpacked to be looked at).
    pub(crate) fn keys_where(&self, keep: impl Fn(Seen<'_>) -> bool) -> Vec<Key> {
        self.partitions
            .iter()
            .flat_map(|(partition, held)| {
                held.iter()
                    .map(move |(subject, slot)| ((*partition, subject), slot))
            })
            .filter(|(_, slot)| keep(slot.seen()))
            .map(|((partition, subject), _)| (partition, subject.clone()))
            .collect()
    }

    /// Every held machine, as the gauges see it.
    pub(crate) fn machines(&self) -> impl Iterator<Item = Seen<'_>> {
        self.partitions
            .values()
            .flat_map(HashMap::values)
            .map(Slot::seen)
    }

    /// Held machines: live, packed, and let go.
    pub(crate) fn census(&self) -> (usize, usize, usize) {
        self.partitions.values().flat_map(HashMap::values).fold(
            (0, 0, 0),
            |(live, packed, away), slot| match slot {
                Slot::Live(_) => (live + 1, packed, away),
                Slot::Packed(_) => (live, packed + 1, away),
                Slot::Away(_) => (live, packed, away + 1),
            },
        )
    }
}
