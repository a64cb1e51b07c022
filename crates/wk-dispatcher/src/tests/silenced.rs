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
