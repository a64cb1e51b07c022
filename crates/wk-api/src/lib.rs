//! Watchkeeper's gRPC front door: the field offices' `AlertIngest` service with bearer-token
//! authentication, plus gRPC health and reflection. Converts protobuf to core types while
//! validating, and is the only crate that knows `tonic::Status`.

pub mod auth;
pub mod error;
pub mod ingest;
pub mod known;
pub mod server;
