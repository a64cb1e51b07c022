//! What the end-to-end tests and `wk-bench` both start on loopback, in one place: free ports,
//! child processes that log to a file and die with their owner ([`Service`]), and a Tansu
//! broker with SQLite storage in a temporary directory ([`Broker`]).

mod broker;
mod service;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub use broker::{Broker, tansu};
pub use service::Service;

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something listens on `port`, or `service` exits, or `within` passes.
pub fn wait_for_port(port: u16, service: &mut Service, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = service.exited() {
            anyhow::bail!(
                "{} exited ({status}) before listening on {port}:\n{}",
                service.name(),
                service.log_tail()
            );
        }
        if Instant::now() >= deadline {
            anyhow::bail!(
                "{} did not listen on {port} within {within:?}:\n{}",
                service.name(),
                service.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
