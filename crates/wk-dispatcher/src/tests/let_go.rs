//! Done escalations are let go (`Store::let_go`): the store keeps only where the changelog
//! holds their state, and a fact about one reads it back first (`Dispatcher::recall`), so a
//! repeat opens its next incident with the whole timeline, exactly as if it had been held.

use wk_bus::codec::OfficerAction;
use wk_bus::state_codec::{State, decode_state};
use wk_core::escalation::{Snapshot, Status};

use super::*;
use crate::held::Subject;
use crate::store::{IDLE_SWEEPS, REST_SWEEPS};

fn at(seconds: i64) -> Timestamp {
    START.saturating_add_millis(seconds * 1000)
}

fn resolve(offset: i64, alert: &Alert, seconds: i64) -> Record {
    action(offset, alert, OfficerAction::Resolve, at(seconds))
}

fn note(offset: i64, alert: &Alert, seconds: i64) -> Record {
    let text = "called the office back".to_owned();
    action(offset, alert, OfficerAction::Note(text), at(seconds))
}

/// Reports every notification sent so far, from the `reported`th on, as delivered.
fn deliver_sent(harness: &Harness, alert: &Alert, reported: &mut usize) {
    let sent = harness.notifier.sent();
    for id in &sent[*reported..] {
        harness
            .reports
            .send(Report {
                partition: 0,
                subject: Subject::Alert(alert.id),
                notification_id: id.clone(),
                outcome: Outcome::Delivered,
            })
            .expect("the loop runs");
    }
    *reported = sent.len();
}

/// The escalation last written under `alert`'s key.
fn last_written(changelog: &FakeChangelog, alert: &Alert) -> Snapshot {
    let payload = changelog.0.lock().unwrap().last[&alert.id.to_string()].clone();
    match decode_state(&payload).expect("decodes") {
        (State::Escalation(snapshot), _) => snapshot,
        _ => panic!("an escalation"),
    }
}

fn reads_at(changelog: &FakeChangelog) -> Vec<(i32, i64)> {
    changelog.0.lock().unwrap().reads_at.clone()
}

/// Long enough for a done escalation to be packed and then let go.
fn until_let_go() -> Duration {
    Duration::from_secs(IDLE_SWEEPS + REST_SWEEPS + 5)
}

/// Raises `alert` at offset 1 and delivers what it sends; resolves it at offset 2, at
/// `resolved_at` seconds, and delivers the office's notice.
async fn raised_and_resolved(harness: &Harness, alert: &Alert, resolved_at: u64) {
    let mut reported = 0;
    harness.send(raised(0, 1, alert));
    wait(Duration::from_secs(1)).await;
    deliver_sent(harness, alert, &mut reported);
    wait(Duration::from_secs(resolved_at.saturating_sub(1))).await;
    harness.send(resolve(2, alert, resolved_at as i64));
    wait(Duration::from_secs(1)).await;
    deliver_sent(harness, alert, &mut reported);
}

/// As `raised_and_resolved` at 60 s, then waits until it is let go.
async fn raised_resolved_and_let_go(harness: &Harness, alert: &Alert) {
    raised_and_resolved(harness, alert, 60).await;
    wait(until_let_go()).await;
}

