//! The vocabulary every stateful capability follows: a sans-I/O machine with time passed in,
//! the shape of `quinn_proto::Connection`. Facts go in through its own `handle_*(…, now)`
//! methods; what it decides comes out of [`Machine::poll_action`]; [`Machine::poll_timeout`]
//! says when it next needs [`Machine::handle_timeout`]. Its [`Machine::Snapshot`] is its
//! persisted state — what the state changelog holds under its key, tagged with its
//! [`Kind`] — and [`Machine::restore`] brings it back after a restart or a rebalance.
//!
//! The dispatcher drives machines through this trait alone for what every kind shares: the
//! keyed store with one timer queue, the write-behind pipeline, restore on assignment, lost
//! assignments. [`crate::escalation::Escalation`] is the first machine; ARCHITECTURE.md
//! ("Adding a stateful capability") says how to add the next.

use std::fmt;
use std::hash::Hash;

use crate::time::Timestamp;

/// The kinds of machine, as the state changelog tags their records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Escalation,
    OfficeWatch,
    Headcount,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Escalation => "escalation",
            Kind::OfficeWatch => "office watch",
            Kind::Headcount => "headcount",
        }
    }
}

pub trait Machine: Sized + Send + 'static {
    /// The tag of this kind's state records.
    const KIND: Kind;
    /// What names one machine of the kind (an escalation: its alert's id; an office watch: its office's): the key of its
    /// state records and of its timer.
    type Key: Clone + Eq + Ord + Hash + fmt::Display + Send + Sync + 'static;
    /// Its persisted state.
    type Snapshot: Clone;
    /// What it decides and the driver carries out.
    type Action;
    /// What it needs to decide on a timeout (an escalation: the directory of consoles,
    /// people and schedules).
    type Context: ?Sized;

    fn key(&self) -> Self::Key;
    /// The next decided action, until none is left.
    fn poll_action(&mut self) -> Option<Self::Action>;
    /// When it next needs [`Machine::handle_timeout`], if ever.
    fn poll_timeout(&self) -> Option<Timestamp>;
    fn handle_timeout(&mut self, context: &Self::Context, now: Timestamp);
    fn snapshot(&self) -> Self::Snapshot;
    /// Back from its persisted state; actions still owed (notifications not yet delivered)
    /// are decided again, under the same ids.
    fn restore(snapshot: Self::Snapshot) -> Self;
}
