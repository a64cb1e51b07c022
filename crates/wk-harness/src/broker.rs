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
        let port = free_port()?;
        Broker::spawn_new(program, port, port)
    }

    /// A broker on `port` that tells clients to connect to `advertised` (a proxy's port).
    pub fn start_advertising(port: u16, advertised: u16) -> anyhow::Result<Broker> {
        Broker::spawn_new(&tansu(), port, advertised)
    }

    fn spawn_new(program: &Path, port: u16, advertised: u16) -> anyhow::Result<Broker> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("data"))?;
        let url = format!("tcp://127.0.0.1:{port}");
        let service = Service::new("tansu", program, dir.path(), "tansu.log")
            .args(["broker", "--listener-url", &url])
            .args(["--advertised-listener-url"])
            .arg(format!("tcp://127.0.0.1:{advertised}"))
            // Tansu 0.6 compacts every 10 minutes with a query that has no index on the
            // record key, inside one write transaction: with a large changelog it runs for
            // minutes and every produce and fetch waits (the broker looks dead and group
            // sessions time out). Tests and benchmarks measure Watchkeeper, not that.
            .args([
                "--storage-engine",
                "sqlite://data/tansu.db?maintenance_interval=1day",
            ])
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

/// The indexes Tansu 0.6's SQLite schema lacks: every fetch looks headers up by
/// `(topition, offset_id)` and its maintenance looks records up by `(topition, k)`, and
/// without them both scan whole tables, so a broker slows down (and its maintenance stalls
/// everything) as the data grows. Its schema exists once it listens (its DDL is all `IF NOT
/// EXISTS`, so it never minds what is added), and a restart keeps them. Same statements as
/// `./dev run`.
const INDEXES: &str = "create index if not exists header_topition_offset on header (topition, offset_id); \
     create index if not exists record_topition_k on record (topition, k);";

/// Adds [`INDEXES`] to the SQLite file at `db`, with Debian's `sqlite3` (waiting up to 10 s
/// for a write lock the broker holds).
fn index_storage(db: &Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let output = std::process::Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(db)
        .arg(INDEXES)
        .stdin(std::process::Stdio::null())
        .output()
        .context(
            "cannot run sqlite3 to index the broker's storage: run `./dev setup` to install it",
        )?;
    anyhow::ensure!(
        output.status.success(),
        "sqlite3 could not index {}: {}",
        db.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}
