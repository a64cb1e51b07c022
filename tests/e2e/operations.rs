//! What operators rely on: Prometheus metrics that move by the right amounts, gRPC health and
//! `/readyz` following the broker, and server reflection for grpcurl-like clients.

use std::process::Command;
use std::time::Duration;

use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use wk_e2e::app::{Stack, TOKEN, alert, authorized};
use wk_e2e::{python, wait_until, workspace_root};
use wk_proto::v1 as pb;

const DEADLINE: Duration = Duration::from_secs(60);

async fn scrape(stack: &Stack) -> String {
    let url = format!("http://127.0.0.1:{}/metrics", stack.settings.telemetry_port);
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// The value of the sample `series` (labels in the order the exporter prints them: the order
/// they are recorded in).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_alerts_deliveries_and_steps() {
    let stack = Stack::start(1).await;
    let mut client = stack.app.client().await;
    let mut ids = Vec::new();
    for key in ["m-1", "m-2"] {
        let request = pb::SubmitAlertRequest {
            alert: Some(alert("Metrics", key)),
        };
        ids.push(
            client
                .submit_alert(authorized(request, TOKEN))
                .await
                .unwrap()
                .into_inner()
                .alert_id,
        );
    }
    let mut invalid = alert("Bad", "m-3");
    invalid.country = "XX".into();
    invalid.severity = 0;
    client
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(invalid),
            },
            TOKEN,
        ))
        .await
        .unwrap_err();
    let delivered = wait_until(DEADLINE, || {
        ids.iter()
            .all(|id| stack.manila.received_for(id).len() == 1)
    })
    .await;
    assert!(delivered, "{}", stack.app.log());

    let deadline = std::time::Instant::now() + DEADLINE;
    let metrics = loop {
        let metrics = scrape(&stack).await;
        let webhooks = r#"watchkeeper_deliveries_total{channel="webhook",console="manila",outcome="delivered"}"#;
        if sample(&metrics, webhooks) >= 2.0 || std::time::Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let accepted = r#"watchkeeper_alerts_received_total{office="ng-maiduguri",severity="critical",outcome="accepted"}"#;
    assert_eq!(sample(&metrics, accepted), 2.0, "{metrics}");
    let invalid = r#"watchkeeper_alerts_received_total{office="ng-maiduguri",severity="unspecified",outcome="invalid_argument"}"#;
    assert_eq!(sample(&metrics, invalid), 1.0, "{metrics}");
    assert_eq!(
        sample(&metrics, "watchkeeper_ingest_latency_seconds_count"),
        3.0,
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "watchkeeper_escalation_steps_fired_total"),
        2.0,
        "{metrics}"
    );
    let webhooks =
        r#"watchkeeper_deliveries_total{channel="webhook",console="manila",outcome="delivered"}"#;
    assert_eq!(sample(&metrics, webhooks), 2.0, "{metrics}");
    let emails = r#"watchkeeper_deliveries_total{channel="email",console="",outcome="delivered"}"#;
    assert!(wait_until(DEADLINE, || stack.smtp.emails().len() == 2).await);
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut metrics = scrape(&stack).await;
    while sample(&metrics, emails) < 2.0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = scrape(&stack).await;
    }
    assert_eq!(sample(&metrics, emails), 2.0, "{metrics}");
    assert!(
        metrics.contains("watchkeeper_delivery_latency_seconds_bucket"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_the_broker_and_reflection_lists_the_services() {
    let mut stack = Stack::start(1).await;
    let channel = tonic::transport::Endpoint::from_shared(stack.app.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel);
    let readyz = format!("http://127.0.0.1:{}/readyz", stack.settings.telemetry_port);
    let status = |service: &'static str| {
        let mut health = health.clone();
        async move {
            let request = tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            };
            health
                .check(request)
                .await
                .map(|r| r.into_inner().status)
                .unwrap_or(-1)
        }
    };
    let until_status = |service: &'static str, wanted: ServingStatus| async move {
        let deadline = std::time::Instant::now() + DEADLINE;
        while status(service).await != wanted as i32 {
            assert!(
                std::time::Instant::now() < deadline,
                "{service} never became {wanted:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    until_status("watchkeeper.v1.AlertIngest", ServingStatus::Serving).await;
    assert_eq!(reqwest::get(&readyz).await.unwrap().status(), 200);

    stack.broker.kill();
    until_status("watchkeeper.v1.AlertIngest", ServingStatus::NotServing).await;
    until_status("", ServingStatus::NotServing).await;
    assert_eq!(reqwest::get(&readyz).await.unwrap().status(), 503);
    let live = format!("http://127.0.0.1:{}/healthz", stack.settings.telemetry_port);
    assert_eq!(
        reqwest::get(&live).await.unwrap().status(),
        200,
        "alive even without a broker"
    );

    stack.broker.restart();
    until_status("watchkeeper.v1.AlertIngest", ServingStatus::Serving).await;
    assert_eq!(reqwest::get(&readyz).await.unwrap().status(), 200);

    let endpoint = format!("127.0.0.1:{}", stack.app.api_port);
    let mut command = Command::new(python());
    command
        .arg(workspace_root().join("tests/support/reflection_client.py"))
        .arg(endpoint);
    let services: Vec<String> =
        serde_json::from_slice(&wk_e2e::run_ok_async(command).await).unwrap();
    for service in [
        "grpc.health.v1.Health",
        "watchkeeper.v1.AlertConsole",
        "watchkeeper.v1.AlertIngest",
    ] {
        assert!(
            services.iter().any(|s| s == service),
            "{service} not listed: {services:?}"
        );
    }
}

/// Polls `/readyz` until 200; returns the process log from `log_before` up to that moment.
async fn until_ready(stack: &Stack, log_before: usize) -> String {
    let readyz = format!("http://127.0.0.1:{}/readyz", stack.settings.telemetry_port);
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let ok = reqwest::get(&readyz)
            .await
            .is_ok_and(|response| response.status() == 200);
        // Read after the answer: whatever readiness relied on was logged before it.
        let log = stack.app.log();
        if ok {
            return log[log_before..].to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "never ready:\n{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Readiness also waits for the dispatcher: after a restart with open alerts, `/readyz` turns
/// 200 only once the group assigned the partitions and their state is restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_until_the_dispatcher_restored_its_partitions() {
    let mut stack = Stack::start(2).await;
    for key in ["r-1", "r-2", "r-3"] {
        stack.submit("Readiness", key).await;
    }
    let first = until_ready(&stack, 0).await;
    assert_eq!(first.matches("partition restored").count(), 2, "{first}");
    stack.app.restart();
    let before = stack.app.log().len();
    // The log of this process up to the moment it first answered ready.
    let second = until_ready(&stack, before).await;
    assert!(second.contains("assignment restored: ready"), "{second}");
    assert_eq!(second.matches("partition restored").count(), 2, "{second}");
}
