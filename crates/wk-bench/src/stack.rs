//! A complete stack on loopback, started by the bench itself with the harness the end-to-end
//! tests use (wk-harness): a Tansu broker with SQLite storage in a temporary directory, a
//! webhook receiver for both consoles, and watchkeeper as separate api and dispatcher
//! processes (so each one's memory is its own).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sha2::Digest as _;
use tempfile::TempDir;
use wk_harness::{Broker, Service, free_port, wait_for_port};

pub(crate) const OFFICE: &str = "bench-office";
pub(crate) const TOKEN: &str = "bench-token-for-the-load-generator-0001";

/// Where the processes come from.
#[derive(Clone, Debug)]
pub(crate) struct Binaries {
    pub(crate) watchkeeper: PathBuf,
    pub(crate) tansu: PathBuf,
}

/// What the stack is made of.
#[derive(Clone, Debug)]
pub(crate) struct StackSpec {
    pub(crate) partitions: u32,
    /// Step 1 (Manila console) waits this long before step 2 (Panama console).
    pub(crate) step_timeout: Duration,
    /// Start a dispatcher (the ingest benchmark can leave it out).
    pub(crate) dispatcher: bool,
    pub(crate) receiver: SocketAddr,
    /// The dispatcher's `fetch.wait.max.ms` (Tansu answers a fetch only after this wait).
    pub(crate) fetch_wait_ms: u32,
    /// Overrides both producers' `linger.ms` (api 1 ms, changelog 5 ms by default).
    pub(crate) linger_ms: Option<u32>,
    /// More `[[offices]]` (the check-in benchmark's watched offices), or other sections
    /// (the headcount benchmark's roster, links and duty officer).
    pub(crate) extra_offices: String,
    /// The SMTP server's port (9, discard, where no benchmark sends mail).
    pub(crate) smtp_port: u16,
}

