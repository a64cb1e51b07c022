//! Each mapping on captured and documented payloads (Alertmanager 0.25's webhook, Grafana's
//! alerting and legacy examples, PagerDuty's Events v2 examples, what Prometheus 2.42
//! posts), and on malformed and oversized ones.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;
use crate::alert::{Category, IntegrationKind, Severity};
use crate::time::Timestamp;

fn now() -> Timestamp {
    let at: jiff::Timestamp = "2026-11-30T10:00:00Z".parse().unwrap();
    Timestamp::from_unix_millis(at.as_millisecond())
}

fn integration(kind: IntegrationKind) -> Integration {
    Integration {
        name: "monitoring".into(),
        kind,
        office: OfficeSource::Fixed("ng-maiduguri".into()),
        key_hashes: Vec::new(),
        mapping: Mapping::with_defaults("NG", "Maiduguri"),
        resolve_timeout: Duration::from_secs(300),
    }
}

fn by_label(kind: IntegrationKind) -> Integration {
    Integration {
        office: OfficeSource::Label {
            label: "office".into(),
            allowed: BTreeSet::from(["ng-maiduguri".to_owned(), "so-mogadishu".to_owned()]),
        },
        ..integration(kind)
    }
}

fn triggers(decoded: &Decoded) -> Vec<&crate::validate::AlertDraft> {
    decoded
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Trigger(draft) => Some(&**draft),
            _ => None,
        })
        .collect()
}

const ALERTMANAGER: &[u8] = include_bytes!("testdata/alertmanager-0.25.json");
const GRAFANA: &[u8] = include_bytes!("testdata/grafana-alerting.json");
const GRAFANA_LEGACY: &[u8] = include_bytes!("testdata/grafana-legacy.json");
const PAGERDUTY_TRIGGER: &[u8] = include_bytes!("testdata/pagerduty-trigger.json");
const PAGERDUTY_ACK: &[u8] = include_bytes!("testdata/pagerduty-acknowledge.json");
const PAGERDUTY_RESOLVE: &[u8] = include_bytes!("testdata/pagerduty-resolve.json");
const PROMETHEUS: &[u8] = include_bytes!("testdata/prometheus-2.42.json");

#[test]
fn alertmanager_alerts_with_one_summary_stay_distinct_and_resolved_resolves() {
    let am = integration(IntegrationKind::AlertmanagerWebhook);
    let decoded = alertmanager::decode(&am, ALERTMANAGER, now()).unwrap();
    assert_eq!(decoded.errors, []);
    let raised = triggers(&decoded);
    assert_eq!(raised.len(), 2);
    // The same summary, two fingerprints: two alerts (goalert#4461).
    assert_eq!(raised[0].title, "Generator fuel low");
    assert_eq!(raised[1].title, "Generator fuel low");
    assert_eq!(raised[0].dedup_key, "monitoring/3f0a2c3e9b4d5a61");
    assert_eq!(raised[1].dedup_key, "monitoring/8c1d7e2f40a9b3c5");
    let first = raised[0];
    assert_eq!(first.office_id, "ng-maiduguri");
    assert_eq!(first.severity, Some(Severity::Critical));
    assert_eq!(first.category, Some(Category::Infrastructure));
    assert_eq!(first.country, "NG");
    assert_eq!(first.place, "Maiduguri");
    assert!(first.description.starts_with("Fuel at 8% in generator 1"));
    assert!(
        first
            .description
            .contains("runbook_url: https://wiki.example.org/runbooks/fuel")
    );
    assert_eq!(first.labels["instance"], "gen-1.maiduguri:9100");
    assert_eq!(first.labels["alertname"], "GeneratorFuelLow");
    let origin = first.origin.as_ref().unwrap();
    assert_eq!(origin.integration, "monitoring");
    assert_eq!(origin.kind, IntegrationKind::AlertmanagerWebhook);
    assert!(
        origin
            .link
            .starts_with("http://prometheus.example.org:9090/graph")
    );
    assert_eq!(
        origin.ends_at, None,
        "a webhook's alerts resolve explicitly"
    );
    let started: jiff::Timestamp = "2026-11-30T09:58:12.345Z".parse().unwrap();
    assert_eq!(
        first.occurred_at.unwrap().as_unix_millis(),
        started.as_millisecond()
    );
    assert!(decoded.items.contains(&Item::Resolve {
        office: "ng-maiduguri".into(),
        dedup_key: "monitoring/d41e8a0b77c2f9e3".into(),
    }));
    // Every draft is a valid alert.
    for draft in raised {
        draft
            .clone()
            .validate(now(), crate::AlertId::for_dedup_key("", ""))
            .unwrap();
    }
}

