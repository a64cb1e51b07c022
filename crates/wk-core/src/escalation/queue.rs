//! The dispatcher's index of every armed escalation timer, earliest first: one entry per open
//! alert (its `poll_timeout`), so the loop sleeps until exactly the next deadline. The owner
//! remembers each key's armed deadline (it sits beside the escalation), which keeps this a
//! plain ordered set without a second map.

use std::collections::BTreeSet;

use crate::time::Timestamp;

#[derive(Clone, Debug)]
pub struct TimerQueue<K: Ord> {
    queue: BTreeSet<(Timestamp, K)>,
}

impl<K: Ord> Default for TimerQueue<K> {
    fn default() -> TimerQueue<K> {
        TimerQueue {
            queue: BTreeSet::new(),
        }
    }
}

impl<K: Ord + Clone> TimerQueue<K> {
    pub fn new() -> TimerQueue<K> {
        TimerQueue {
            queue: BTreeSet::new(),
        }
    }

    /// Moves `key` from its `armed` deadline to `next`; returns the deadline now armed.
    pub fn rearm(
        &mut self,
        key: K,
        armed: Option<Timestamp>,
        next: Option<Timestamp>,
    ) -> Option<Timestamp> {
        if armed != next {
            if let Some(old) = armed {
                self.queue.remove(&(old, key.clone()));
            }
            if let Some(at) = next {
                self.queue.insert((at, key));
            }
        }
        next
    }

    /// The earliest deadline armed.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest entry due at `now`, if any.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<K> {
        match self.queue.first() {
            Some((at, _)) if *at <= now => self.queue.pop_first().map(|(_, key)| key),
            _ => None,
        }
    }

    /// Keeps only the keys `keep` accepts (a revoked partition's alerts go).
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.queue.retain(|(_, key)| keep(key));
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(seconds * 1000)
    }

    #[test]
    fn pops_due_entries_earliest_first_and_nothing_early() {
        let mut queue = TimerQueue::new();
        let a = queue.rearm(1, None, Some(at(30)));
        queue.rearm(2, None, Some(at(10)));
        queue.rearm(3, None, Some(at(20)));
        assert_eq!(queue.next_deadline(), Some(at(10)));
        assert_eq!(queue.pop_due(at(9)), None);
        assert_eq!(queue.pop_due(at(25)), Some(2));
        assert_eq!(queue.pop_due(at(25)), Some(3));
        assert_eq!(queue.pop_due(at(25)), None);
        // Re-arming moves the entry; disarming removes it.
        let a = queue.rearm(1, a, Some(at(5)));
        assert_eq!(queue.next_deadline(), Some(at(5)));
        queue.rearm(1, a, None);
        assert!(queue.is_empty());
    }

    #[test]
    fn equal_deadlines_keep_every_key_and_retain_filters() {
        let mut queue = TimerQueue::new();
        for key in 0..10 {
            queue.rearm(key, None, Some(at(1)));
        }
        assert_eq!(queue.len(), 10);
        queue.retain(|key| key % 2 == 0);
        let mut fired = Vec::new();
        while let Some(key) = queue.pop_due(at(1)) {
            fired.push(key);
        }
        assert_eq!(fired, [0, 2, 4, 6, 8]);
    }
}
