//! The dispatcher: consume the alerts topic in a consumer group, keep each alert's state on the
//! compacted changelog, notify, and store the input offset only once the state that reflects
//! the record is acknowledged by the broker and its notifications are settled.

pub mod dispatcher;
pub mod notifier;

pub use dispatcher::{DispatchError, Dispatcher};