#[tokio::test(start_paused = true)]
async fn a_repeat_of_an_alert_let_go_opens_incident_two_without_a_read() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    raised_resolved_and_let_go(&harness, &first).await;
    assert!(matches!(
        last_written(&changelog, &first).status,
        Status::Resolved { .. }
    ));
    let sent_before = harness.notifier.sent().len();
    harness.send(raised(0, 3, &first));
    wait(Duration::from_secs(1)).await;
    assert_eq!(
        reads_at(&changelog),
        [],
        "a repeat needs only the incident number"
    );
    let repeated = last_written(&changelog, &first);
    assert_eq!(
        repeated.incident, 2,
        "the next incident, not a fresh first one"
    );
    assert!(matches!(repeated.status, Status::Triggered));
    let sent = harness.notifier.sent();
    assert!(sent.len() > sent_before, "the new incident escalates");
    assert!(
        sent[sent_before..].iter().all(|id| id.contains(".i2.")),
        "under the second incident's ids: {sent:?}"
    );
    assert!(harness.stored().contains(&(0, 3)));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_note_on_an_alert_let_go_reads_its_state_back_and_goes_in_its_timeline() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    raised_resolved_and_let_go(&harness, &first).await;
    let resolved = last_written(&changelog, &first);
    assert_eq!(
        reads_at(&changelog),
        [],
        "nothing read back before a fact about it"
    );
    let written_at = {
        let log = changelog.0.lock().unwrap();
        log.written[&0].last().expect("written").offset
    };
    harness.send(note(3, &first, 700));
    wait(Duration::from_secs(1)).await;
    assert_eq!(
        reads_at(&changelog),
        [(0, written_at)],
        "read back from where its last state was acknowledged"
    );
    let noted = last_written(&changelog, &first);
    assert_eq!(noted.incident, 1);
    assert!(matches!(noted.status, Status::Resolved { .. }));
    assert_eq!(noted.timeline.len(), resolved.timeline.len() + 1);
    assert_eq!(
        noted.timeline[..resolved.timeline.len()],
        resolved.timeline[..],
        "its timeline, with the note after it"
    );
    assert!(harness.stored().contains(&(0, 3)));
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_repeat_within_the_rest_reads_nothing_back() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    raised_and_resolved(&harness, &first, 1).await;
    wait(Duration::from_secs(IDLE_SWEEPS + REST_SWEEPS / 2)).await;
    harness.send(note(3, &first, 400));
    wait(Duration::from_secs(1)).await;
    assert_eq!(reads_at(&changelog), [], "still held, packed");
    harness.send(raised(0, 4, &first));
    wait(Duration::from_secs(1)).await;
    assert_eq!(last_written(&changelog, &first).incident, 2);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_back_is_tried_again_while_other_alerts_escalate_and_the_fact_waits() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    raised_resolved_and_let_go(&harness, &first).await;
    // Another alert, whose step 2 falls due while the read back fails.
    let other = alert("b");
    harness.send(raised(0, 3, &other));
    wait(Duration::from_secs(5 * 60 - 2)).await;
    let sent_before = harness.notifier.sent().len();
    let timeline_before = last_written(&changelog, &first).timeline.len();
    changelog.0.lock().unwrap().failing_reads = 5;
    harness.send(note(4, &first, 1000));
    wait(Duration::from_secs(3)).await;
    assert!(
        reads_at(&changelog).len() >= 3,
        "tried again: {:?}",
        reads_at(&changelog)
    );
    assert!(
        !harness.stored().contains(&(0, 4)),
        "the note is not taken before its alert is back"
    );
    let sent = harness.notifier.sent();
    assert!(
        sent[sent_before..]
            .iter()
            .any(|id| id.contains("webhook-panama")),
        "the other alert's step 2 fired meanwhile: {sent:?}"
    );
    wait(Duration::from_secs(5)).await;
    assert_eq!(reads_at(&changelog).len(), 6, "five failed, the sixth read");
    assert_eq!(
        last_written(&changelog, &first).timeline.len(),
        timeline_before + 1
    );
    assert!(harness.stored().contains(&(0, 4)));
    harness.stop().await;
}

/// A resolved escalation as the changelog holds it: everything delivered, the office told.
pub(super) fn done(first: &Alert) -> Escalation {
    let policy = policy();
    let mut escalation = Escalation::route(first.clone(), &policy, START);
    for _ in 0..3 {
        let open: Vec<String> = escalation
            .deliveries()
            .iter()
            .filter(|record| record.state.is_open())
            .map(|record| record.notification.id.to_string())
            .collect();
        for id in &open {
            escalation.handle_delivery(id, Outcome::Delivered, &policy.directory, at(1));
        }
        if !matches!(escalation.status(), Status::Resolved { .. }) {
            escalation.handle_resolve(officer(), None, &policy.directory, at(2));
        }
    }
    while escalation.poll_action().is_some() {}
    assert!(escalation.is_done());
    escalation
}

