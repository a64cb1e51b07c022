//! The dispatcher: consumes the alerts topic in a consumer group and drives one
//! `wk_core::escalation::Escalation` per alert. Every change of an alert's escalation is
//! produced to the compacted state changelog (partition = input partition) and acknowledged
//! before the notifications it decided are sent and before the input offset is stored.

pub mod dispatcher;
pub mod executor;
mod metrics;

pub use dispatcher::{DispatchError, Dispatcher};
