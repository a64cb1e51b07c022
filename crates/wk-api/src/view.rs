//! The api's read view of alerts, built from the state changelog (so any api process can
//! answer) plus the alerts this process accepted itself. It answers `duplicate` on submission,
//! NOT_FOUND for unknown alerts, GetAlert, ListAlerts (newest first, cursor-paged) and
//! WatchAlerts (a broadcast of every change it observes).
//!
//! Two submissions of one dedup key reaching different api processes within the dispatcher's
//! latency may both say `duplicate: false`; the dispatcher still folds them into one alert.
//!
//! Bounded: open alerts stay in memory, resolved ones for `api.view_retention` (30 days) and
//! at most `api.view_max_resolved` (50,000) of them (the oldest resolved go first). Of an alert
//! let go, the view keeps where its latest state record is on the state topic (`locate`), for
//! the `api.view_max_located` (1,000,000) let go of last; older ones are searched for on the
//! topic (`Place::Unlocated`). So an alert is always found by id, never silently missing;
//! ListAlerts covers what is in memory, walking an index kept newest first, not a sort of
//! everything.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast;
use wk_bus::codec;
use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

mod record;
use record::{Packed, decode, pack, whole};

use crate::row::Names;
pub use crate::row::{Filter, Row, has_words};

/// Changes buffered per watcher before a slow watcher starts losing the oldest.
const WATCH_BUFFER: usize = 4096;
/// Recent changes kept for a reconnecting watcher to replay (`Last-Event-ID`).
const JOURNAL: usize = 4096;

/// One observed change, numbered in the order this view applied it. It carries the state
/// encoded, shared with the view's copy: the replay journal and the watchers' buffer each
/// keep thousands of changes, at an eighth of a decoded state's size.
#[derive(Clone, Debug)]
pub struct Change {
    pub seq: u64,
    record: Arc<[u8]>,
}

impl Change {
    /// The alert's whole state after the change (`None`, logged, if its record did not
    /// decode, which a record this view encoded itself always does).
    pub fn state(&self) -> Option<pb::EscalationState> {
        decode(&self.record)
    }
}

#[derive(Default)]
struct Known {
    open: bool,
    /// What lists, the board and the filters read (`Row`).
    row: Option<Row>,
    /// The whole state, encoded and compressed (`pack`: an eighth of its decoded size), decoded
    /// when asked for by id or listed; shared with the change that brought it.
    record: Option<Arc<[u8]>>,
    /// The severity and a hash of (title, description) last seen, to tell an update from a
    /// plain retry without holding the text twice.
    version: Option<(i32, u64)>,
    /// Where its latest state record is on the state topic (partition, offset).
    location: Option<(i32, i64)>,
    /// Its keys in the indexes: when first seen, and when resolved (ms).
    listed: Option<i64>,
    resolved_at: Option<i64>,
}

impl Known {
    /// What is needed to give its whole state outside the view's lock.
    fn packed(&self) -> Packed {
        (self.record.clone(), self.row.clone())
    }
}

/// The values of the first `limit` of `keyed` in the order of their keys (smallest first);
/// only those are sorted.
fn first<K: Ord, T>(mut keyed: Vec<(K, T)>, limit: usize) -> Vec<T> {
    if limit < keyed.len() {
        keyed.select_nth_unstable_by(limit, |a, b| a.0.cmp(&b.0));
        keyed.truncate(limit);
    }
    keyed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    keyed.into_iter().map(|(_, value)| value).collect()
}

/// The silences the timeline names as holding or marking the alert, with when (ms). A state
/// record keeps each entry's time after its first seen.
fn silences_named(state: &pb::EscalationState) -> impl Iterator<Item = (&str, i64)> {
    use pb::timeline_entry::Event;
    let first_seen = state.first_seen.as_ref().and_then(codec::timestamp_from_pb);
    state
        .timeline
        .iter()
        .filter_map(move |entry| match &entry.event {
            Some(Event::Silenced(s)) | Some(Event::NotSilenced(s)) => {
                let at = wk_bus::escalation_codec::entry_at(entry, first_seen?).ok()?;
                Some((s.silence.as_str(), at.as_unix_millis()))
            }
            _ => None,
        })
}

/// How much the view keeps in memory.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A resolved alert stays this long after its resolution.
    pub retention: Duration,
    /// At most this many resolved alerts, whatever their age.
    pub max_resolved: usize,
    /// Of the alerts let go, where this many (the last let go) are on the state topic.
    pub max_located: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            retention: Duration::from_secs(30 * 86_400),
            max_resolved: 50_000,
            max_located: 1_000_000,
        }
    }
}

/// What a submission was, as far as this view can tell (the dispatcher decides for good).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Submitted {
    /// The alert was already open.
    pub duplicate: bool,
    /// And this submission raised its severity or changed its title or description.
    pub updated: bool,
}

