//! Watchkeeper's gRPC front door: the field offices' `AlertIngest` (alerts and check-ins),
//! the duty officers' `AlertConsole` and `OfficeWatches`, with bearer-token authentication and roles, plus gRPC health and reflection. Converts protobuf to core types while
//! validating, and is the only crate that knows `tonic::Status`.

pub mod auth;
pub mod checkin;
pub mod console;
pub mod error;
pub mod headcount_http;
pub mod headcounts;
pub mod http;
pub mod ingest;
pub mod integrations;
pub mod integrations_http;
pub mod limits;
mod metrics;
pub mod offices;
mod pages;
pub mod redact;
mod row;
pub mod server;
pub mod silences;
pub mod view;
