//! The changelog write-behind, as a pure piece: which escalations are written, and when an
//! input offset may be stored.
//!
//! The rule: an input offset is stored only once every state write queued before it is
//! acknowledged by the broker. A change is acted on at once and marked dirty; a flush queues
//! one write per dirty escalation (however often it changed), then the offsets that waited
//! for it. Acknowledgements may arrive in any order; offsets are released in input order. A
//! refused write is handed back to be written again (with the escalation's current state)
//! before any later offset is released.

use std::collections::{HashMap, HashSet, VecDeque};

/// A machine in its partition: the dispatcher's key for every kind.
pub type Key = (i32, crate::held::Subject);

/// A queued write, to match its acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ticket(u64);

#[derive(Debug, PartialEq, Eq)]
enum Write {
    InFlight,
    Acknowledged,
    Refused,
}

#[derive(Debug)]
enum Slot<K> {
    Write { ticket: Ticket, key: K },
    Offset { partition: i32, offset: i64 },
}

/// What the driver must do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Release<K = Key> {
    /// Store this input offset: everything queued before it is on the changelog.
    Store { partition: i32, offset: i64 },
    /// The broker refused this write: write the escalation's current state again and report
    /// the outcome under the same ticket. Nothing after it is released meanwhile.
    Rewrite { ticket: Ticket, key: K },
}

/// Generic over the machine key (partition first), so every kind of machine is written the
/// same way.
#[derive(Debug)]
pub struct WriteBehind<K = Key> {
    /// Machines changed since the last flush, in the order they first changed.
    dirty: Vec<K>,
    dirty_set: HashSet<K>,
    /// Offsets waiting for the next flush's writes.
    unflushed: Vec<(i32, i64)>,
    /// Queued writes and offsets, in input order.
    queue: VecDeque<Slot<K>>,
    /// Where each queued write stands, by ticket (an acknowledgement finds its write at once,
    /// however long the queue).
    writes: HashMap<Ticket, Write>,
    next_ticket: u64,
}

impl<K> Default for WriteBehind<K> {
    fn default() -> WriteBehind<K> {
        WriteBehind {
            dirty: Vec::new(),
            dirty_set: HashSet::new(),
            unflushed: Vec::new(),
            queue: VecDeque::new(),
            writes: HashMap::new(),
            next_ticket: 0,
        }
    }
}

/// A key whose partition is known.
pub trait Partitioned: Clone + Eq + std::hash::Hash {
    fn partition(&self) -> i32;
}

impl<T: Clone + Eq + std::hash::Hash> Partitioned for (i32, T) {
    fn partition(&self) -> i32 {
        self.0
    }
}

impl<K: Partitioned> WriteBehind<K> {
    /// `key` changed (and was acted on); `offset` is the input offset that may be stored
    /// once its write is acknowledged, if the change came from a record.
    pub fn changed(&mut self, key: K, offset: Option<i64>) {
        if let Some(offset) = offset {
            self.unflushed.push((key.partition(), offset));
        }
        if self.dirty_set.insert(key.clone()) {
            self.dirty.push(key);
        }
    }

    /// A record that changed nothing: its offset follows whatever is queued or dirty.
    pub fn unchanged(&mut self, partition: i32, offset: i64) {
        if self.dirty.is_empty() {
            self.queue.push_back(Slot::Offset { partition, offset });
        } else {
            self.unflushed.push((partition, offset));
        }
    }

    /// Whether `key` changed since the last flush.
    pub fn is_dirty(&self, key: &K) -> bool {
        self.dirty_set.contains(key)
    }

    pub fn dirty(&self) -> usize {
        self.dirty.len()
    }

    /// Writes and offsets queued and not yet released.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Flush, first half: the escalations to write now. The driver writes each it still
    /// holds (calling [`WriteBehind::queue_write`]) and skips the others (revoked, or lost
    /// to another member), then calls [`WriteBehind::flushed`].
    pub fn take_dirty(&mut self) -> Vec<K> {
        self.dirty_set.clear();
        std::mem::take(&mut self.dirty)
    }

    /// A write of `key` was handed to the producer.
    pub fn queue_write(&mut self, key: K) -> Ticket {
        let ticket = Ticket(self.next_ticket);
        self.next_ticket += 1;
        self.queue.push_back(Slot::Write { ticket, key });
        self.writes.insert(ticket, Write::InFlight);
        ticket
    }

    /// Flush, second half: the offsets that waited for these writes follow them.
    pub fn flushed(&mut self) {
        for (partition, offset) in std::mem::take(&mut self.unflushed) {
            self.queue.push_back(Slot::Offset { partition, offset });
        }
    }

    /// The broker answered the write `ticket`.
    pub fn settled(&mut self, ticket: Ticket, acknowledged: bool) {
        if let Some(state) = self.writes.get_mut(&ticket) {
            *state = if acknowledged {
                Write::Acknowledged
            } else {
                Write::Refused
            };
        }
    }

