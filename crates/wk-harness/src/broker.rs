//! A real Kafka-compatible broker: Tansu with its SQLite storage engine in a temporary
//! directory, on a loopback port. It can be killed and restarted on the same port and storage
//! to test durability and unavailability.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tempfile::TempDir;

use crate::{Service, free_port, wait_for_port};

/// The tansu binary: `WATCHKEEPER_TANSU`, else `$CARGO_HOME/bin/tansu` (where `./dev setup`
/// installs it), else `tansu` on the PATH.
pub fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("WATCHKEEPER_TANSU") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    match home.map(|home| home.join("bin/tansu")) {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("tansu"),
    }
}

/// How often the brokers of tests and benchmarks run their maintenance (retention, then
/// compaction, during which Tansu serves no other storage request): Tansu 0.6's own default,
/// as `./dev run` has it. With [`STORAGE`] a run over a 500,000-record changelog holds the
/// broker 0.3–0.5 s (`wk-bench maintenance`); without its indexes it held it for minutes,
/// which is why this was once a day.
pub(crate) const MAINTENANCE_INTERVAL: &str = "10m";

pub struct Broker {
    port: u16,
    /// The port clients are told to use, when a proxy stands in front of the broker.
    advertised: u16,
    service: Service,
    // Dropped after the service (fields drop in order), so the broker dies first.
    dir: TempDir,
}

impl Broker {
    /// A broker on a free port.
    pub fn start() -> anyhow::Result<Broker> {
        let port = free_port()?;
        Broker::start_advertising(port, port)
    }

    /// A broker of the `tansu` binary at `program`, on a free port.
    pub fn start_with(program: &Path) -> anyhow::Result<Broker> {
        Broker::start_maintaining(program, MAINTENANCE_INTERVAL)
    }

    /// A broker of `program` on a free port whose maintenance (compaction, retention) runs at
    /// start and then every `interval`, as humantime writes it (`"10m"`): what the
    /// maintenance benchmark measures.
    pub fn start_maintaining(program: &Path, interval: &str) -> anyhow::Result<Broker> {
        let port = free_port()?;
        Broker::spawn_new(program, port, port, interval)
    }

    /// A broker on `port` that tells clients to connect to `advertised` (a proxy's port).
    pub fn start_advertising(port: u16, advertised: u16) -> anyhow::Result<Broker> {
        Broker::spawn_new(&tansu(), port, advertised, MAINTENANCE_INTERVAL)
    }

    fn spawn_new(
        program: &Path,
        port: u16,
        advertised: u16,
        maintenance_interval: &str,
    ) -> anyhow::Result<Broker> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let url = format!("tcp://127.0.0.1:{port}");
        let service = Service::new("tansu", program, dir.path(), "tansu.log")
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url"])
            .arg(format!("tcp://127.0.0.1:{advertised}"))
            .args(["--storage-engine"])
            .arg(format!(
                "sqlite://data/tansu.db?maintenance_interval={maintenance_interval}"
            ))
            // The broker keeps glibc's defaults whatever the caller was given.
            .env_remove("MALLOC_ARENA_MAX");
        let mut broker = Broker {
            port,
            advertised,
            service,
            dir,
        };
        broker.spawn()?;
        Ok(broker)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        self.service.start().map_err(|error| {
            error.context("cannot start tansu: run `./dev setup` to install it")
        })?;
        wait_for_port(self.port, &mut self.service, Duration::from_secs(20))?;
        index_storage(&self.dir.path().join("data/tansu.db"))
    }

    /// `127.0.0.1:<advertised port>`, for `bootstrap.servers`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn log_path(&self) -> PathBuf {
        self.service.log_path().to_path_buf()
    }

    /// CPU seconds the broker process has used so far.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        self.service.cpu_seconds()
    }

    /// Kills the broker (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        self.service.kill();
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }
}

/// What Tansu 0.6's SQLite schema lacks (`tansu-storage.sql`, which `./dev run` runs too).
///
/// - An index on `header (topition, offset_id)`: every fetch looks each record's headers up by
///   those, which scanned the whole header table per record.
/// - An index on `record (topition, k, offset_id)`: the compaction (`policy_compact.sql`)
///   deletes, for each key written more than once, the records of that key below its latest
///   offset. With only the primary key SQLite's plan walks every record of the partition below
///   that offset for each such key, quadratic in the partition (a 500,000 record changelog
///   with 250,000 superseded versions held the broker's write lock for more than 4 minutes);
///   with the index it is one range per key (4 s for that case, 0.3 s when nothing is
///   superseded). An index on `(topition, k)` alone does not help: SQLite still prefers the
///   primary key's range.
/// - Planner statistics for the catalog tables, so that the compaction's `group by` reads the
///   keys in index order instead of sorting every key of the changelog in a temporary B-tree.
///
/// Tansu serves every storage request one after another, so the whole maintenance run is a
/// stall for every produce and fetch. `tests/indexes.rs` checks the plans.
pub(crate) const STORAGE: &str = include_str!("tansu-storage.sql");

/// Runs [`STORAGE`] on the SQLite file at `db`, with Debian's `sqlite3` reading it from its
/// standard input (`-bail`: the first error stops it; waiting up to 10 s for a write lock the
/// broker holds).
fn index_storage(db: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    use std::process::Stdio;
    let mut sqlite = std::process::Command::new("sqlite3")
        .args(["-bail", "-cmd", ".timeout 10000"])
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context(
            "cannot run sqlite3 to index the broker's storage: run `./dev setup` to install it",
        )?;
    if let Some(mut input) = sqlite.stdin.take() {
        input
            .write_all(STORAGE.as_bytes())
            .context("writing to sqlite3")?;
    }
    let output = sqlite.wait_with_output().context("waiting for sqlite3")?;
    anyhow::ensure!(
        output.status.success(),
        "sqlite3 could not index {}: {}",
        db.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
