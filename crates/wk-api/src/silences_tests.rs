//! The board's reminders and the list's counts, from a book and the alert view.

use std::sync::Arc;

use super::*;
use wk_core::alert::AlertId;
use wk_core::silence::Matcher;

const HOUR_MS: i64 = 3_600_000;

fn service(book: SilenceBook, alerts: StateView) -> SilenceService {
    let text = r#"
[kafka]
brokers = "127.0.0.1:9"
[consoles.manila]
webhook_url = "http://127.0.0.1:9/hook"
signing_secret = "manila-secret-0123456789"
[smtp]
host = "127.0.0.1"
port = 25
security = "none"
from = "Watchkeeper <alerts@example.org>"
[dispatcher]
console = "manila"
"#;
    let config = Config::from_toml(text, Vec::new()).expect("valid");
    let (_, receiver) = watch::channel(Arc::new(book));
    SilenceService::new(
        &config,
        Authenticator::new(&config.offices, &config.duty_officers),
        Producer::new(&config.kafka).expect("a producer (it connects lazily)"),
        receiver,
        alerts,
    )
}

fn silence(id: &str, from_hours: i64, to_hours: i64) -> Silence {
    let at = now();
    Silence {
        id: id.into(),
        matchers: vec![Matcher::parse(r#"office="ss-juba""#).unwrap()],
        starts_at: at.saturating_add_millis(from_hours * HOUR_MS),
        ends_at: at.saturating_add_millis(to_hours * HOUR_MS),
        created_by: "maria.santos".into(),
        created_at: at.saturating_add_millis(from_hours * HOUR_MS),
        comment: format!("{id} comment"),
        expired: None,
        window: None,
    }
}

fn held_by(view: &StateView, silence: &str, key: &str, seen_hours_ago: i64) {
    let id = AlertId::for_dedup_key("ss-juba", key);
    let seen = timestamp_to_pb(now().saturating_add_millis(-seen_hours_ago * HOUR_MS));
    view.observe(
        id,
        pb::EscalationState {
            alert_id: id.to_string(),
            status: pb::AlertStatus::Open as i32,
            last_seen: Some(seen),
            silence: Some(pb::Silencing {
                silence: silence.into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    );
}

#[tokio::test]
async fn the_board_is_reminded_of_silences_ending_soon_and_of_forgotten_ones() {
    let mut book = SilenceBook::default();
    let mut ending = silence("ending", -2, 1);
    ending.ends_at = now().saturating_add_millis(30 * 60_000);
    book.insert(ending);
    book.insert(silence("forgotten", -30, 20));
    book.insert(silence("busy", -30, 20));
    book.insert(silence("fresh", -1, 20));
    book.insert(silence("later", 2, 20));
    let alerts = StateView::default();
    // It holds an alert last seen two days ago: still in use, not forgotten.
    held_by(&alerts, "busy", "road", 48);
    let service = service(book, alerts);
    let reminders = service.reminders();
    let ids = |views: &[pb::SilenceView]| -> Vec<String> {
        views
            .iter()
            .map(|view| view.silence.as_ref().unwrap().id.clone())
            .collect()
    };
    assert_eq!(ids(&reminders.ending), ["ending"]);
    assert_eq!(ids(&reminders.idle), ["forgotten"]);
    let listed = service.list(false);
    let busy = listed
        .iter()
        .find(|view| view.silence.as_ref().unwrap().id == "busy")
        .unwrap();
    assert_eq!(busy.matching_open, 1);
    assert_eq!(busy.state, "active");
    let later = listed
        .iter()
        .find(|view| view.silence.as_ref().unwrap().id == "later")
        .unwrap();
    assert_eq!(later.state, "pending");
}

#[tokio::test]
async fn a_silence_that_held_an_alert_since_let_go_is_not_taken_for_forgotten() {
    let mut book = SilenceBook::default();
    book.insert(silence("recent", -30, 20));
    book.insert(silence("forgotten", -30, 20));
    // The view keeps no resolved alert: the one "recent" held is let go of at once.
    let alerts = StateView::with_limits(crate::view::Limits {
        max_resolved: 0,
        ..Default::default()
    });
    let id = AlertId::for_dedup_key("ss-juba", "generator");
    let held = timestamp_to_pb(now().saturating_add_millis(-2 * HOUR_MS));
    let state = pb::EscalationState {
        alert_id: id.to_string(),
        status: pb::AlertStatus::Resolved as i32,
        first_seen: Some(held),
        status_at: Some(held),
        timeline: vec![pb::TimelineEntry {
            since_first_seen_ms: None,
            at: Some(held),
            event: Some(pb::timeline_entry::Event::Silenced(pb::Silencing {
                silence: "recent".into(),
                ..Default::default()
            })),
        }],
        ..Default::default()
    };
    alerts.observe_at(id, state, Some((0, 4)), now().as_unix_millis());
    assert_eq!(alerts.sizes().0, 0, "let go of");
    let service = service(book, alerts);
    let idle: Vec<String> = service
        .reminders()
        .idle
        .iter()
        .map(|view| view.silence.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(idle, ["forgotten"]);
}