    /// The next thing to do, if any: in input order, acknowledged writes leave the queue,
    /// offsets behind them are released, and the first refused write stops everything after
    /// it until it is written again.
    pub fn poll_release(&mut self) -> Option<Release<K>> {
        loop {
            match self.queue.front()? {
                &Slot::Offset { partition, offset } => {
                    self.queue.pop_front();
                    return Some(Release::Store { partition, offset });
                }
                Slot::Write { ticket, key } => {
                    let (ticket, key) = (*ticket, key.clone());
                    let state = self.writes.get_mut(&ticket)?;
                    match state {
                        Write::Acknowledged => {
                            self.writes.remove(&ticket);
                            self.queue.pop_front();
                        }
                        Write::InFlight => return None,
                        Write::Refused => {
                            *state = Write::InFlight;
                            return Some(Release::Rewrite { ticket, key });
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        (
            0,
            crate::held::Subject::Alert(wk_core::AlertId::for_dedup_key(
                "ng-maiduguri",
                &n.to_string(),
            )),
        )
    }

    fn releases(pipeline: &mut WriteBehind) -> Vec<Release> {
        std::iter::from_fn(|| pipeline.poll_release()).collect()
    }

    fn store(offset: i64) -> Release {
        Release::Store {
            partition: 0,
            offset,
        }
    }

    /// Flushes, queueing a write of every dirty key; returns the tickets.
    fn flush(pipeline: &mut WriteBehind) -> Vec<Ticket> {
        let tickets = pipeline
            .take_dirty()
            .into_iter()
            .map(|key| pipeline.queue_write(key))
            .collect();
        pipeline.flushed();
        tickets
    }

    #[test]
    fn an_offset_waits_for_the_write_of_its_change() {
        let mut pipeline = WriteBehind::default();
        pipeline.changed(key(1), Some(10));
        assert_eq!(releases(&mut pipeline), [], "not flushed yet");
        let tickets = flush(&mut pipeline);
        assert_eq!(releases(&mut pipeline), [], "not acknowledged yet");
        pipeline.settled(tickets[0], true);
        assert_eq!(releases(&mut pipeline), [store(10)]);
        assert_eq!(pipeline.queued(), 0);
    }

    #[test]
    fn a_record_that_changed_nothing_waits_for_the_writes_before_it() {
        let mut pipeline = WriteBehind::default();
        pipeline.unchanged(0, 1);
        assert_eq!(releases(&mut pipeline), [store(1)], "nothing before it");
        pipeline.changed(key(1), Some(2));
        pipeline.unchanged(0, 3);
        let tickets = flush(&mut pipeline);
        pipeline.unchanged(0, 4);
        assert_eq!(releases(&mut pipeline), []);
        pipeline.settled(tickets[0], true);
        assert_eq!(releases(&mut pipeline), [store(2), store(3), store(4)]);
    }

    /// Two writes (offsets 1 and 2) in two flushes, the second acknowledged; the first's
    /// tickets.
    fn two_writes_the_second_acknowledged() -> (WriteBehind, Vec<Ticket>) {
        let mut pipeline = WriteBehind::default();
        pipeline.changed(key(1), Some(1));
        let first = flush(&mut pipeline);
        pipeline.changed(key(2), Some(2));
        let second = flush(&mut pipeline);
        pipeline.settled(second[0], true);
        (pipeline, first)
    }

    #[test]
    fn acknowledgements_out_of_order_release_offsets_in_order() {
        let (mut pipeline, first) = two_writes_the_second_acknowledged();
        assert_eq!(
            releases(&mut pipeline),
            [],
            "the first write is still in flight"
        );
        pipeline.settled(first[0], true);
        assert_eq!(releases(&mut pipeline), [store(1), store(2)]);
    }

    #[test]
    fn changes_between_flushes_are_one_write() {
        let mut pipeline = WriteBehind::default();
        pipeline.changed(key(1), Some(1));
        pipeline.changed(key(1), None);
        pipeline.changed(key(1), Some(2));
        pipeline.changed(key(2), Some(3));
        assert_eq!(pipeline.dirty(), 2);
        let tickets = flush(&mut pipeline);
        assert_eq!(tickets.len(), 2);
        pipeline.settled(tickets[0], true);
        pipeline.settled(tickets[1], true);
        assert_eq!(releases(&mut pipeline), [store(1), store(2), store(3)]);
    }

    #[test]
    fn a_refused_write_is_written_again_before_anything_after_it_is_released() {
        let (mut pipeline, first) = two_writes_the_second_acknowledged();
        pipeline.settled(first[0], false);
        assert_eq!(
            releases(&mut pipeline),
            [Release::Rewrite {
                ticket: first[0],
                key: key(1)
            }]
        );
        assert_eq!(releases(&mut pipeline), [], "waiting for the rewrite");
        pipeline.settled(first[0], false);
        assert_eq!(releases(&mut pipeline).len(), 1, "refused again: again");
        pipeline.settled(first[0], true);
        assert_eq!(releases(&mut pipeline), [store(1), store(2)]);
    }

    #[test]
    fn a_skipped_write_lets_its_offsets_through() {
        // The driver skips writes of revoked or lost partitions: their offsets are released
        // (storing them then fails harmlessly, the partition being someone else's).
        let mut pipeline = WriteBehind::default();
        pipeline.changed(key(1), Some(7));
        assert_eq!(pipeline.take_dirty(), [key(1)]);
        pipeline.flushed();
        assert_eq!(releases(&mut pipeline), [store(7)]);
    }
}
