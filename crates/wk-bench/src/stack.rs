//! A complete stack on loopback, started by the bench itself: a Tansu broker with SQLite
//! storage in a temporary directory, a webhook receiver for both consoles, and watchkeeper as
//! separate api and dispatcher processes (so each one's memory is its own).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sha2::Digest as _;
use tempfile::TempDir;

pub(crate) const OFFICE: &str = "bench-office";
pub(crate) const TOKEN: &str = "bench-token-for-the-load-generator-0001";

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

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
    /// More `[[offices]]` (the check-in benchmark's watched offices).
    pub(crate) extra_offices: String,
}

/// A child process killed when dropped.
pub(crate) struct Process {
    name: String,
    command: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn spawn(name: &str, command: Vec<String>, dir: &Path, log: &str) -> anyhow::Result<Process> {
        let mut process = Process {
            name: name.to_owned(),
            command,
            log: dir.join(log),
            child: None,
        };
        process.start(dir)?;
        Ok(process)
    }

    fn start(&mut self, dir: &Path) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let (program, args) = self.command.split_first().context("empty command")?;
        let mut command = Command::new(program);
        if self.name != "tansu" {
            // As shipped in deploy/ (see docs/operations.md, Memory): glibc's per-thread
            // arenas fragment the dispatcher's many small allocations. MALLOC_ARENA_MAX in
            // the bench's own environment overrides it.
            command.env(
                "MALLOC_ARENA_MAX",
                std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".to_owned()),
            );
        } else {
            // The broker keeps glibc's default whatever the bench was given.
            command.env_remove("MALLOC_ARENA_MAX");
        }
        let child = command
            .args(args)
            .current_dir(dir)
            .env(
                "WATCHKEEPER_LOG",
                std::env::var("WK_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} ({program})", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, as a crash would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Resident set size in KiB, from /proc.
    pub(crate) fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.pid().context("process not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/PID/status")
    }

    /// CPU time used so far (user and system, every thread), from /proc.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        let pid = self.pid().context("process not running")?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // After the command name in parentheses: state is field 3, utime 14 and stime 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("no command name in /proc/PID/stat")?
            .1
            .split_whitespace()
            .collect();
        let ticks = |index: usize| -> anyhow::Result<f64> {
            Ok(fields
                .get(index)
                .context("short /proc/PID/stat")?
                .parse::<f64>()?)
        };
        // USER_HZ is 100 on every Linux this runs on (the kernel's ABI since 2.6).
        Ok((ticks(11)? + ticks(12)?) / 100.0)
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
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

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) struct Stack {
    pub(crate) dir: TempDir,
    // Held so the processes live as long as the stack (dropping one kills it).
    _broker: Process,
    pub(crate) api: Process,
    pub(crate) dispatcher: Option<Process>,
    pub(crate) api_port: u16,
    pub(crate) dispatcher_telemetry: u16,
}

fn wait_for_port(port: u16, process: &Process, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "{} did not listen on {port} within {within:?}:\n{}",
                process.name,
                process.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn config(spec: &StackSpec, brokers: &str, api_port: u16, telemetry: u16) -> String {
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
port = 9
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
        fetch_wait = spec.fetch_wait_ms,
        extra = std::env::var("WK_BENCH_KAFKA_PROPERTIES").unwrap_or_default(),
        linger = spec
            .linger_ms
            .map(|ms| format!("\"linger.ms\" = \"{ms}\""))
            .unwrap_or_default(),
    )
}

impl Stack {
    pub(crate) fn start(binaries: &Binaries, spec: &StackSpec) -> anyhow::Result<Stack> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let broker_port = free_port()?;
        let url = format!("tcp://127.0.0.1:{broker_port}");
        let broker = Process::spawn(
            "tansu",
            vec![
                binaries.tansu.display().to_string(),
                "broker".into(),
                "--listener-url".into(),
                url.clone(),
                "--advertised-listener-url".into(),
                url,
                "--storage-engine".into(),
                // Tansu 0.6 compacts every 10 minutes with a query that has no index on the
                // record key, inside one write transaction: with a 100,000-alert changelog it
                // ran for minutes and every produce and fetch waited (the broker looked dead
                // and the dispatcher's session timed out). The benchmark measures Watchkeeper,
                // so the broker's maintenance waits until after the longest run.
                "sqlite://data/tansu.db?maintenance_interval=1day".into(),
            ],
            dir.path(),
            "tansu.log",
        )?;
        wait_for_port(broker_port, &broker, Duration::from_secs(20))?;
        let brokers = format!("127.0.0.1:{broker_port}");
        let (api_port, api_telemetry, dispatcher_telemetry) =
            (free_port()?, free_port()?, free_port()?);
        let write = |name: &str, telemetry: u16| -> anyhow::Result<PathBuf> {
            let path = dir.path().join(name);
            std::fs::write(&path, config(spec, &brokers, api_port, telemetry))?;
            Ok(path)
        };
        let serve = |config: &Path, role: &str| {
            vec![
                binaries.watchkeeper.display().to_string(),
                "serve".into(),
                "--config".into(),
                config.display().to_string(),
                "--role".into(),
                role.into(),
            ]
        };
        let api_config = write("api.toml", api_telemetry)?;
        let api = Process::spawn("api", serve(&api_config, "api"), dir.path(), "api.log")?;
        wait_for_port(api_port, &api, Duration::from_secs(60))?;
        let dispatcher = if spec.dispatcher {
            let config = write("dispatcher.toml", dispatcher_telemetry)?;
            Some(Process::spawn(
                "dispatcher",
                serve(&config, "dispatcher"),
                dir.path(),
                "dispatcher.log",
            )?)
        } else {
            None
        };
        Ok(Stack {
            dir,
            _broker: broker,
            api,
            dispatcher,
            api_port,
            dispatcher_telemetry,
        })
    }

    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// Restarts the dispatcher after a SIGKILL.
    pub(crate) fn restart_dispatcher(&mut self) -> anyhow::Result<()> {
        let dir = self.dir.path().to_path_buf();
        let dispatcher = self.dispatcher.as_mut().context("no dispatcher")?;
        dispatcher.kill();
        dispatcher.start(&dir)
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
            .map(Process::log_tail)
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
            .sum())
    }
}
