//! 50 consoles connected by server-sent events while 100 alerts/s flow: every event delivered
//! to every console, the delivery latency (change applied in the api's view → row received by
//! the console), and the server's memory per connected console. The consoles run in a second
//! process (this binary, re-executed), so the server's resident memory is its own.
//!
//! `cargo bench -p wk-web --bench fanout` (or `deploy/bench/run`). Bounded: 2,000 alerts, and
//! the consoles give up 20 s after the last one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;

const CONSOLES: usize = 50;
const RATE: u64 = 100;
const ALERTS: u64 = 2_000;
const PRELOADED: u64 = 1_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench` asks benches to list themselves
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if let Ok(url) = std::env::var("WK_FANOUT_URL") {
        runtime.block_on(consoles(url));
    } else {
        runtime.block_on(server());
    }
}

async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let form = http.get(format!("{base}sign-in")).send().await.unwrap();
    let pre = common::cookie_of(&form.headers()["set-cookie"]);
    let body = form.text().await.unwrap();
    let csrf = common::csrf_of(&body);
    let reply = http
        .post(format!("{base}sign-in"))
        .header("cookie", pre)
        .form(&[
            ("csrf", csrf.as_str()),
            ("user", common::OFFICER),
            ("password", common::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    reply
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("wk_session="))
        .expect("signed in")
}

async fn server() {
    let console = common::console();
    let now_s = now_ms() / 1000;
    for n in 0..PRELOADED {
        let (id, state) = common::state(n, now_s);
        console.view.observe(id, state);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/console/", listener.local_addr().unwrap());
    let router = console.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies = Vec::new();
    for _ in 0..CONSOLES {
        cookies.push(sign_in(&http, &base).await);
    }
    let before = rss_kib();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(
            "WK_FANOUT_URL",
            format!("{base}events?after={}", console.view.seq()),
        )
        .env("WK_FANOUT_COOKIES", cookies.join(","))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "READY");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let connected = rss_kib();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let mut peak = connected;
    for n in PRELOADED..PRELOADED + ALERTS {
        tick.tick().await;
        let (id, mut state) = common::state(n, now_s);
        // The console measures latency from first_seen: the moment the change is applied.
        let at = now_ms();
        state.first_seen = Some(prost_types::Timestamp {
            seconds: at / 1000,
            nanos: ((at % 1000) * 1_000_000) as i32,
        });
        console.view.observe(id, state);
        if n.is_multiple_of(100) {
            peak = peak.max(rss_kib());
        }
    }
    let sent_for = started.elapsed();
    let report = lines.next().unwrap().unwrap();
    let _ = child.wait();
    let per_console_connected = (connected.saturating_sub(before) * 1024) / CONSOLES as u64;
    let per_console_flowing = (peak.saturating_sub(before) * 1024) / CONSOLES as u64;
    println!(
        "{{\"consoles\":{CONSOLES},\"rate\":{RATE},\"alerts\":{ALERTS},\"preloaded_open\":{PRELOADED},\"sent_seconds\":{:.1},\"server_rss_kib_before\":{before},\"server_rss_kib_connected\":{connected},\"server_rss_kib_peak\":{peak},\"bytes_per_console_connected\":{per_console_connected},\"bytes_per_console_flowing\":{per_console_flowing},\"consoles_report\":{report}}}",
        sent_for.as_secs_f64()
    );
}

async fn consoles(url: String) {
    let cookies: Vec<String> = std::env::var("WK_FANOUT_COOKIES")
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let http = reqwest::Client::new();
    let latencies = Arc::new(Mutex::new(hdrhistogram::Histogram::<u64>::new(3).unwrap()));
    let mut streams = Vec::new();
    for cookie in &cookies {
        let response = http
            .get(&url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        streams.push(response.bytes_stream());
    }
    println!("READY");
    let deadline = Instant::now() + Duration::from_secs(ALERTS / RATE + 20);
    let mut tasks = Vec::new();
    for mut stream in streams {
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let (mut rows, mut buffer) = (0u64, String::new());
            while rows < ALERTS {
                let Ok(Some(Ok(chunk))) =
                    tokio::time::timeout_at(deadline.into(), stream.next()).await
                else {
                    break;
                };
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    if !event.starts_with("event: row") {
                        continue;
                    }
                    let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                        continue;
                    };
                    let value: serde_json::Value = serde_json::from_str(data).unwrap();
                    let at = value["at"].as_i64().unwrap_or(0);
                    rows += 1;
                    let latency = u64::try_from(now_ms() - at).unwrap_or(0);
                    latencies.lock().unwrap().record(latency.max(1)).unwrap();
                }
            }
            rows
        }));
    }
    let mut received = Vec::new();
    for task in tasks {
        received.push(task.await.unwrap());
    }
    let h = latencies.lock().unwrap();
    println!(
        "{{\"rows_expected_per_console\":{ALERTS},\"rows_min\":{},\"rows_total\":{},\"latency_ms_p50\":{},\"latency_ms_p99\":{},\"latency_ms_max\":{}}}",
        received.iter().min().unwrap_or(&0),
        received.iter().sum::<u64>(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
}
