//! What the end-to-end tests and `wk-bench` both start on loopback, in one place: free ports,
//! child processes that log to a file and die with their owner ([`Service`]), and a Tansu
//! broker with SQLite storage in a temporary directory ([`Broker`]).

mod broker;
mod service;

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

pub use broker::{Broker, tansu};
pub use service::{Service, cpu_seconds_of};

/// A port that is free on 127.0.0.1 and that no other test or bench process of this machine
/// was handed in the last half hour. It is chosen below the kernel's ephemeral range, so no
/// `bind(0)` (a console receiver's, say) and no outgoing connection can take it between now
/// and the moment the caller's process binds it; a lock file in the temporary directory
/// (`wk-ports/<port>`) keeps concurrent test processes from choosing the same one.
pub fn free_port() -> anyhow::Result<u16> {
    let (low, high) = outside_ephemeral_range();
    let dir = std::env::temp_dir().join("wk-ports");
    std::fs::create_dir_all(&dir)?;
    let mut seed = seed();
    for _ in 0..1_000 {
        // xorshift: a different sequence per process and call.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let port = low + u16::try_from(seed % u64::from(high - low)).unwrap_or(0);
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        let lock = dir.join(port.to_string());
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        {
            Ok(_) => return Ok(port),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(&lock)
                    .and_then(|meta| meta.modified())
                    .map_or(true, |at| at.elapsed().unwrap_or_default() > RESERVED_FOR);
                if stale {
                    let _ = std::fs::remove_file(&lock);
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    anyhow::bail!("no free port in {low}..{high} after 1,000 tries")
}

/// How long a port handed out stays reserved (longer than the longest test).
const RESERVED_FOR: Duration = Duration::from_secs(30 * 60);

/// Ports from 10,000 up to the start of the kernel's ephemeral range (where `bind(0)` and
/// outgoing connections take theirs).
fn outside_ephemeral_range() -> (u16, u16) {
    let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    if start > 12_000 {
        (10_000, start)
    } else {
        // An unusual range: anything above it.
        (start.saturating_add(30_000).min(61_000), 65_000)
    }
}

fn seed() -> u64 {
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (nanos ^ (u64::from(std::process::id()) << 32) ^ calls.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1
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
