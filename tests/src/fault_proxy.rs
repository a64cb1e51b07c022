//! A TCP proxy the harness controls, between Watchkeeper and a console: it passes traffic
//! through, plays a console that is down (connections refused, open ones cut), or cuts one
//! connection in three after forwarding the request and before the answer comes back (the
//! console acted on it, the sender never learns), so the sender must retry under the same
//! idempotency key. One in three, not all: failures that are not consecutive leave the
//! sender's circuit breaker closed, so the retries themselves are exercised.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Traffic passes both ways.
    Pass = 0,
    /// Nothing listens: connections are refused and open ones are cut.
    Down = 1,
    /// Every third answer: the request reached the console, the connection is cut before the
    /// answer comes back.
    CutAnswers = 2,
}

struct Shared {
    mode: AtomicU8,
    upstream: SocketAddr,
    connections: Mutex<JoinSet<()>>,
    /// Answers seen in `CutAnswers` mode, and how many of them were cut.
    answers: AtomicUsize,
    cut: AtomicUsize,
}

pub struct FaultProxy {
    pub address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<tokio::task::JoinHandle<()>>,
}

fn bind(address: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(address).unwrap();
    socket.listen(1024).unwrap()
}

impl FaultProxy {
    /// A proxy on a free loopback port in front of `upstream`, passing traffic.
    pub async fn start(upstream: SocketAddr) -> FaultProxy {
        let listener = bind("127.0.0.1:0".parse().unwrap());
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            mode: AtomicU8::new(Mode::Pass as u8),
            upstream,
            connections: Mutex::new(JoinSet::new()),
            answers: AtomicUsize::new(0),
            cut: AtomicUsize::new(0),
        });
        let mut proxy = FaultProxy {
            address,
            shared,
            acceptor: None,
        };
        proxy.listen(listener);
        proxy
    }

    fn listen(&mut self, listener: TcpListener) {
        let shared = self.shared.clone();
        self.acceptor = Some(tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let connection = relay(client, shared.clone());
                let mut connections = shared.connections.lock().unwrap();
                while connections.try_join_next().is_some() {}
                connections.spawn(connection);
            }
        }));
    }

    /// Switches the mode; `Down` stops listening and cuts open connections, and leaving it
    /// listens again on the same port.
    pub fn set(&mut self, mode: Mode) {
        let before = self.shared.mode.swap(mode as u8, Ordering::SeqCst);
        if mode == Mode::Down {
            if let Some(acceptor) = self.acceptor.take() {
                acceptor.abort();
            }
            self.shared.connections.lock().unwrap().abort_all();
        } else if before == Mode::Down as u8 {
            // The aborted acceptor's listener is closed once its task is dropped; binding with
            // SO_REUSEADDR takes the port back at once.
            self.listen(bind(self.address));
        }
    }

    /// Requests whose answers were cut so far.
    pub fn answers_cut(&self) -> usize {
        self.shared.cut.load(Ordering::Relaxed)
    }
}

/// Relays one connection; in `CutAnswers` mode one answer in three closes it instead.
async fn relay(mut client: TcpStream, shared: Arc<Shared>) {
    let Ok(mut upstream) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let requests = tokio::io::copy(&mut client_read, &mut upstream_write);
    let answers = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = upstream_read.read(&mut buffer).await.unwrap_or(0);
            if read == 0 {
                return;
            }
            if shared.mode.load(Ordering::SeqCst) == Mode::CutAnswers as u8
                && shared.answers.fetch_add(1, Ordering::Relaxed) % 3 == 2
            {
                shared.cut.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if client_write.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    };
    // Whichever side ends first ends the connection (dropping both halves closes it).
    tokio::select! {
        _ = requests => {}
        () = answers => {}
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        self.shared.connections.lock().unwrap().abort_all();
    }
}