#[test]
fn a_repeat_of_an_alertmanager_alert_has_the_same_identity() {
    let am = integration(IntegrationKind::AlertmanagerWebhook);
    let once = alertmanager::decode(&am, ALERTMANAGER, now()).unwrap();
    let again =
        alertmanager::decode(&am, ALERTMANAGER, now().saturating_add_millis(60_000)).unwrap();
    let keys = |decoded: &Decoded| -> Vec<String> {
        decoded
            .items
            .iter()
            .map(|item| item.identity().1.to_owned())
            .collect()
    };
    assert_eq!(keys(&once), keys(&again));
}

#[test]
fn grafana_alerting_payloads_map_like_alertmanager_s() {
    let grafana = integration(IntegrationKind::GrafanaWebhook);
    let decoded = alertmanager::decode(&grafana, GRAFANA, now()).unwrap();
    assert_eq!(decoded.errors, []);
    let raised = triggers(&decoded);
    assert_eq!(raised.len(), 2);
    assert_eq!(raised[0].title, "This alert was triggered for zone us-1");
    assert_eq!(raised[0].dedup_key, "monitoring/c6eadffa33fcdf37");
    assert_eq!(raised[1].dedup_key, "monitoring/bc97ff14869b13e3");
    // No severity label: the integration's default.
    assert_eq!(raised[0].severity, Some(Severity::Warning));
    assert_eq!(raised[0].labels["team"], "blue");
    assert_eq!(
        raised[0].origin.as_ref().unwrap().link,
        "https://play.grafana.org/alerting/1afz29v7z/edit"
    );
}

#[test]
fn grafana_legacy_alerting_raises_ok_resolves_and_paused_is_nothing() {
    let grafana = integration(IntegrationKind::GrafanaWebhook);
    let decoded = alertmanager::decode(&grafana, GRAFANA_LEGACY, now()).unwrap();
    assert_eq!(decoded.errors, []);
    let raised = triggers(&decoded);
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].title, "Panel Title alert");
    assert_eq!(raised[0].description, "Notification Message");
    assert_eq!(raised[0].dedup_key, "monitoring/rule-1");
    // A tag name with a space is kept under a label name we allow.
    assert_eq!(raised[0].labels["tag_name"], "tag value");
    let ok = String::from_utf8_lossy(GRAFANA_LEGACY).replace("\"alerting\"", "\"ok\"");
    let decoded = alertmanager::decode(&grafana, ok.as_bytes(), now()).unwrap();
    assert_eq!(
        decoded.items,
        [Item::Resolve {
            office: "ng-maiduguri".into(),
            dedup_key: "monitoring/rule-1".into()
        }]
    );
    let paused = String::from_utf8_lossy(GRAFANA_LEGACY).replace("\"alerting\"", "\"paused\"");
    assert_eq!(
        alertmanager::decode(&grafana, paused.as_bytes(), now()).unwrap(),
        Decoded::default()
    );
}