impl StackSpec {
    /// A stack of `partitions` with a dispatcher, its consoles at `receiver`, step 2 an hour
    /// away, no more offices and no mail; the broker settings as `cli` gives them.
    pub(crate) fn new(cli: &crate::Cli, partitions: u32, receiver: SocketAddr) -> StackSpec {
        StackSpec {
            partitions,
            step_timeout: Duration::from_secs(3600),
            dispatcher: true,
            receiver,
            fetch_wait_ms: cli.fetch_wait_ms,
            linger_ms: cli.linger_ms,
            extra_offices: String::new(),
            smtp_port: 9,
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // WK_BENCH_KEEP=1 keeps the logs and data for a look afterwards.
        if std::env::var_os("WK_BENCH_KEEP").is_some() {
            eprintln!("wk-bench: kept {}", self.dir.path().display());
            self.dir.disable_cleanup(true);
        }
    }
}

pub(crate) struct Stack {
    pub(crate) api: Service,
    pub(crate) dispatcher: Option<Service>,
    pub(crate) api_port: u16,
    /// The api's HTTP listener (integrations, the console).
    pub(crate) http_port: u16,
    pub(crate) dispatcher_telemetry: u16,
    // Held so the broker lives as long as the stack; dropped after the watchkeeper processes.
    pub(crate) broker: Broker,
    pub(crate) dir: TempDir,
}

/// A watchkeeper process of the stack, with the allocator setting `deploy/` ships.
fn watchkeeper(binaries: &Binaries, dir: &Path, config: &Path, role: &str) -> Service {
    Service::new(role, &binaries.watchkeeper, dir, &format!("{role}.log"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--role", role])
        // As shipped in deploy/ (see docs/operations.md, Memory): glibc's per-thread arenas
        // fragment the dispatcher's many small allocations. MALLOC_ARENA_MAX in the bench's
        // own environment overrides it.
        .env(
            "MALLOC_ARENA_MAX",
            std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".to_owned()),
        )
        .env(
            "WATCHKEEPER_LOG",
            std::env::var("WK_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
}

fn config(
    spec: &StackSpec,
    brokers: &str,
    (api_port, http_port): (u16, u16),
    telemetry: u16,
) -> String {
    let token_hash = hex::encode(sha2::Sha256::digest(TOKEN.as_bytes()));
    let receiver = spec.receiver;
    let timeout_ms = spec.step_timeout.as_millis();
    format!(
        r#"shutdown_grace = "10s"

[kafka]
brokers = "{brokers}"
partitions = {partitions}
produce_timeout = "10s"

[kafka.properties]
"fetch.wait.max.ms" = "{fetch_wait}"
{linger}
{extra}

[api]
listen = "127.0.0.1:{api_port}"
http_listen = "127.0.0.1:{http_port}"
max_in_flight = 65536
max_batch = 1000

[telemetry]
listen = "127.0.0.1:{telemetry}"

[[offices]]
id = "{OFFICE}"
token_sha256 = "{token_hash}"
# The load generator is one office sending as fast as it can.
rate = 1000000
burst = 1000000

{extra_offices}

[consoles.manila]
webhook_url = "http://{receiver}/manila"
signing_secret = "bench-manila-signing-secret"
failover = "panama"

[consoles.panama]
webhook_url = "http://{receiver}/panama"
signing_secret = "bench-panama-signing-secret"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "Watchkeeper <bench@watchkeeper.test>"

[webhook]
timeout = "5s"
attempts = 5

[[chains]]
id = "two"
[[chains.steps]]
timeout = "{timeout_ms}ms"
targets = ["console:manila"]
[[chains.steps]]
timeout = "1h"
targets = ["console:panama"]

[routing]
default_chain = "two"
"#,
        partitions = spec.partitions,
        extra_offices = spec.extra_offices,
        smtp_port = spec.smtp_port,
        fetch_wait = spec.fetch_wait_ms,
        extra = std::env::var("WK_BENCH_KAFKA_PROPERTIES").unwrap_or_default(),
        linger = spec
            .linger_ms
            .map(|ms| format!("\"linger.ms\" = \"{ms}\""))
            .unwrap_or_default(),
    )
}

impl Stack {
    /// CPU seconds used so far by the api, the dispatcher (0 without one) and the broker.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<[f64; 3]> {
        let dispatcher = match &self.dispatcher {
            Some(dispatcher) => dispatcher.cpu_seconds()?,
            None => 0.0,
        };
        Ok([
            self.api.cpu_seconds()?,
            dispatcher,
            self.broker.cpu_seconds()?,
        ])
    }

    pub(crate) fn start(binaries: &Binaries, spec: &StackSpec) -> anyhow::Result<Stack> {
        let broker = Broker::start_with(&binaries.tansu)?;
        let dir = tempfile::tempdir()?;
        let brokers = broker.address();
        let (api_port, http_port, api_telemetry, dispatcher_telemetry) =
            (free_port()?, free_port()?, free_port()?, free_port()?);
        let write = |name: &str, telemetry: u16| -> anyhow::Result<PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(
                &path,
                config(spec, &brokers, (api_port, http_port), telemetry),
            )?;
            Ok(path)
        };
        let api_config = write("api.toml", api_telemetry)?;
        let mut api = watchkeeper(binaries, dir.path(), &api_config, "api");
        api.start()?;
        wait_for_port(api_port, &mut api, Duration::from_secs(60))?;
        let dispatcher = if spec.dispatcher {
            let config = write("dispatcher.toml", dispatcher_telemetry)?;
            let mut dispatcher = watchkeeper(binaries, dir.path(), &config, "dispatcher");
            dispatcher.start()?;
            Some(dispatcher)
        } else {
            None
        };
        Ok(Stack {
            api,
            dispatcher,
            api_port,
            http_port,
            dispatcher_telemetry,
            broker,
            dir,
        })
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Restarts the dispatcher after a SIGKILL.
    pub(crate) fn restart_dispatcher(&mut self) -> anyhow::Result<()> {
        let dispatcher = self.dispatcher.as_mut().context("no dispatcher")?;
        dispatcher.kill();
        dispatcher.start()
    }

    /// Waits until the dispatcher answers `/readyz` with 200 (partitions assigned and
    /// restored); returns how long that took.
    pub(crate) async fn dispatcher_ready(&self, within: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let url = format!("http://127.0.0.1:{}/readyz", self.dispatcher_telemetry);
        let client = reqwest::Client::new();
        while started.elapsed() < within {
            if let Ok(response) = client.get(&url).send().await
                && response.status() == 200
            {
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let log = self
            .dispatcher
            .as_ref()
            .map(Service::log_tail)
            .unwrap_or_default();
        bail!("dispatcher not ready within {within:?}:\n{log}")
    }

    /// The sum of a gauge or counter in the dispatcher's `/metrics`, over the series whose
    /// labels contain `labels`.
    pub(crate) async fn dispatcher_metric(&self, name: &str, labels: &str) -> anyhow::Result<f64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.dispatcher_telemetry);
        let text = reqwest::get(url).await?.text().await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with(name) && line.contains(labels))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(0.0, |sum, value| sum + value))
    }
}
