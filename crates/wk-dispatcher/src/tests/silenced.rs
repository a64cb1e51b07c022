//! Silences in the loop, on paused time: a silence in the book holds a new alert back; one
//! that arrives mid-chain stops it; its end (by time, or expired early through the book)
//! starts the escalation from its first step at once; and a restored escalation is judged
//! under the silences of now.

use std::sync::Arc;
use std::time::Duration;

use wk_core::Timestamp;
use wk_core::silence::{Expiry, Matcher, Silence, SilenceBook};

use super::*;

fn silence(until: Timestamp) -> Silence {
    Silence {
        id: "s-1".into(),
        matchers: vec![Matcher::parse(r#"office="ng-maiduguri""#).unwrap()],
        starts_at: START,
        ends_at: until,
        created_by: "maria.santos".into(),
        created_at: START,
        comment: "generator test".into(),
        expired: None,
        window: None,
    }
}

fn book(silences: &[Silence]) -> Arc<SilenceBook> {
    let mut book = SilenceBook::default();
    for silence in silences {
        book.insert(silence.clone());
    }
    Arc::new(book)
}

fn minutes(n: i64) -> Timestamp {
    START.saturating_add_millis(n * 60_000)
}

#[tokio::test(start_paused = true)]
async fn a_silenced_alert_is_kept_but_not_sent_and_starts_at_step_one_when_the_silence_ends() {
    let (books, receiver) = tokio::sync::watch::channel(book(&[silence(minutes(30))]));
    let changelog = FakeChangelog::default();
    let harness = Harness::start_with(changelog.clone(), Some(receiver));
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    wait(Duration::from_secs(1)).await;
    assert_eq!(harness.notifier.sent(), Vec::<String>::new(), "held back");
    assert_eq!(
        changelog.writes(),
        1,
        "still written: accepted, stored, shown"
    );
    // Nothing escalates while it lasts; at its end, step one at once.
    wait(Duration::from_secs(29 * 60)).await;
    assert_eq!(harness.notifier.sent(), Vec::<String>::new());
    wait(Duration::from_secs(60)).await;
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].ends_with(".i1.r0.s0.webhook-manila"), "{sent:?}");
    drop(books);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_silence_that_arrives_mid_chain_stops_it_and_its_early_expiry_restarts_it() {
    let (books, receiver) = tokio::sync::watch::channel(book(&[]));
    let harness = Harness::start_with(FakeChangelog::default(), Some(receiver));
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    wait(Duration::from_secs(60)).await;
    assert_eq!(harness.notifier.sent().len(), 1, "step one");
    // Created on the Panama console: it reaches this dispatcher through the book.
    books.send_replace(book(&[silence(minutes(60))]));
    wait(Duration::from_secs(10 * 60)).await;
    assert_eq!(
        harness.notifier.sent().len(),
        1,
        "step two held back at 5 min"
    );
    let mut expired = silence(minutes(11));
    expired.expired = Some(Expiry {
        by: "jose.reyes".into(),
        at: minutes(11),
    });
    books.send_replace(book(&[expired]));
    wait(Duration::from_millis(100)).await;
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].ends_with(".i1.r1.s0.webhook-manila"),
        "from step one, new round: {sent:?}"
    );
    harness.stop().await;
}

fn watch_state(changelog: &FakeChangelog) -> wk_core::watch::Snapshot {
    let log = changelog.0.lock().unwrap();
    let payload = log
        .last
        .get("office:ng-maiduguri")
        .expect("a watch written");
    match wk_bus::state_codec::decode_state(payload).expect("decodes") {
        (wk_bus::state_codec::State::OfficeWatch(snapshot), _) => snapshot,
        (other, _) => panic!("not a watch: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_maintenance_window_pauses_the_office_watch_and_nothing_is_raised_until_it_ends() {
    let (books, receiver) = tokio::sync::watch::channel(book(&[]));
    let changelog = FakeChangelog::default();
    let harness = Harness::start_with(changelog.clone(), Some(receiver));
    harness.assign(&[0]);
    harness.send(check_in(0, 1, START));
    wait(Duration::from_millis(50)).await;
    // A window over the office from 30 min to 3 h: the hourly check-in is not missed.
    let mut window = silence(minutes(180));
    window.id = "w-1".into();
    window.starts_at = minutes(30);
    window.window = Some(wk_core::silence::Window {
        scope: wk_core::silence::Scope::Office("ng-maiduguri".into()),
        recurrence: None,
    });
    books.send_replace(book(&[window]));
    wait(Duration::from_secs(31 * 60)).await;
    let state = watch_state(&changelog);
    assert_eq!(state.status, wk_core::watch::Status::Paused);
    assert_eq!(state.pause.as_ref().unwrap().by.channel, "maintenance");
    wait(Duration::from_secs(120 * 60)).await;
    assert!(
        published(&changelog).is_empty(),
        "no silence alert during the window"
    );
    // The window ends at 3 h: watched again, a full hour from then.
    wait(Duration::from_secs(30 * 60)).await;
    let state = watch_state(&changelog);
    assert_eq!(state.status, wk_core::watch::Status::Up);
    assert_eq!(state.due, Some(minutes(240)));
    harness.stop().await;
}
