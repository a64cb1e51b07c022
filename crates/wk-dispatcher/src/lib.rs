//! The dispatcher: consumes the alerts topic in a consumer group and drives keyed machines:
//! one `wk_core::escalation::Escalation` per alert and one `wk_core::watch::OfficeWatch` per
//! watched office (`held` lists the kinds). A change is acted on at once (its
//! notifications go out) and written behind to the compacted state changelog (partition =
//! input partition); the input offset is stored only once every state write queued before it
//! is acknowledged (ARCHITECTURE.md, departure 10).
//!
//! Where to look: `dispatcher` (the loop), `pipeline` (the write-behind ordering rule, pure),
//! `held` (the kinds and their keys), `store` (machines by partition, one timer queue;
//! escalations left alone packed, done ones let go), `restore` (on assignment, and a let-go
//! escalation read back), `apply` (facts to machines), `act` (notifications, publications
//! and timers), `io` (the clock, input, changelog and notifier seams), `executor`
//! (deliveries).

mod act;
mod apply;
pub mod dispatcher;
pub mod executor;
mod headcounts;
pub mod held;
pub mod io;
mod metrics;
pub mod pipeline;
mod restore;
mod silences;
mod store;
#[cfg(test)]
mod tests;

pub use dispatcher::{DispatchError, Dispatcher, Parts};
