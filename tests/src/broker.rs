//! The real Kafka-compatible broker of every test: Tansu with SQLite storage (wk-harness,
//! shared with wk-bench), failing the test when it cannot start.

pub struct Broker(wk_harness::Broker);

impl Broker {
    pub fn start() -> Broker {
        Broker(wk_harness::Broker::start().unwrap_or_else(|error| panic!("{error:#}")))
    }

    /// A broker on `port` that tells clients to connect to `advertised` (a proxy's port).
    pub fn start_advertising(port: u16, advertised: u16) -> Broker {
        Broker(
            wk_harness::Broker::start_advertising(port, advertised)
                .unwrap_or_else(|error| panic!("{error:#}")),
        )
    }

    pub fn address(&self) -> String {
        self.0.address()
    }

    pub fn log_path(&self) -> std::path::PathBuf {
        self.0.log_path()
    }

    /// Kills the broker (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        if let Err(error) = self.0.restart() {
            panic!("{error:#}");
        }
    }
}