/// An alert's (severity, title, description) as the view keeps it.
pub fn version(severity: i32, title: &str, description: &str) -> (i32, u64) {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    title.hash(&mut hasher);
    description.hash(&mut hasher);
    (severity, hasher.finish())
}

/// A protobuf timestamp in milliseconds since the epoch.
pub(crate) fn millis(at: Option<&prost_types::Timestamp>) -> Option<i64> {
    at.map(|at| at.seconds * 1000 + i64::from(at.nanos / 1_000_000))
}

fn first_seen_ms(state: &pb::EscalationState) -> i64 {
    millis(state.first_seen.as_ref()).unwrap_or(0)
}

#[derive(Default)]
struct Inner {
    alerts: HashMap<AlertId, Known>,
    /// Every alert with a state, newest first (ListAlerts' order and cursor).
    newest: BTreeSet<Reverse<(i64, AlertId)>>,
    /// Resolved alerts in memory, oldest resolution first (the next to let go).
    resolved: BTreeSet<(i64, AlertId)>,
    /// Alerts let go: where their latest state record is, and when they were let go (the
    /// number of lettings-go before).
    evicted: HashMap<AlertId, ((i32, i64), u64)>,
    /// The alerts let go, in that order (with that number: an alert raised again and let go
    /// again is further back); the first go when there are more than `max_located`.
    evicted_order: VecDeque<(AlertId, u64)>,
    /// How many alerts were let go in all, and how many of them without their place kept.
    let_go: u64,
    unlocated: u64,
    limits: Limits,
    /// When each silence last held or marked an alert (ms), from the timelines seen.
    silences_seen: HashMap<String, i64>,
    /// The office and country names the rows share.
    names: Names,
    /// The number of the last change applied.
    seq: u64,
    journal: VecDeque<Change>,
}

impl Inner {
    /// Lets go of the oldest resolved alerts while there are more than the limit allows or
    /// they were resolved longer ago than the retention. An alert with no known place on the
    /// state topic (none came from it) is kept.
    fn evict(&mut self, now_ms: i64) {
        let retention = i64::try_from(self.limits.retention.as_millis()).unwrap_or(i64::MAX);
        while let Some(&(at, id)) = self.resolved.first() {
            let over = self.resolved.len() > self.limits.max_resolved;
            if !over && at >= now_ms.saturating_sub(retention) {
                break;
            }
            self.resolved.pop_first();
            let Some(known) = self.alerts.get_mut(&id) else {
                continue;
            };
            known.resolved_at = None;
            let Some(location) = known.location else {
                continue;
            };
            if let Some(first) = known.listed {
                self.newest.remove(&Reverse((first, id)));
            }
            self.alerts.remove(&id);
            self.evicted.insert(id, (location, self.let_go));
            self.evicted_order.push_back((id, self.let_go));
            self.let_go += 1;
        }
        while self.evicted.len() > self.limits.max_located {
            let Some((id, number)) = self.evicted_order.pop_front() else {
                break;
            };
            if self.evicted.get(&id).is_some_and(|(_, at)| *at == number) {
                self.evicted.remove(&id);
                self.unlocated += 1;
            }
        }
        // Entries of alerts raised again since: dropped once they lead the queue.
        while self
            .evicted_order
            .front()
            .is_some_and(|(id, number)| self.evicted.get(id).is_none_or(|(_, at)| at != number))
        {
            self.evicted_order.pop_front();
        }
    }
}

/// Where an alert the view does not hold in memory may be found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Its latest state record is at (partition, offset) of the state topic.
    At(i32, i64),
    /// It may be one of the alerts let go of whose place is no longer kept: only a search of
    /// the state topic can tell.
    Unlocated,
    /// Not an alert this view has seen.
    Unknown,
}

fn status_at_ms(state: &pb::EscalationState) -> Option<i64> {
    millis(state.status_at.as_ref())
}

#[derive(Clone)]
pub struct StateView {
    inner: Arc<Mutex<Inner>>,
    changes: broadcast::Sender<Change>,
}

impl Default for StateView {
    fn default() -> StateView {
        StateView {
            inner: Arc::default(),
            changes: broadcast::channel(WATCH_BUFFER).0,
        }
    }
}

