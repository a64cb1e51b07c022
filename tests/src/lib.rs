//! The end-to-end harness: starts real processes on loopback (a Tansu broker, an aiosmtpd SMTP
//! server, HTTP receivers standing in for the consoles, and the `watchkeeper` binary) on free
//! ports in temporary directories, and waits on conditions with deadlines, never fixed sleeps.
#![allow(clippy::unwrap_used, unreachable_pub)]

pub mod app;
pub mod broker;
pub mod console;
pub mod fault_proxy;
pub mod hog;
pub mod otlp;
pub mod senders;
pub mod smtp;
pub mod tls;
pub mod tls_proxy;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// A free port on 127.0.0.1, reserved for this test (wk-harness: outside the ephemeral range,
/// so a console receiver's `bind(0)` in another test cannot take it first).
pub fn free_port() -> u16 {
    wk_harness::free_port().unwrap_or_else(|error| panic!("{error:#}"))
}

/// A name no other test (or earlier run against the same broker) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{count}", std::process::id())
}

/// A gRPC channel to `endpoint` on which nothing waits for ever: a connection within 10 s, an
/// answer (a whole stream, too) within 2 minutes, or the call fails and the test says so.
pub async fn channel(endpoint: &str) -> tonic::transport::Channel {
    try_channel(endpoint)
        .await
        .unwrap_or_else(|error| panic!("connecting to {endpoint}: {error}"))
}

/// [`channel`], for a caller that tries again when the connection fails.
pub async fn try_channel(
    endpoint: &str,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())?
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .connect()
        .await
}

/// Polls `condition` every 25 ms until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, condition: impl FnMut() -> bool) -> bool {
    poll_until(timeout, Duration::from_millis(25), condition).await
}

/// `wait_until` for a costly condition (one that reads thousands of files, say), checked every
/// `every`.
pub async fn poll_until(
    timeout: Duration,
    every: Duration,
    mut condition: impl FnMut() -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls the asynchronous `probe` every `every` until it yields a value or `timeout` passes
/// (a gRPC read, say); returns that value.
pub async fn wait_for<T, F>(
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> F,
) -> Option<T>
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// The value of the hidden input `name` in a confirmation page (as an email link's page
/// writes it), unescaped.
pub fn hidden_field(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .map(|at| at + marker.len())
        .unwrap_or_else(|| panic!("no {name} in {page}"));
    let end = page[start..]
        .find('"')
        .map_or(page.len(), |end| end + start);
    page[start..end]
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

/// The Python interpreter with the test requirements (`aiosmtpd`, `grpcio-tools`), installed by
/// `./dev setup` into `.venv`, or `WATCHKEEPER_PYTHON`.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("WATCHKEEPER_PYTHON") {
        return PathBuf::from(path);
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run `./dev setup` (or `./dev test`) first",
        venv.display()
    );
    venv
}

/// Runs `command` to completion; returns its standard output, or panics with both outputs if
/// it failed.
pub fn run_ok(command: &mut std::process::Command) -> Vec<u8> {
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{command:?} did not run: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// [`run_ok`] on a blocking thread, for async tests.
pub async fn run_ok_async(mut command: std::process::Command) -> Vec<u8> {
    tokio::task::spawn_blocking(move || run_ok(&mut command))
        .await
        .expect("the command's thread")
}

/// The secrets `deploy/watchkeeper.example.toml` leaves to the environment, as a deployment
/// would give them.
pub const EXAMPLE_SECRETS: [(&str, &str); 3] = [
    (
        "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
        "a-long-enough-secret-0001",
    ),
    (
        "WATCHKEEPER__CONSOLES__PANAMA__SIGNING_SECRET",
        "a-long-enough-secret-0002",
    ),
    ("WATCHKEEPER__SMTP__PASSWORD", "smtp-password"),
];
