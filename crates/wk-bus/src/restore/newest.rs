//! Restoring a compacted partition newest first: its offsets are read in ranges from the end
//! back to the start, so the records written last (the alerts still escalating, as a rule:
//! every step writes one) are back first, and a restore of a partition whose history is long
//! resumes their timers before that history is read.
//!
//! Reading backwards is exact, not a guess: the first record of a key met on the way back is
//! that key's latest, so whatever it says can be acted on at once, and every older record of
//! that key, met later, is passed over. A tombstone met first means the key is gone.
//!
//! Pure: [`NewestFirst`] says which range to read next and decides what of a read range is
//! restored; [`Chunk::gather`] folds a range's records as they are read. The Kafka reader
//! (`super::read_range`) and the dispatcher's in-memory stand-in both use them.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use crate::consumer::Record;
use crate::restore::Kept;

/// The first range read from the end: small, so the newest records come back at once.
pub const FIRST_SPAN: i64 = 2_048;
/// Each range is this many times the last, up to [`MAX_SPAN`]: few reads in all.
const GROWTH: i64 = 4;
/// The largest range: what one read holds of a partition (new keys only, compressed) while
/// it is read.
pub const MAX_SPAN: i64 = 32_768;

/// Keys already met at a newer offset: a range's read keeps nothing of them.
pub type Seen = Arc<HashSet<Box<[u8]>>>;

/// What a range's read keeps: for each key not met at a newer offset, its latest record in
/// the range (`None` for a tombstone).
#[derive(Debug, Default)]
pub struct Chunk {
    latest: HashMap<Box<[u8]>, Option<Kept>>,
    /// Records read in the range, superseded ones and keyless ones included.
    pub read: usize,
}

impl Chunk {
    /// Folds in `record`, read in offset order within `range`; records outside it (a read
    /// may run past its end where the range's last offsets were compacted away) are not
    /// part of this range and are left out.
    pub fn gather(&mut self, range: &Range<i64>, seen: &Seen, record: Record) {
        if !range.contains(&record.offset) {
            return;
        }
        self.read += 1;
        let Some(key) = record.key.as_deref() else {
            return;
        };
        if seen.contains(key) {
            return;
        }
        let key: Box<[u8]> = key.into();
        self.latest.insert(key, Kept::of(record));
    }

    /// A chunk of `records` (in offset order), as a read of `range` keeps them.
    pub fn of(records: impl IntoIterator<Item = Record>, range: &Range<i64>, seen: &Seen) -> Chunk {
        let mut chunk = Chunk::default();
        for record in records {
            chunk.gather(range, seen, record);
        }
        chunk
    }
}

/// A partition's restore, newest first: which range to read next, and the keys met so far.
#[derive(Debug)]
pub struct NewestFirst {
    low: i64,
    /// Where the next range ends: everything from here on is read.
    next_end: i64,
    span: i64,
    seen: Seen,
    read: usize,
    end: i64,
}

impl NewestFirst {
    /// A restore of the partition between its `low` and `high` watermarks, read at the start.
    pub fn new(low: i64, high: i64) -> NewestFirst {
        NewestFirst {
            low,
            next_end: high.max(low),
            span: FIRST_SPAN,
            seen: Seen::default(),
            read: 0,
            end: high,
        }
    }

    /// The next range of offsets to read, `None` once the partition is read to its start.
    pub fn next(&self) -> Option<Range<i64>> {
        (self.next_end > self.low)
            .then(|| self.next_end.saturating_sub(self.span).max(self.low)..self.next_end)
    }

    /// The keys met so far, for the next range's read to pass over.
    pub fn seen(&self) -> Seen {
        Arc::clone(&self.seen)
    }

    /// Records read in all.
    pub fn read(&self) -> usize {
        self.read
    }

    /// The high watermark read at the start: where following the partition goes on.
    pub fn end(&self) -> i64 {
        self.end
    }

