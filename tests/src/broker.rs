//! A real Kafka-compatible broker: Tansu with its SQLite storage engine in a temporary
//! directory, on a free loopback port. It can be killed and restarted on the same port and
//! storage to test durability and unavailability.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct Broker {
    port: u16,
    /// The port clients are told to use, when a proxy stands in front of the broker.
    advertised: u16,
    dir: TempDir,
    child: Option<Child>,
}

fn tansu() -> PathBuf {
    if let Some(path) = std::env::var_os("WATCHKEEPER_TANSU") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let installed = home.map(|home| home.join("bin/tansu"));
    match installed {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("tansu"),
    }
}

impl Broker {
    pub fn start() -> Broker {
        let port = crate::free_port();
        Broker::start_advertising(port, port)
    }

    /// A broker on `port` that tells clients to connect to `advertised` (a proxy's port).
    pub fn start_advertising(port: u16, advertised: u16) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let mut broker = Broker {
            port,
            advertised,
            dir,
            child: None,
        };
        broker.spawn();
        broker
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.advertised)
    }

    fn spawn(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://127.0.0.1:{}", self.advertised);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("tansu.log"))
            .unwrap();
        let child = Command::new(tansu())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", "sqlite://data/tansu.db"])
            .current_dir(self.dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start tansu ({error}): run `./dev setup` to install it")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tansu did not listen within 20 s; see {}",
                self.log_path().display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    /// Kills the broker (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
