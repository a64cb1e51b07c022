//! Restore reads each partition newest first: the escalations written last are back, and
//! their due timers fire, while the older history is still being read; nothing older read
//! later overrides them, and an open alert deep in that history is restored all the same.

use super::*;

fn at(seconds: i64) -> Timestamp {
    START.saturating_add_millis(seconds * 1000)
}

fn state(offset: i64, escalation: &Escalation, input_offset: i64) -> Record {
    Record {
        partition: 0,
        offset,
        key: Some(escalation.alert().id.to_string().into_bytes()),
        payload: Some(encode_escalation(&escalation.snapshot(), input_offset)),
        trace: Default::default(),
    }
}

/// A changelog whose partition 0 holds `records`, each range of it read in `read_delay`.
fn partition_0(records: Vec<Record>, read_delay: Duration) -> FakeChangelog {
    let changelog = FakeChangelog::default();
    {
        let mut log = changelog.0.lock().unwrap();
        log.restores.insert(0, records);
        log.read_delay = read_delay;
    }
    changelog
}

#[tokio::test(start_paused = true)]
async fn the_newest_escalations_resume_before_the_history_is_read() {
    let policy = policy();
    // "a", written last, opened 4m35s ago: step 2 is due 25 s after the restart, while the
    // second range is read. An older version of it lies deep in the history; so does "b",
    // open, opened a minute ago.
    let a = Escalation::route(alert("a"), &policy, at(-275));
    let a_before = Escalation::route(alert("a"), &policy, at(-3_600));
    let b = Escalation::route(alert("b"), &policy, at(-60));
    // Each range takes 20 s to read: the whole partition, four ranges, 80 s.
    let changelog = partition_0(
        vec![
            state(0, &b, 1),
            state(5, &a_before, 2),
            state(50_000, &a, 3),
        ],
        Duration::from_secs(20),
    );
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    wait(Duration::from_secs(30)).await;
    let sent = harness.notifier.sent();
    let a_step_1 = a.deliveries()[0].notification.id.to_string();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0], a_step_1, "a's pending step 1, sent again");
    assert!(
        sent[1].contains("webhook-panama"),
        "a's step 2, due at 25 s, fired during the second range's read: {sent:?}"
    );
    assert!(!*harness.ready.borrow(), "the history is still being read");

    wait(Duration::from_secs(60)).await;
    assert!(*harness.ready.borrow(), "read to its start");
    let sent = harness.notifier.sent();
    let b_step_1 = b.deliveries()[0].notification.id.to_string();
    assert_eq!(sent.len(), 3, "a's older version changed nothing: {sent:?}");
    assert_eq!(sent[2], b_step_1, "b, met last, is restored all the same");
    let ranges: Vec<std::ops::Range<i64>> = changelog
        .0
        .lock()
        .unwrap()
        .ranges
        .iter()
        .map(|(_, range)| range.clone())
        .collect();
    assert_eq!(
        ranges,
        [47_953..50_001, 39_761..47_953, 6_993..39_761, 0..6_993]
    );

    // b's step 2 at its 5 minutes; a's chain ran out at its 15.
    wait(Duration::from_secs(5 * 60)).await;
    let sent = harness.notifier.sent();
    assert!(
        sent[3..]
            .iter()
            .any(|id| id.contains("webhook-panama") && id.contains(&b.alert().id.to_string())),
        "{sent:?}"
    );
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_record_that_arrives_during_a_restore_waits_for_the_whole_partition() {
    let policy = policy();
    // "a" is open deep in the history; its repeat arrives while the newest range is read.
    let a = Escalation::route(alert("a"), &policy, at(-60));
    let z = Escalation::route(alert("z"), &policy, at(-30));
    let changelog = partition_0(
        vec![state(0, &a, 4), state(9_000, &z, 5)],
        Duration::from_secs(5),
    );
    let harness = Harness::start(changelog.clone());
    harness.send(raised(0, 4, &alert("a")));
    harness.assign(&[0]);
    wait(Duration::from_secs(30)).await;
    // Restored first, the repeat is one already reflected: it raises nothing new.
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "each pending step 1 once: {sent:?}");
    assert!(harness.stored().contains(&(0, 4)));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_report_during_a_restore_is_taken_at_once() {
    let policy = policy();
    // "a" is back from the first range, its step 1 sent again; Manila refuses it for good
    // while the history's second range is read: step 2's targets hear of it then, not
    // once the whole partition is read.
    let a = Escalation::route(alert("a"), &policy, at(-10));
    let b = Escalation::route(alert("b"), &policy, at(-20));
    let changelog = partition_0(
        vec![state(0, &b, 1), state(50_000, &a, 2)],
        Duration::from_secs(20),
    );
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    wait(Duration::from_secs(21)).await;
    let a_step_1 = a.deliveries()[0].notification.id.to_string();
    assert_eq!(harness.notifier.sent(), std::slice::from_ref(&a_step_1));
    harness
        .reports
        .send(Report {
            partition: 0,
            subject: crate::held::Subject::Alert(a.alert().id),
            notification_id: a_step_1,
            outcome: Outcome::GivenUp {
                reason: "410 Gone".into(),
            },
        })
        .unwrap();
    wait(Duration::from_secs(1)).await;
    assert!(!*harness.ready.borrow(), "the history is still being read");
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("webhook-panama"), "{sent:?}");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn while_an_older_range_is_read_again_the_newest_escalations_escalate_on() {
    let policy = policy();
    // "a", written last, opened 4m54.5s ago: step 2 is due 5.5 s after the restart, while
    // the second range's read fails again and again (a second between tries).
    let a = Escalation::route(alert("a"), &policy, START.saturating_add_millis(-294_500));
    let b = Escalation::route(alert("b"), &policy, at(-60));
    let changelog = partition_0(vec![state(0, &b, 1), state(50_000, &a, 3)], Duration::ZERO);
    changelog.0.lock().unwrap().failing_ranges = 10;
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    wait(Duration::from_millis(5_800)).await;
    assert!(!*harness.ready.borrow(), "the history is still being read");
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].contains("webhook-panama"),
        "a's step 2, due at 5.5 s, fired on time, not at the next try: {sent:?}"
    );
    wait(Duration::from_secs(10)).await;
    assert!(*harness.ready.borrow(), "read at last");
    harness.stop().await;
}