/// A dispatcher restored from a changelog holding `first` done, at offset 41, its input
/// offset 2.
async fn restored_done(first: &Alert) -> (FakeChangelog, Escalation, Harness) {
    let changelog = FakeChangelog::default();
    let escalation = done(first);
    let record = encode_escalation(&escalation.snapshot(), 2);
    let record = state_record(0, 41, &first.id.to_string(), &record);
    changelog.0.lock().unwrap().restores.insert(0, vec![record]);
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    wait(Duration::from_secs(1)).await;
    (changelog, escalation, harness)
}

#[tokio::test(start_paused = true)]
async fn a_restored_done_escalation_is_let_go_at_once_and_a_record_re_read_changes_nothing() {
    let first = alert("a");
    let (changelog, _, harness) = restored_done(&first).await;
    // Re-read after the restart: already reflected in the restored state (input offset 2).
    harness.send(raised(0, 1, &first));
    harness.send(resolve(2, &first, 2));
    wait(Duration::from_secs(1)).await;
    assert_eq!(changelog.writes(), 0, "nothing changed");
    assert!(harness.notifier.sent().is_empty(), "nothing sent again");
    assert_eq!(reads_at(&changelog), [], "nothing read back for them");
    assert_eq!(harness.stored(), [(0, 1), (0, 2)]);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_restored_done_escalation_is_read_back_from_its_record_for_a_note() {
    let first = alert("a");
    let (changelog, escalation, harness) = restored_done(&first).await;
    harness.send(note(3, &first, 5));
    wait(Duration::from_secs(1)).await;
    assert_eq!(reads_at(&changelog), [(0, 41)]);
    let noted = last_written(&changelog, &first);
    assert_eq!(
        noted.timeline[..escalation.timeline().len()],
        escalation.timeline()[..]
    );
    assert_eq!(noted.timeline.len(), escalation.timeline().len() + 1);
    harness.send(raised(0, 4, &first));
    wait(Duration::from_secs(1)).await;
    assert_eq!(last_written(&changelog, &first).incident, 2);
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_let_go_alert_whose_record_is_gone_is_taken_as_unknown() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    raised_resolved_and_let_go(&harness, &first).await;
    let writes = changelog.writes();
    changelog.0.lock().unwrap().written.clear();
    harness.send(note(3, &first, 700));
    wait(Duration::from_secs(1)).await;
    assert_eq!(
        reads_at(&changelog).len(),
        1,
        "read once, not waited on forever"
    );
    assert_eq!(
        changelog.writes(),
        writes,
        "a note on an unknown alert changes nothing"
    );
    assert!(harness.stored().contains(&(0, 3)), "the input goes on");
    harness.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_escalation_changed_after_its_partition_was_lost_is_not_let_go() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let first = alert("a");
    raised_and_resolved(&harness, &first, 1).await;
    wait(Duration::from_secs(1)).await;
    harness
        .assignments
        .send(Assignment::Lost(vec![0]))
        .expect("the loop runs");
    // Noted from memory: not written (another member may own the partition now).
    let writes = changelog.writes();
    harness.send(note(3, &first, 3));
    wait(Duration::from_secs(1)).await;
    assert_eq!(changelog.writes(), writes);
    wait(until_let_go()).await;
    // Had it been let go, this note would read back the state without the first one.
    harness.send(note(4, &first, 700));
    wait(Duration::from_secs(1)).await;
    assert_eq!(reads_at(&changelog), []);
    harness.stop().await;
}