impl StateView {
    /// A view that keeps what `limits` allow.
    pub fn with_limits(limits: Limits) -> StateView {
        let view = StateView::default();
        view.lock().limits = limits;
        view
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<AlertId, Known>) -> T) -> T {
        f(&mut self.lock().alerts)
    }

    /// Records that `alert` was accepted here under `id`; says whether it was already open and
    /// whether it updated the open alert (severity raised, title or description changed).
    pub fn accepted(&self, id: AlertId, (severity, text): (i32, u64)) -> Submitted {
        self.with(|alerts| {
            let known = alerts.entry(id).or_default();
            let duplicate = std::mem::replace(&mut known.open, true);
            let updated = duplicate
                && known
                    .version
                    .is_some_and(|(seen, seen_text)| severity > seen || text != seen_text);
            let severity = known.version.map_or(severity, |(seen, _)| {
                if duplicate {
                    seen.max(severity)
                } else {
                    severity
                }
            });
            known.version = Some((severity, text));
            Submitted { duplicate, updated }
        })
    }

    /// Applies a state (from nowhere in particular: never let go of).
    pub fn observe(&self, id: AlertId, state: pb::EscalationState) {
        self.observe_at(id, state, None, 0);
    }

    /// Applies a state read from the changelog at `location` (partition, offset), numbers the
    /// change and tells the watchers; then lets go of what the limits no longer allow at
    /// `now_ms`.
    pub fn observe_at(
        &self,
        id: AlertId,
        state: pb::EscalationState,
        location: Option<(i32, i64)>,
        now_ms: i64,
    ) {
        let open = state.status != pb::AlertStatus::Resolved as i32;
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.evicted.remove(&id);
        let known = inner.alerts.entry(id).or_default();
        if let Some(first) = known.listed.take() {
            inner.newest.remove(&Reverse((first, id)));
        }
        if let Some(at) = known.resolved_at.take() {
            inner.resolved.remove(&(at, id));
        }
        let first = first_seen_ms(&state);
        inner.newest.insert(Reverse((first, id)));
        known.listed = Some(first);
        if !open {
            let at = status_at_ms(&state).unwrap_or(first);
            inner.resolved.insert((at, id));
            known.resolved_at = Some(at);
        }
        if location.is_some() {
            known.location = location;
        }
        known.open = open;
        known.version = state
            .alert
            .as_ref()
            .map(|alert| version(alert.severity, &alert.title, &alert.description));
        let record = pack(&state);
        known.row = Some(Row::with_names(id, &state, &mut inner.names));
        known.record = Some(record.clone());
        for (silence, at) in silences_named(&state) {
            let last = inner.silences_seen.entry(silence.to_owned()).or_insert(at);
            *last = (*last).max(at);
        }
        inner.seq += 1;
        let change = Change {
            seq: inner.seq,
            record,
        };
        if inner.journal.len() == JOURNAL {
            inner.journal.pop_front();
        }
        inner.journal.push_back(change.clone());
        // Sent under the lock, so watchers receive changes in `seq` order. No watcher is not
        // an error.
        let _ = self.changes.send(change);
        inner.evict(now_ms);
    }

    /// Where the latest state of an alert let go of is on the state topic.
    pub fn locate(&self, id: AlertId) -> Option<(i32, i64)> {
        self.lock().evicted.get(&id).map(|(location, _)| *location)
    }

    /// Where to look for an alert that is not in memory.
    pub fn place(&self, id: AlertId) -> Place {
        let inner = self.lock();
        match inner.evicted.get(&id) {
            Some(((partition, offset), _)) => Place::At(*partition, *offset),
            None if inner.alerts.contains_key(&id) || inner.unlocated == 0 => Place::Unknown,
            None => Place::Unlocated,
        }
    }

    /// Alerts held in memory, alerts let go of whose place is kept, and those whose place is
    /// not (found by a search of the state topic).
    pub fn sizes(&self) -> (usize, usize, u64) {
        let inner = self.lock();
        (inner.alerts.len(), inner.evicted.len(), inner.unlocated)
    }

    /// The number of the last change applied: a page rendered after reading it misses none
    /// of the changes numbered above it.
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// The changes numbered above `after`, oldest first; `None` when some of them are no
    /// longer kept (the watcher should reload everything).
    pub fn changes_since(&self, after: u64) -> Option<Vec<Change>> {
        let inner = self.lock();
        if after > inner.seq {
            // From before a restart of this process: its numbers mean nothing here.
            return None;
        }
        let oldest_kept = inner.journal.front().map_or(inner.seq + 1, |c| c.seq);
        if after + 1 < oldest_kept {
            return None;
        }
        Some(
            inner
                .journal
                .iter()
                .filter(|change| change.seq > after)
                .cloned()
                .collect(),
        )
    }

    /// Subscribes to changes, returning also the number of the last change before it.
    pub fn subscribe_from(&self) -> (u64, broadcast::Receiver<Change>) {
        let inner = self.lock();
        (inner.seq, self.changes.subscribe())
    }

    /// Calls `f` with every known alert's row (under the view's lock: keep `f` quick).
    pub fn for_each(&self, mut f: impl FnMut(&Row)) {
        let inner = self.lock();
        for row in inner.alerts.values().filter_map(|known| known.row.as_ref()) {
            f(row);
        }
    }

    /// Calls `f` with the whole state of every alert whose row satisfies `keep`, decoded one
    /// at a time after the view's lock is released.
    pub fn for_each_whole(
        &self,
        keep: impl Fn(&Row) -> bool,
        mut f: impl FnMut(pb::EscalationState),
    ) {
        let packed: Vec<Packed> = {
            let inner = self.lock();
            inner
                .alerts
                .values()
                .filter(|known| known.row.as_ref().is_some_and(&keep))
                .map(Known::packed)
                .collect()
        };
        for state in packed.iter().filter_map(whole) {
            f(state);
        }
    }

    /// When each silence last held or marked an alert, as the timelines the view has seen
    /// say (also of alerts since let go).
    pub fn silences_seen(&self) -> HashMap<String, i64> {
        self.lock().silences_seen.clone()
    }

    /// The whole states of the first `limit` alerts whose rows satisfy `keep`, in the order of
    /// `key` (smallest first), and how many satisfy it. Only the returned alerts are sorted
    /// and decoded (after the view's lock is released).
    pub fn select<K: Ord>(
        &self,
        keep: impl Fn(&Row) -> bool,
        key: impl Fn(&Row) -> K,
        limit: usize,
    ) -> (Vec<pb::EscalationState>, usize) {
        let (page, total) = {
            let inner = self.lock();
            let matching: Vec<(K, &Known)> = inner
                .alerts
                .values()
                .filter_map(|known| Some((known.row.as_ref().filter(|row| keep(row))?, known)))
                .map(|(row, known)| (key(row), known))
                .collect();
            let total = matching.len();
            let page: Vec<Packed> = first(matching, limit)
                .into_iter()
                .map(Known::packed)
                .collect();
            (page, total)
        };
        (page.iter().filter_map(whole).collect(), total)
    }

    /// `select`, of the alerts whose rows satisfy `keep` and whose whole states satisfy
    /// `deep` (a free-text search: the text is not in the rows). The candidates' states are
    /// decoded after the lock is released, one at a time, and the page's decoded again: a
    /// search over every open alert costs a decode each, never their memory at once.
    pub fn select_where<K: Ord>(
        &self,
        keep: impl Fn(&Row) -> bool,
        deep: impl Fn(&pb::EscalationState) -> bool,
        key: impl Fn(&Row) -> K,
        limit: usize,
    ) -> (Vec<pb::EscalationState>, usize) {
        let candidates: Vec<(K, Packed)> = {
            let inner = self.lock();
            inner
                .alerts
                .values()
                .filter_map(|known| Some((known.row.as_ref().filter(|row| keep(row))?, known)))
                .map(|(row, known)| (key(row), known.packed()))
                .collect()
        };
        let matching: Vec<(K, Packed)> = candidates
            .into_iter()
            .filter(|(_, packed)| whole(packed).is_some_and(|state| deep(&state)))
            .collect();
        let total = matching.len();
        let page = first(matching, limit).iter().filter_map(whole).collect();
        (page, total)
    }

    /// Whether the alert is in memory or was let go of.
    pub fn is_known(&self, id: AlertId) -> bool {
        let inner = self.lock();
        inner.alerts.contains_key(&id) || inner.evicted.contains_key(&id)
    }

    /// The whole state of an alert in memory.
    pub fn get(&self, id: AlertId) -> Option<pb::EscalationState> {
        self.with(|alerts| alerts.get(&id).map(Known::packed))
            .as_ref()
            .and_then(whole)
    }

    /// Up to `limit` alerts matching `filter`, newest first, strictly after `cursor` (the
    /// `(first_seen ms, alert id)` of the last alert of the previous page); and the cursor of
    /// the last one returned when more may follow.
    pub fn list(
        &self,
        filter: &Filter,
        cursor: Option<(i64, String)>,
        limit: usize,
    ) -> (Vec<pb::EscalationState>, Option<(i64, String)>) {
        // Strictly after the cursor in the newest-first order (an unparsable cursor id sorts
        // as the smallest id of its time, as its text would).
        let start = match &cursor {
            Some((ms, id)) => {
                let id: AlertId = id.parse().unwrap_or(AlertId::NIL);
                Bound::Excluded(Reverse((*ms, id)))
            }
            None => Bound::Unbounded,
        };
        let packed: Vec<Packed> = {
            let inner = self.lock();
            inner
                .newest
                .range((start, Bound::Unbounded))
                .filter_map(|Reverse((_, id))| inner.alerts.get(id))
                .filter(|known| known.row.as_ref().is_some_and(|row| filter.matches(row)))
                .take(limit + 1)
                .map(Known::packed)
                .collect()
        };
        let mut page: Vec<pb::EscalationState> = packed.iter().filter_map(whole).collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let key = |state: &pb::EscalationState| (first_seen_ms(state), state.alert_id.clone());
        let next = if more { page.last().map(key) } else { None };
        (page, next)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;
