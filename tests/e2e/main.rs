//! The end-to-end test binary: every test starts its own broker, SMTP server, consoles and
//! `watchkeeper` process (see the `wk_e2e` harness), so tests run in parallel safely.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod abuse;
mod broker_outage;
mod check_ins;
mod cli;
mod config;
mod console;
mod deploy;
mod drain;
mod escalation;
mod faults;
mod headcounts;
mod ingest;
mod integrations;
mod links;
mod nothing_lost;
mod officers;
mod operations;
mod python_client;
mod silences;
mod static_membership;
mod tls;
mod tracing;
