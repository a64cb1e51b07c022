//! Real senders nobody here wrote: Debian's Prometheus (2.42) and Alertmanager (0.25), each a
//! child process on free loopback ports with its configuration and data in a temporary
//! directory, installed by `./dev setup`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tempfile::TempDir;
use wk_harness::Service;

fn installed(program: &str) -> &str {
    assert!(
        Path::new(program).exists(),
        "{program} is missing: run `./dev setup` (it installs Debian's prometheus and prometheus-alertmanager)"
    );
    program
}

/// A metric Prometheus scrapes from the test (`wk_fuel_low`), whose value the test sets.
pub struct Metric {
    pub port: u16,
    value: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

impl Metric {
    pub async fn start(value: u64) -> Metric {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(AtomicU64::new(value));
        let read = shared.clone();
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let value = read.load(Ordering::Relaxed);
                async move {
                    format!("# TYPE wk_fuel_low gauge\nwk_fuel_low{{generator=\"1\"}} {value}\n")
                }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Metric {
            port,
            value: shared,
            server,
        }
    }

    pub fn set(&self, value: u64) {
        self.value.store(value, Ordering::Relaxed);
    }
}

impl Drop for Metric {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Prometheus scraping `metric` every second, with a rule that fires while it is above zero,
/// and Watchkeeper as its only Alertmanager (`http_port`, under `path_prefix`, the bearer
/// `key`). Alerts are sent again every second, so their `endsAt` is 4 s ahead.
pub struct Prometheus {
    pub service: Service,
    _dir: TempDir,
}

impl Prometheus {
    pub fn start(metric: &Metric, http_port: u16, path_prefix: &str, key: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::free_port();
        std::fs::write(
            dir.path().join("prometheus.yml"),
            format!(
                r#"global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: generators
    static_configs:
      - targets: ["127.0.0.1:{metric}"]
alerting:
  alertmanagers:
    - api_version: v2
      path_prefix: {path_prefix}
      authorization:
        credentials: {key}
      static_configs:
        - targets: ["127.0.0.1:{http_port}"]
"#,
                metric = metric.port
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("rules.yml"),
            r#"groups:
  - name: watchkeeper
    rules:
      - alert: GeneratorFuelLow
        expr: wk_fuel_low > 0
        labels:
          severity: critical
        annotations:
          summary: Generator fuel low
          description: "Generator {{ $labels.generator }} has less than 10% fuel."
"#,
        )
        .unwrap();
        let mut service = Service::new(
            "prometheus",
            installed("/usr/bin/prometheus"),
            dir.path(),
            "prometheus.log",
        )
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--rules.alert.resend-delay=1s");
        service.start().expect("start prometheus");
        if let Err(error) = wk_harness::wait_for_port(port, &mut service, Duration::from_secs(30)) {
            panic!("{error:#}");
        }
        Prometheus { service, _dir: dir }
    }

    pub fn log(&self) -> String {
        self.service.log_tail()
    }
}

/// Alertmanager with one route to one receiver that has both a webhook (to
/// `/integrations/{webhook}` with the bearer `webhook_key`) and a PagerDuty receiver whose
/// `url` is Watchkeeper's `/v2/enqueue` with `routing_key`. Groups flush every second.
pub struct Alertmanager {
    pub service: Service,
    pub port: u16,
    _dir: TempDir,
}

impl Alertmanager {
    pub fn start(
        http_port: u16,
        webhook: &str,
        webhook_key: &str,
        routing_key: &str,
    ) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::free_port();
        std::fs::write(
            dir.path().join("alertmanager.yml"),
            format!(
                r#"route:
  receiver: operations-centre
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: operations-centre
    webhook_configs:
      - url: http://127.0.0.1:{http_port}/integrations/{webhook}
        send_resolved: true
        http_config:
          authorization:
            credentials: {webhook_key}
    pagerduty_configs:
      - routing_key: {routing_key}
        url: http://127.0.0.1:{http_port}/v2/enqueue
        send_resolved: true
        severity: critical
"#
            ),
        )
        .unwrap();
        let mut service = Service::new(
            "alertmanager",
            installed("/usr/bin/prometheus-alertmanager"),
            dir.path(),
            "alertmanager.log",
        )
        .arg(format!(
            "--config.file={}",
            dir.path().join("alertmanager.yml").display()
        ))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        // No cluster: a single instance, no gossip port.
        .arg("--cluster.listen-address=");
        service.start().expect("start alertmanager");
        if let Err(error) = wk_harness::wait_for_port(port, &mut service, Duration::from_secs(30)) {
            panic!("{error:#}");
        }
        Alertmanager {
            service,
            port,
            _dir: dir,
        }
    }

    /// Posts alerts to Alertmanager's own API (as Prometheus would).
    pub async fn post(&self, alerts: serde_json::Value) {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/api/v2/alerts", self.port))
            .timeout(Duration::from_secs(10))
            .json(&alerts)
            .send()
            .await
            .expect("alertmanager answers");
        assert!(response.status().is_success(), "{response:?}");
    }

    pub fn log(&self) -> String {
        self.service.log_tail()
    }
}

/// Counter for unique keys within a test process.
pub fn key(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