    /// Takes the read of `range` (the one [`NewestFirst::next`] gave): the latest record of
    /// each key met for the first time, tombstones left out, in offset order. Those are final:
    /// nothing older read later changes them. A range other than the one asked for is not
    /// taken (nothing restored, the same range asked again).
    pub fn take(&mut self, range: &Range<i64>, chunk: Chunk) -> Vec<Kept> {
        if self.next().as_ref() != Some(range) {
            return Vec::new();
        }
        self.read += chunk.read;
        // The read that shared it is done, so this is the only handle and nothing is copied.
        let seen = Arc::make_mut(&mut self.seen);
        let mut kept: Vec<Kept> = chunk
            .latest
            .into_iter()
            .filter_map(|(key, latest)| if seen.insert(key) { latest } else { None })
            .collect();
        kept.sort_unstable_by_key(|record| record.offset);
        self.next_end = range.start;
        self.span = self.span.saturating_mul(GROWTH).min(MAX_SPAN);
        kept
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::restore::Latest;

    fn record(offset: i64, key: u8, value: Option<u8>) -> Record {
        Record {
            partition: 0,
            offset,
            key: Some(vec![key]),
            payload: value.map(|value| vec![key, value]),
            trace: Default::default(),
        }
    }

    /// Restores `records` newest first, as the dispatcher does: each range read from the
    /// records that lie in it.
    fn restore(records: &[Record], low: i64, high: i64) -> (Vec<Vec<Kept>>, NewestFirst) {
        let mut plan = NewestFirst::new(low, high);
        let mut taken = Vec::new();
        while let Some(range) = plan.next() {
            let chunk = Chunk::of(records.iter().cloned(), &range, &plan.seen());
            taken.push(plan.take(&range, chunk));
        }
        (taken, plan)
    }

    fn payloads(kept: impl IntoIterator<Item = Kept>) -> Vec<(i64, Vec<u8>)> {
        let mut all: Vec<(i64, Vec<u8>)> = kept
            .into_iter()
            .map(|kept| (kept.offset, kept.payload().expect("unpacks")))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn the_newest_records_come_back_in_the_first_range() {
        // An alert still escalating at the end, history before it.
        let mut records: Vec<Record> = (0..10_000)
            .map(|offset| record(offset, (offset % 200) as u8, Some(1)))
            .collect();
        records.push(record(10_000, 250, Some(7)));
        let (taken, plan) = restore(&records, 0, 10_001);
        assert_eq!(
            payloads(taken[0].iter().cloned()).last(),
            Some(&(10_000, vec![250, 7]))
        );
        assert_eq!(plan.read(), 10_001);
        assert_eq!(plan.end(), 10_001);
        assert!(plan.next().is_none());
        // Ranges grow: 2,048 from the end, then (up to 8,192) the rest.
        assert_eq!(taken.len(), 2);
        // Every key's latest lies in the last 2,048: the rest is superseded history.
        assert_eq!(taken[0].len(), 201);
        assert!(taken[1].is_empty());
    }

    #[test]
    fn a_key_met_newer_is_never_restored_from_an_older_record() {
        // Key 1 resolved at offset 9,000 (its last record), opened at offset 10.
        let records = vec![
            record(10, 1, Some(0)),
            record(9_000, 1, Some(9)),
            record(9_500, 2, None),
            record(20, 2, Some(3)),
        ];
        let (taken, _) = restore(&records, 0, 9_501);
        assert_eq!(
            payloads(taken.into_iter().flatten()),
            [(9_000, vec![1, 9])],
            "key 2's tombstone is newest"
        );
    }

    #[test]
    fn a_range_other_than_the_one_asked_for_is_not_taken() {
        let mut plan = NewestFirst::new(0, 100);
        let wrong = 0..10;
        let chunk = Chunk::of([record(5, 1, Some(1))], &wrong, &plan.seen());
        assert!(plan.take(&wrong, chunk).is_empty());
        assert_eq!(plan.next(), Some(0..100));
    }

    #[test]
    fn an_empty_partition_needs_no_read() {
        assert!(NewestFirst::new(5, 5).next().is_none());
        assert!(NewestFirst::new(7, 3).next().is_none());
    }

    proptest! {
        /// Whatever the history, newest first restores exactly what reading the partition
        /// from its start keeping the last record of each key restores.
        #[test]
        fn newest_first_restores_what_a_read_from_the_start_restores(
            writes in prop::collection::vec((0u8..40, prop::option::weighted(0.8, any::<u8>()), 1i64..3_000), 0..400),
            low in 0i64..50,
        ) {
            let mut offset = low;
            let mut records = Vec::new();
            for (key, value, gap) in writes {
                records.push(record(offset, key, value));
                offset += gap;
            }
            let high = records.last().map_or(low, |last| last.offset + 1);
            // The reference: forward, the last record of each key wins.
            let mut last = HashMap::new();
            for record in &records {
                last.insert(record.key.clone(), record.clone());
            }
            let forward = Latest::of(last.into_values(), records.len(), high);
            let (taken, plan) = restore(&records, low, high);
            prop_assert_eq!(payloads(taken.into_iter().flatten()), payloads(forward.records));
            prop_assert_eq!(plan.read(), records.len());
        }
    }
}
