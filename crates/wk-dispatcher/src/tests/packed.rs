//! Escalations left alone are held packed (`Store::sweep`): packed, one takes a delivery
//! report and an acknowledgement exactly as the live machine would, and writes the same
//! state; its timer, kept while packed, fires on time.

use wk_bus::codec::OfficerAction;

use super::*;

fn at(seconds: i64) -> Timestamp {
    START.saturating_add_millis(seconds * 1000)
}

#[tokio::test(start_paused = true)]
async fn a_packed_escalation_takes_a_report_and_an_acknowledgement_as_the_live_one_would() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let raised_alert = alert("a");
    harness.send(raised(0, 1, &raised_alert));
    wait(Duration::from_secs(30)).await;
    // Packed by now (untouched for ten sweeps). The same inputs, on the bare machine:
    let policy = policy();
    let mut expected = Escalation::route(raised_alert.clone(), &policy, START);
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    harness
        .reports
        .send(Report {
            partition: 0,
            subject: crate::held::Subject::Alert(raised_alert.id),
            notification_id: sent[0].clone(),
            outcome: Outcome::Delivered,
        })
        .unwrap();
    wait(Duration::from_secs(30)).await;
    expected.handle_delivery(&sent[0], Outcome::Delivered, &policy.directory, at(30));
    let by = officer();
    harness.send(action(2, &raised_alert, OfficerAction::Acknowledge, at(60)));
    wait(Duration::from_secs(30)).await;
    expected.handle_ack(by, None, &policy.directory, at(60));
    let written = changelog.0.lock().unwrap().last[&raised_alert.id.to_string()].clone();
    assert_eq!(
        written,
        encode_escalation(&expected.snapshot(), 2),
        "the state written after the report and the acknowledgement"
    );
    // Acknowledged: step 2 (due at 5 minutes) does not fire (packed again meanwhile).
    wait(Duration::from_secs(10 * 60)).await;
    assert_eq!(harness.notifier.sent().len(), 1);
    assert!(harness.stored().contains(&(0, 2)));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_packed_escalation_fires_its_next_step_on_time() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(raised(0, 1, &alert("a")));
    // Packed after ten seconds; step 2 is due at five minutes.
    wait(Duration::from_secs(5 * 60 - 1)).await;
    assert_eq!(harness.notifier.sent().len(), 1, "not before its time");
    wait(Duration::from_secs(2)).await;
    let sent = harness.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent[1].contains("webhook-panama"), "{sent:?}");
    harness.stop().await;
}
