//! Watchkeeper's pure domain: the alert model and its validation, alert identity, the webhook
//! signature scheme and the configuration model. No I/O, no clock reads: time is passed in.

pub mod alert;
pub mod config;
pub mod escalation;
pub mod headcount;
pub mod integration;
pub mod links;
pub mod machine;
pub mod policy;
pub mod schedule;
pub mod signing;
pub mod silence;
pub mod time;
pub mod validate;
pub mod watch;

pub use alert::{Alert, AlertId, Category, Coordinates, Severity};
pub use time::Timestamp;