#[test]
fn pagerduty_events_map_with_their_dedup_key() {
    let pd = integration(IntegrationKind::PagerDutyEventsV2);
    let event = pagerduty::parse(PAGERDUTY_TRIGGER).unwrap();
    assert_eq!(event.routing_key(), "samplekeyhere");
    let (item, key) = event.item(&pd, "unused".into(), now()).unwrap();
    assert_eq!(key, "samplekeyhere");
    let Item::Trigger(draft) = item else {
        panic!("a trigger: {item:?}")
    };
    assert_eq!(draft.title, "Example alert on host1.example.com");
    assert_eq!(draft.severity, Some(Severity::Info));
    assert_eq!(draft.dedup_key, "monitoring/samplekeyhere");
    assert_eq!(draft.labels["component"], "postgres");
    assert_eq!(draft.labels["group"], "prod-datapipe");
    assert!(draft.description.contains("ping time: 1500ms"));
    assert!(draft.description.contains("load avg: 0.75"));
    assert_eq!(
        draft.origin.as_ref().unwrap().link,
        "https://monitoring.example.com"
    );

    for (body, acknowledge) in [(PAGERDUTY_ACK, true), (PAGERDUTY_RESOLVE, false)] {
        let (item, key) = pagerduty::parse(body)
            .unwrap()
            .item(&pd, "unused".into(), now())
            .unwrap();
        assert_eq!(key, "samplekeyhere");
        let expected = (
            String::from("ng-maiduguri"),
            String::from("monitoring/samplekeyhere"),
        );
        match item {
            Item::Acknowledge { office, dedup_key } if acknowledge => {
                assert_eq!((office, dedup_key), expected);
            }
            Item::Resolve { office, dedup_key } if !acknowledge => {
                assert_eq!((office, dedup_key), expected);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_pagerduty_trigger_without_a_key_gets_the_one_made_up() {
    let pd = integration(IntegrationKind::PagerDutyEventsV2);
    let body =
        String::from_utf8_lossy(PAGERDUTY_TRIGGER).replace("\"dedup_key\": \"samplekeyhere\",", "");
    let (item, key) = pagerduty::parse(body.as_bytes())
        .unwrap()
        .item(&pd, "generated-1".into(), now())
        .unwrap();
    assert_eq!(key, "generated-1");
    assert_eq!(item.identity().1, "monitoring/generated-1");
}

#[test]
fn pagerduty_refusals_name_every_field() {
    let pd = integration(IntegrationKind::PagerDutyEventsV2);
    let refused = |body: &str| -> Vec<String> {
        match pagerduty::parse(body.as_bytes())
            .unwrap()
            .item(&pd, "x".into(), now())
        {
            Ok(item) => panic!("accepted: {item:?}"),
            Err(errors) => errors.into_iter().map(|error| error.field).collect(),
        }
    };
    assert_eq!(
        refused(r#"{"routing_key":"k","event_action":"trigger","payload":{"severity":"sev1"}}"#),
        ["payload.summary", "payload.source", "payload.severity"]
    );
    assert_eq!(
        refused(r#"{"routing_key":"k","event_action":"trigger"}"#),
        ["payload"]
    );
    assert_eq!(
        refused(r#"{"routing_key":"k","event_action":"resolve"}"#),
        ["dedup_key"]
    );
    assert_eq!(
        refused(r#"{"routing_key":"k","event_action":"escalate"}"#),
        ["event_action"]
    );
    assert_eq!(refused(r#"{"routing_key":"k"}"#), ["event_action"]);
    let long = "s".repeat(1_025);
    assert_eq!(
        refused(&format!(
            r#"{{"routing_key":"k","event_action":"trigger","payload":{{"summary":"{long}","source":"a","severity":"info"}}}}"#
        )),
        ["payload.summary"]
    );
    let key = "k".repeat(256);
    assert_eq!(
        refused(&format!(
            r#"{{"routing_key":"k","event_action":"resolve","dedup_key":"{key}"}}"#
        )),
        ["dedup_key"]
    );
}

#[test]
fn prometheus_alerts_carry_their_deadline_and_a_past_one_resolves() {
    let prometheus = integration(IntegrationKind::AlertmanagerApiV2);
    let decoded = prometheus::decode(&prometheus, PROMETHEUS, now()).unwrap();
    assert_eq!(decoded.errors, []);
    let raised = triggers(&decoded);
    assert_eq!(raised.len(), 1);
    let ends: jiff::Timestamp = "2026-11-30T10:04:12.345Z".parse().unwrap();
    let origin = raised[0].origin.as_ref().unwrap();
    assert_eq!(
        origin.ends_at.unwrap().as_unix_millis(),
        ends.as_millisecond()
    );
    assert_eq!(origin.kind, IntegrationKind::AlertmanagerApiV2);
    let identity = |labels: &[(&str, &str)]| {
        dedup_key(
            "monitoring",
            &prometheus::fingerprint(
                &labels
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                    .collect(),
            ),
        )
    };
    assert_eq!(
        raised[0].dedup_key,
        identity(&[
            ("alertname", "GeneratorFuelLow"),
            ("instance", "gen-1.maiduguri:9100"),
            ("job", "generators"),
            ("severity", "critical"),
        ])
    );
    // The uplink's endsAt has passed: resolved now.
    assert!(decoded.items.contains(&Item::Resolve {
        office: "ng-maiduguri".into(),
        dedup_key: identity(&[
            ("alertname", "UplinkDown"),
            ("instance", "vsat.maiduguri"),
            ("job", "uplinks"),
            ("severity", "warning"),
        ]),
    }));
}

#[test]
fn a_prometheus_alert_without_ends_at_lasts_the_resolve_timeout() {
    let prometheus = integration(IntegrationKind::AlertmanagerApiV2);
    let body = br#"[{"labels":{"alertname":"Up"},"annotations":{"summary":"up"}}]"#;
    let decoded = prometheus::decode(&prometheus, body, now()).unwrap();
    let raised = triggers(&decoded);
    assert_eq!(
        raised[0].origin.as_ref().unwrap().ends_at,
        Some(now().saturating_add_millis(300_000))
    );
    let refused = prometheus::decode(&prometheus, br#"[{"labels":{}}]"#, now()).unwrap();
    assert_eq!(refused.items, []);
    assert_eq!(refused.errors[0].field, "[0].labels");
}

#[test]
fn an_office_label_is_restricted_to_the_listed_offices() {
    let am = by_label(IntegrationKind::AlertmanagerWebhook);
    let body = |office: &str| {
        format!(
            r#"{{"version":"4","alerts":[{{"status":"firing","fingerprint":"f1","labels":{{"alertname":"A"{office}}}}}]}}"#
        )
    };
    let decoded =
        alertmanager::decode(&am, body(r#","office":"so-mogadishu""#).as_bytes(), now()).unwrap();
    let raised = triggers(&decoded);
    assert_eq!(raised[0].office_id, "so-mogadishu");
    assert!(!raised[0].labels.contains_key("office"));
    let decoded =
        alertmanager::decode(&am, body(r#","office":"af-kabul""#).as_bytes(), now()).unwrap();
    assert_eq!(decoded.items, []);
    assert_eq!(decoded.errors[0].field, "alerts[0].labels.office");
    assert!(decoded.errors[0].description.contains("\"af-kabul\""));
    let decoded = alertmanager::decode(&am, body("").as_bytes(), now()).unwrap();
    assert_eq!(decoded.errors[0].field, "alerts[0].labels.office");
}

#[test]
fn invalid_entries_are_named_and_the_valid_ones_kept() {
    let am = integration(IntegrationKind::AlertmanagerWebhook);
    let body = br#"{"version":"4","alerts":[
        {"status":"firing","fingerprint":"a","labels":{"alertname":"Fine"}},
        {"status":"firing","fingerprint":"b","labels":{"alertname":"Bad","country":"Narnia"}},
        {"status":"pending","fingerprint":"c","labels":{"alertname":"Odd"}}
    ]}"#;
    let decoded = alertmanager::decode(&am, body, now()).unwrap();
    assert_eq!(triggers(&decoded).len(), 1);
    let fields: Vec<&str> = decoded
        .errors
        .iter()
        .map(|error| error.field.as_str())
        .collect();
    assert_eq!(fields, ["alerts[1].labels.country", "alerts[2].status"]);
}

#[test]
fn too_many_labels_are_refused_and_long_texts_cut() {
    let am = integration(IntegrationKind::AlertmanagerWebhook);
    let labels: Vec<String> = (0..40).map(|index| format!(r#""l{index}":"v""#)).collect();
    let body = format!(
        r#"{{"alerts":[{{"status":"firing","fingerprint":"a","labels":{{{}}}}}]}}"#,
        labels.join(",")
    );
    let decoded = alertmanager::decode(&am, body.as_bytes(), now()).unwrap();
    assert_eq!(decoded.errors[0].field, "alerts[0].labels");
    let summary = "x".repeat(5_000);
    let body = format!(
        r#"{{"alerts":[{{"status":"firing","fingerprint":"a","labels":{{"alertname":"A"}},"annotations":{{"summary":"{summary}\u0007"}}}}]}}"#
    );
    let decoded = alertmanager::decode(&am, body.as_bytes(), now()).unwrap();
    let title = &triggers(&decoded)[0].title;
    assert_eq!(title.chars().count(), 200);
    assert!(title.ends_with('…'));
}

#[test]
fn malformed_and_oversized_bodies_are_refused() {
    let am = integration(IntegrationKind::AlertmanagerWebhook);
    assert_eq!(
        alertmanager::decode(&am, b"not json", now())
            .unwrap_err()
            .field,
        "body"
    );
    assert_eq!(
        alertmanager::decode(&am, b"{}", now()).unwrap_err().field,
        "alerts"
    );
    assert_eq!(
        alertmanager::decode(&am, b"[]", now()).unwrap_err().field,
        "alerts"
    );
    let prometheus = integration(IntegrationKind::AlertmanagerApiV2);
    assert_eq!(
        prometheus::decode(&prometheus, b"{}", now())
            .unwrap_err()
            .field,
        "body"
    );
    assert!(pagerduty::parse(b"[1,2]").is_err());
    let many = format!(
        "[{}]",
        vec![r#"{"labels":{"a":"b"}}"#; MAX_ITEMS + 1].join(",")
    );
    let decoded = prometheus::decode(&prometheus, many.as_bytes(), now()).unwrap();
    assert_eq!(decoded.items, []);
    assert!(decoded.errors[0].description.contains("at most 1000"));
}

#[test]
fn only_http_links_are_kept() {
    assert_eq!(
        safe_link("https://grafana.example/d/1"),
        Some("https://grafana.example/d/1")
    );
    assert_eq!(safe_link("javascript:alert(1)"), None);
    assert_eq!(safe_link("data:text/html,<b>"), None);
    assert_eq!(safe_link("/relative"), None);
    let am = integration(IntegrationKind::AlertmanagerWebhook);
    let body = br#"{"alerts":[{"status":"firing","fingerprint":"a","labels":{"alertname":"A"},"generatorURL":"javascript:alert(1)"}]}"#;
    let decoded = alertmanager::decode(&am, body, now()).unwrap();
    assert_eq!(triggers(&decoded)[0].origin.as_ref().unwrap().link, "");
}

#[test]
fn long_sender_keys_keep_a_stable_identity() {
    let key = "k".repeat(300);
    let first = dedup_key("monitoring", &key);
    assert!(first.chars().count() <= crate::validate::limits::DEDUP_KEY_CHARS);
    assert_eq!(first, dedup_key("monitoring", &key));
    assert_ne!(first, dedup_key("monitoring", &"k".repeat(301)));
}

proptest::proptest! {
    #[test]
    fn no_body_makes_a_decoder_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let am = integration(IntegrationKind::AlertmanagerWebhook);
        let _ = alertmanager::decode(&am, &body, now());
        let _ = prometheus::decode(&integration(IntegrationKind::AlertmanagerApiV2), &body, now());
        if let Ok(event) = pagerduty::parse(&body) {
            let _ = event.item(&integration(IntegrationKind::PagerDutyEventsV2), "g".into(), now());
        }
    }
}
