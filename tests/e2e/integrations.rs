//! Integrations with real senders: Debian's Prometheus 2.42 with Watchkeeper as its
//! Alertmanager, and Alertmanager 0.25 with a webhook receiver and a PagerDuty receiver
//! pointing at Watchkeeper; PagerDuty's Events v2 semantics; an `endsAt` that passes without
//! a re-send across a dispatcher restart; the refusals (401, 400 naming fields, 413, 429).

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::json;
use wk_e2e::app::{MANILA_DUTY, OFFICE, OFFICER_TOKEN, Stack, authorized, token_hash};
use wk_e2e::senders::{Alertmanager, Metric, Prometheus, key};
use wk_e2e::{wait_for, wait_until};
use wk_proto::v1 as pb;

/// An `[[integrations]]` entry for `OFFICE`.
fn integration(name: &str, kind: &str, key: &str) -> String {
    format!(
        r#"
[[integrations]]
name = "{name}"
kind = "{kind}"
office = "{OFFICE}"
key_sha256 = "{hash}"
country = "NG"
place = "Maiduguri compound"
"#,
        hash = token_hash(key)
    )
}

fn http(stack: &Stack, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", stack.settings.http_port)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The state of `alert_id` once `ready` holds (within a minute).
async fn state(
    stack: &Stack,
    alert_id: &str,
    ready: impl Fn(&pb::EscalationState) -> bool,
) -> pb::EscalationState {
    stack.state_when(alert_id, ready).await
}

fn origin(state: &pb::EscalationState) -> pb::AlertOrigin {
    state
        .alert
        .as_ref()
        .and_then(|alert| alert.origin.clone())
        .expect("an integration's alert has its origin")
}

fn resolved(state: &pb::EscalationState) -> bool {
    state.status == pb::AlertStatus::Resolved as i32
}

/// The ids of the alerts Manila's console was sent whose title satisfies `title`.
fn sent_to_manila(stack: &Stack, title: impl Fn(&str) -> bool) -> BTreeSet<String> {
    stack
        .manila
        .received()
        .iter()
        .map(|webhook| webhook.json())
        .filter(|body| title(body["alert"]["title"].as_str().unwrap_or_default()))
        .filter_map(|body| body["alert"]["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_pages_through_watchkeeper_as_its_alertmanager_and_resolves_when_the_rule_stops()
{
    let secret = key("prometheus");
    let stack =
        Stack::with_policy(1, integration("prometheus", "alertmanager-api-v2", &secret)).await;
    let metric = Metric::start(1).await;
    let prometheus = Prometheus::start(
        &metric,
        stack.settings.http_port,
        "/integrations/prometheus",
        &secret,
    );
    let fired = |title: &str| title == "Generator fuel low";
    assert!(
        wait_until(Duration::from_secs(90), || !sent_to_manila(&stack, fired)
            .is_empty())
        .await,
        "Prometheus's alert did not reach Manila:\n{}\n{}",
        prometheus.log(),
        stack.app.log()
    );
    let alert_id = sent_to_manila(&stack, fired).into_iter().next().unwrap();
    stack
        .app
        .expect(Duration::from_secs(30), "no duty email", || {
            stack
                .smtp
                .emails_to(MANILA_DUTY)
                .iter()
                .any(|email| email.subject.contains("Generator fuel low"))
        })
        .await;
    // Prometheus sends it again every second: folded in, not notified again.
    let open = state(&stack, &alert_id, |state| state.occurrences >= 3).await;
    let from = origin(&open);
    assert_eq!(from.integration, "prometheus");
    assert_eq!(from.kind, "alertmanager-api-v2");
    assert!(from.link.starts_with("http://"), "{from:?}");
    assert!(from.ends_at.is_some());
    let alert = open.alert.unwrap();
    assert_eq!(alert.severity, pb::Severity::Critical as i32);
    assert_eq!(alert.labels["generator"], "1");
    let sent = stack.manila.received_for(&alert_id);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json()["alert"]["origin"]["integration"],
        "prometheus"
    );

    // The rule stops firing: Prometheus sends it resolved.
    metric.set(0);
    let closed = state(&stack, &alert_id, resolved).await;
    assert_eq!(closed.status_by.unwrap().actor, "prometheus");
    drop(prometheus);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_whose_ends_at_passes_without_a_re_send_is_resolved_also_across_a_restart() {
    let secret = key("prometheus");
    let mut stack =
        Stack::with_policy(1, integration("prometheus", "alertmanager-api-v2", &secret)).await;
    let ends_at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(12);
    let body = json!([{
        "labels": {"alertname": "UplinkDown", "instance": "vsat.maiduguri", "severity": "warning"},
        "annotations": {"summary": "VSAT uplink down"},
        "endsAt": ends_at.to_string(),
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"
    }]);
    // The bare path, the bearer key naming the integration.
    let response = client()
        .post(http(&stack, "/api/v2/alerts"))
        .bearer_auth(&secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let down = |title: &str| title == "VSAT uplink down";
    assert!(
        wait_until(Duration::from_secs(45), || !sent_to_manila(&stack, down)
            .is_empty())
        .await
    );
    let alert_id = sent_to_manila(&stack, down).into_iter().next().unwrap();
    state(&stack, &alert_id, |state| {
        state.status == pb::AlertStatus::Open as i32
    })
    .await;
    // The deadline is on the escalation's changelog: a crash and a restart keep it.
    stack.app.kill9();
    stack.app.restart();
    let closed = state(&stack, &alert_id, resolved).await;
    let by = closed.status_by.unwrap();
    assert_eq!(
        (by.actor.as_str(), by.channel.as_str()),
        ("prometheus", "ends-at")
    );
    let at = closed.status_at.unwrap();
    assert!(
        at.seconds >= ends_at.as_second(),
        "resolved before its endsAt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_s_webhook_and_pagerduty_receivers_both_arrive_unmerged_and_survive_a_broker_outage()
 {
    let webhook_key = key("alertmanager");
    let routing_key = key("pagerduty");
    let mut stack = Stack::with_policy(
        1,
        integration("alertmanager", "alertmanager-webhook", &webhook_key)
            + &integration("pagerduty", "pagerduty-events-v2", &routing_key),
    )
    .await;
    let alertmanager = Alertmanager::start(
        stack.settings.http_port,
        "alertmanager",
        &webhook_key,
        &routing_key,
    );
    alertmanager
        .post(json!([{
            "labels": {"alertname": "UplinkDown", "instance": "vsat.maiduguri", "severity": "critical"},
            "annotations": {"summary": "VSAT uplink down"},
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up"
        }]))
        .await;
    // One alert through each receiver: different integrations, so never one alert.
    let uplink = |title: &str| title.contains("UplinkDown") || title == "VSAT uplink down";
    assert!(
        wait_until(Duration::from_secs(60), || sent_to_manila(&stack, uplink)
            .len()
            == 2)
        .await,
        "not both receivers reached Manila: {:?}\n{}\n{}",
        sent_to_manila(&stack, uplink),
        alertmanager.log(),
        stack.app.log()
    );
    let ids = sent_to_manila(&stack, uplink);
    let mut integrations = BTreeSet::new();
    for id in &ids {
        let open = state(&stack, id, |_| true).await;
        integrations.insert(origin(&open).integration);
    }
    assert_eq!(
        integrations,
        BTreeSet::from(["alertmanager".to_owned(), "pagerduty".to_owned()])
    );

    // Resolved in Alertmanager: both receivers send the resolution.
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    alertmanager
        .post(json!([{
            "labels": {"alertname": "UplinkDown", "instance": "vsat.maiduguri", "severity": "critical"},
            "annotations": {"summary": "VSAT uplink down"},
            "endsAt": past.to_string()
        }]))
        .await;
    for id in &ids {
        let closed = state(&stack, id, resolved).await;
        let actor = closed.status_by.unwrap().actor;
        assert!(actor == "alertmanager" || actor == "pagerduty", "{actor}");
    }

    // The broker goes away: the endpoints answer 503 and Alertmanager retries until it is back.
    stack.broker.kill();
    alertmanager
        .post(json!([{
            "labels": {"alertname": "GeneratorDown", "severity": "critical"},
            "annotations": {"summary": "Generator down"}
        }]))
        .await;
    assert!(
        wait_until(Duration::from_secs(30), || alertmanager
            .log()
            .contains("503"))
        .await,
        "Alertmanager was not refused while the broker was away:\n{}",
        alertmanager.log()
    );
    stack.broker.restart();
    let generator = |title: &str| title.contains("GeneratorDown") || title == "Generator down";
    assert!(
        wait_until(Duration::from_secs(120), || sent_to_manila(
            &stack, generator
        )
        .len()
            == 2)
        .await,
        "the alert sent during the outage was lost: {:?}\n{}\n{}",
        sent_to_manila(&stack, generator),
        alertmanager.log(),
        stack.app.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_events_follow_pagerduty_s_dedup_key_semantics() {
    let routing_key = key("pagerduty");
    let stack = Stack::with_policy(
        1,
        integration("pagerduty", "pagerduty-events-v2", &routing_key),
    )
    .await;
    let enqueue = |body: serde_json::Value| {
        let url = http(&stack, "/v2/enqueue");
        async move { client().post(url).json(&body).send().await.unwrap() }
    };
    let trigger = |dedup_key: Option<&str>| {
        let mut body = json!({
            "routing_key": routing_key,
            "event_action": "trigger",
            "payload": {"summary": "Database replication lag", "source": "db-1.manila", "severity": "error"},
            "client_url": "https://monitoring.example.org/db-1"
        });
        if let Some(key) = dedup_key {
            body["dedup_key"] = json!(key);
        }
        body
    };
    // A trigger without a key gets one, returned.
    let response = enqueue(trigger(None)).await;
    assert_eq!(response.status(), 202);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "success");
    assert_eq!(answer["message"], "Event processed");
    let dedup_key = answer["dedup_key"].as_str().unwrap().to_owned();
    assert!(!dedup_key.is_empty());
    let alert_id =
        wk_core::AlertId::for_dedup_key(OFFICE, &format!("pagerduty/{dedup_key}")).to_string();
    let open = state(&stack, &alert_id, |_| true).await;
    assert_eq!(
        open.alert.as_ref().unwrap().severity,
        pb::Severity::Critical as i32
    );
    assert_eq!(origin(&open).link, "https://monitoring.example.org/db-1");
    // The same key again folds in.
    let again = enqueue(trigger(Some(&dedup_key))).await;
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["dedup_key"],
        dedup_key.as_str()
    );
    state(&stack, &alert_id, |state| state.occurrences == 2).await;

    let act = |action: &str, key: &str| json!({"routing_key": routing_key, "event_action": action, "dedup_key": key});
    assert_eq!(enqueue(act("acknowledge", &dedup_key)).await.status(), 202);
    state(&stack, &alert_id, |state| {
        state.status == pb::AlertStatus::Acknowledged as i32
    })
    .await;
    assert_eq!(enqueue(act("resolve", &dedup_key)).await.status(), 202);
    state(&stack, &alert_id, resolved).await;
    // A trigger after the resolution opens a new incident.
    assert_eq!(enqueue(trigger(Some(&dedup_key))).await.status(), 202);
    state(&stack, &alert_id, |state| state.incident == 2).await;
    // Acknowledging a key never triggered is dropped: accepted, and no alert appears.
    assert_eq!(
        enqueue(act("acknowledge", "never-triggered"))
            .await
            .status(),
        202
    );
    let unknown = wk_core::AlertId::for_dedup_key(OFFICE, "pagerduty/never-triggered").to_string();
    let console = stack.app.console().await;
    let found = wait_for(Duration::from_secs(3), Duration::from_millis(200), || {
        let request = authorized(
            pb::GetAlertRequest {
                alert_id: unknown.clone(),
            },
            OFFICER_TOKEN,
        );
        let mut console = console.clone();
        async move { console.get_alert(request).await.ok() }
    })
    .await;
    assert!(found.is_none(), "{found:?}");

    // PagerDuty's refusals: every problem named; an unknown routing key.
    let response = enqueue(json!({"routing_key": routing_key, "event_action": "trigger", "payload": {"severity": "sev1"}})).await;
    assert_eq!(response.status(), 400);
    let refused: serde_json::Value = response.json().await.unwrap();
    assert_eq!(refused["status"], "invalid event");
    let errors = refused["errors"].to_string();
    for field in ["payload.summary", "payload.source", "payload.severity"] {
        assert!(errors.contains(field), "{errors}");
    }
    let response =
        enqueue(json!({"routing_key": "not-a-key", "event_action": "resolve", "dedup_key": "x"}))
            .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integrations_refuse_what_they_must_with_the_reason() {
    let secret = key("alertmanager");
    let env = vec![
        ("WATCHKEEPER__API__OFFICE_RATE".to_owned(), "1".to_owned()),
        ("WATCHKEEPER__API__OFFICE_BURST".to_owned(), "3".to_owned()),
    ];
    let stack = Stack::with_env(
        1,
        integration("alertmanager", "alertmanager-webhook", &secret),
        env,
    )
    .await;
    let url = http(&stack, "/integrations/alertmanager");
    let body = |fingerprint: &str, country: &str| {
        json!({"version": "4", "status": "firing", "alerts": [
            {"status": "firing", "fingerprint": fingerprint, "labels": {"alertname": "A", "country": country}}
        ]})
    };
    // No key, a wrong key, a key in the basic-auth password.
    let response = client()
        .post(&url)
        .json(&body("f0", "NG"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let response = client()
        .post(&url)
        .bearer_auth("wrong")
        .json(&body("f0", "NG"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = client()
        .post(&url)
        .basic_auth("alertmanager", Some(&secret))
        .json(&body("f1", "NG"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A bad label is named, with the sender's own field.
    let response = client()
        .post(&url)
        .bearer_auth(&secret)
        .json(&body("f2", "Narnia"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let refused: serde_json::Value = response.json().await.unwrap();
    assert_eq!(refused["errors"][0]["field"], "alerts[0].labels.country");
    // Over 1 MiB.
    let huge = "x".repeat(1024 * 1024 + 1);
    let response = client()
        .post(&url)
        .bearer_auth(&secret)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // The office's allowance (bursts of 3, 1/s) is the one its gRPC submissions use too.
    let mut limited = 0;
    for index in 0..8 {
        let response = client()
            .post(&url)
            .bearer_auth(&secret)
            .json(&body(&format!("flood-{index}"), "NG"))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            limited += 1;
        }
    }
    assert!(limited >= 3, "only {limited} of 8 refused");
}
