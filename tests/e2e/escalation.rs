//! Escalation chains on real components: steps fire in order at their times; an
//! acknowledgement stops them; a console that cannot be reached fails over to Panama at once;
//! follow-the-sun schedules reach Manila's or Panama's on-call officer; a dispatcher killed
//! with -9 mid-chain resumes where it was.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use wk_core::alert::AlertId;
use wk_e2e::app::{HQ, MANILA_DUTY, OFFICE, OFFICER, RSO, Stack, chain, officer_action};
use wk_e2e::wait_until;
use wk_proto::v1 as pb;

const DEADLINE: Duration = Duration::from_secs(60);
/// A three-step chain: the Manila console, then the regional security officer, then
/// headquarters, waiting `timeouts` between them.
fn three_steps(timeouts: [&str; 3]) -> String {
    let [first, second, third] = timeouts;
    chain(
        "fast",
        &[
            (first, &["console:manila"]),
            (second, &["person:rso"]),
            (third, &["person:hq"]),
        ],
    )
}

fn gap(earlier: SystemTime, later: SystemTime) -> Duration {
    later.duration_since(earlier).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_ack_each_step_fires_in_order_at_its_time() {
    let stack = Stack::with_policy(1, three_steps(["2s", "2s", "60s"])).await;
    let alert_id = stack.submit("Convoy overdue", "convoy-1").await;
    let all_steps = wait_until(DEADLINE, || stack.smtp.emails_to(HQ).len() == 1).await;
    assert!(all_steps, "{}", stack.app.log());

    let manila = stack.smtp.emails_to(MANILA_DUTY);
    let rso = stack.smtp.emails_to(RSO);
    let hq = stack.smtp.emails_to(HQ);
    assert_eq!((manila.len(), rso.len(), hq.len()), (1, 1, 1));
    assert_eq!(stack.manila.received_for(&alert_id).len(), 1);
    // Each step waited for its timeout (2 s) after the previous one.
    assert!(gap(manila[0].received, rso[0].received) >= Duration::from_millis(1_500));
    assert!(gap(rso[0].received, hq[0].received) >= Duration::from_millis(1_500));
    assert!(
        rso[0]
            .subject
            .ends_with("— not acknowledged: escalation step 2 (round 1)"),
        "{}",
        rso[0].subject
    );
    assert!(
        hq[0]
            .subject
            .ends_with("— not acknowledged: escalation step 3 (round 1)"),
        "{}",
        hq[0].subject
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_after_the_first_step_stops_the_chain() {
    let stack = Stack::with_policy(1, three_steps(["3s", "3s", "60s"])).await;
    let alert_id = stack.submit("Ack me", "ack-1").await;
    stack
        .expect_webhooks(&stack.manila, &alert_id, 1, DEADLINE)
        .await;

    let mut console = stack.app.console().await;
    console
        .acknowledge(officer_action(&alert_id))
        .await
        .unwrap();

    // A later alert on the same (single) partition and chain: once its second step has fired,
    // the first alert's second step would have fired too, had the ack not stopped it.
    let marker = stack.submit("Marker", "marker-1").await;
    stack
        .app
        .expect(DEADLINE, "RSO never emailed", || {
            !stack.smtp.emails_to(RSO).is_empty()
        })
        .await;
    let subjects: Vec<String> = stack
        .smtp
        .emails_to(RSO)
        .into_iter()
        .map(|email| email.subject)
        .collect();
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert!(
        subjects[0].contains("Marker"),
        "the acknowledged alert escalated: {subjects:?}"
    );
    assert_eq!(stack.manila.received_for(&alert_id).len(), 1);
    assert_eq!(stack.manila.received_for(&marker).len(), 1);

    let state = stack
        .state_when(&alert_id, |state| {
            state.status == pb::AlertStatus::Acknowledged as i32
        })
        .await;
    let acknowledged = state.timeline.iter().find_map(|entry| match &entry.event {
        Some(pb::timeline_entry::Event::Acknowledged(by)) => Some(by.clone()),
        _ => None,
    });
    let by = acknowledged.expect("the timeline records the acknowledgement");
    assert_eq!((by.actor.as_str(), by.channel.as_str()), (OFFICER, "api"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manila_unreachable_fails_over_to_panama_at_once() {
    // A long first step: Panama must be reached by failover, not by escalation.
    let stack = Stack::with_policy(1, three_steps(["120s", "120s", "120s"])).await;
    stack.manila.answer_with(503);
    let alert_id = stack.submit("Manila down", "down-1").await;
    let reached = wait_until(DEADLINE, || stack.panama.received_for(&alert_id).len() == 1).await;
    assert!(reached, "{}", stack.app.log());
    let webhook = &stack.panama.received_for(&alert_id)[0];
    let body = webhook.json();
    assert_eq!(body["type"], "alert.failover");
    assert_eq!(body["failover_from"], "manila");
    wk_core::signing::verify(
        &webhook.header("watchkeeper-signature"),
        &webhook.body,
        &[wk_e2e::app::PANAMA_SECRET],
        wk_core::Timestamp::from_system_time(SystemTime::now()),
        300,
    )
    .unwrap();
    // Manila was tried its 3 attempts before the failover, all with one idempotency key (and
    // is tried on afterwards, under the same key, since its notification is parked).
    let tried: BTreeSet<String> = stack
        .manila
        .received_for(&alert_id)
        .iter()
        .map(|w| w.header("idempotency-key"))
        .collect();
    assert!(stack.manila.received_for(&alert_id).len() >= 3);
    assert_eq!(tried.len(), 1);

    let events = stack
        .state_when(&alert_id, |state| {
            state
                .timeline
                .iter()
                .any(|e| matches!(&e.event, Some(pb::timeline_entry::Event::FailedOver(_))))
        })
        .await
        .timeline;
    let attempts: Vec<u32> = events
        .iter()
        .filter_map(|e| match &e.event {
            Some(pb::timeline_entry::Event::AttemptFailed(failed)) => Some(failed.attempt),
            _ => None,
        })
        .collect();
    assert_eq!(
        attempts,
        [1, 2],
        "each failed attempt before the last is in the timeline"
    );
    // Not given up: parked, waiting for Manila.
    let parked = events.iter().find_map(|e| match &e.event {
        Some(pb::timeline_entry::Event::Parked(parked)) => Some(parked.clone()),
        _ => None,
    });
    assert!(parked.expect("manila parked").reason.contains("HTTP 503"));
    assert!(
        !events
            .iter()
            .any(|e| matches!(&e.event, Some(pb::timeline_entry::Event::GivenUp(_)))),
        "{events:?}"
    );
    let failed_over = events.iter().find_map(|e| match &e.event {
        Some(pb::timeline_entry::Event::FailedOver(failed_over)) => Some(failed_over.clone()),
        _ => None,
    });
    let failed_over = failed_over.expect("the timeline records the failover");
    assert_eq!(
        (failed_over.from.as_str(), failed_over.to.as_str()),
        ("manila", "panama")
    );
    assert!(failed_over.reason.contains("HTTP 503"));

    // Manila back: its parked notification arrives too, under the same key.
    stack.manila.answer_with(200);
    stack
        .state_when(&alert_id, |state| {
            state.timeline.iter().any(|e| {
                matches!(&e.event, Some(pb::timeline_entry::Event::Delivered(id)) if id.ends_with(".s0.webhook-manila"))
            })
        })
        .await;
}

/// A follow-the-sun schedule whose Manila window contains now (`manila_now`) or not.
fn follow_the_sun(manila_now: bool) -> String {
    let now = jiff::Timestamp::now();
    let manila_hour = now
        .to_zoned(jiff::tz::TimeZone::get("Asia/Manila").unwrap())
        .hour();
    // Manila covers twelve hours starting an hour ago, or the twelve hours after those.
    let start = (i32::from(manila_hour) + 23 + if manila_now { 0 } else { 12 }) % 24;
    let end = (start + 12) % 24;
    // Panama is UTC-5, Manila UTC+8: 13 hours behind; it covers the other twelve.
    let (panama_start, panama_end) = ((end + 11) % 24, (start + 11) % 24);
    format!(
        r#"
[[people]]
id = "manila.officer"
email = "manila.officer@watchkeeper.test"

[[people]]
id = "panama.officer"
email = "panama.officer@watchkeeper.test"

[[schedules]]
id = "centre-duty"
[[schedules.layers]]
name = "manila"
time_zone = "Asia/Manila"
window = "{start:02}:00-{end:02}:00"
people = ["manila.officer"]
handover = "2026-01-05T06:00"
[[schedules.layers]]
name = "panama"
time_zone = "America/Panama"
window = "{panama_start:02}:00-{panama_end:02}:00"
people = ["panama.officer"]
handover = "2026-01-05T06:00"

[[chains]]
id = "centre"
[[chains.steps]]
timeout = "10m"
targets = ["schedule:centre-duty"]

[routing]
default_chain = "centre"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_the_sun_reaches_the_manila_or_panama_officer_on_call() {
    for (manila_now, expected) in [
        (true, "manila.officer@watchkeeper.test"),
        (false, "panama.officer@watchkeeper.test"),
    ] {
        let stack = Stack::with_policy(1, follow_the_sun(manila_now)).await;
        let alert_id = stack.submit("Checkpoint incident", "sun-1").await;
        stack
            .app
            .expect(DEADLINE, "no email", || stack.smtp.emails().len() == 1)
            .await;
        let recipients: Vec<String> = stack
            .smtp
            .emails()
            .into_iter()
            .map(|email| email.envelope_to)
            .collect();
        assert_eq!(
            recipients,
            [expected],
            "alert {alert_id}, manila window holds now: {manila_now}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_mid_chain_resumes_without_skipping_or_new_ids() {
    let mut stack = Stack::with_policy(1, three_steps(["3s", "3s", "120s"])).await;
    let alert_id = stack.submit("Kill me", "kill-1").await;
    let first_step = wait_until(DEADLINE, || {
        stack.manila.received_for(&alert_id).len() == 1
            && stack.smtp.emails_to(MANILA_DUTY).len() == 1
    })
    .await;
    assert!(first_step, "{}", stack.app.log());

    stack.app.kill9();
    assert!(
        stack.smtp.emails_to(RSO).is_empty(),
        "step 2 fired before the kill"
    );
    stack.app.restart();

    let resumed = wait_until(Duration::from_secs(90), || {
        stack.smtp.emails_to(HQ).len() == 1
    })
    .await;
    assert!(resumed, "{}", stack.app.log());
    // No step skipped: step 2 came, then step 3.
    let rso = stack.smtp.emails_to(RSO);
    assert_eq!(rso.len(), 1);
    assert!(rso[0].received <= stack.smtp.emails_to(HQ)[0].received);
    // A repeat of step 1 is allowed only under its original id.
    let ids: BTreeSet<String> = stack
        .manila
        .received_for(&alert_id)
        .iter()
        .map(|w| w.header("idempotency-key"))
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let message_ids: BTreeSet<String> = stack
        .smtp
        .emails_to(MANILA_DUTY)
        .into_iter()
        .map(|email| email.message_id)
        .collect();
    assert_eq!(message_ids.len(), 1, "{message_ids:?}");
    let id = AlertId::for_dedup_key(OFFICE, "kill-1").to_string();
    assert!(
        ids.iter()
            .all(|key| key.starts_with(&format!("{id}.i1.r0.s0."))),
        "{ids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_resume_after_a_clean_restart_with_nothing_left_to_consume() {
    // SIGTERM commits the offsets, so after the restart no record arrives on the partition:
    // its escalations must come back from the changelog on assignment alone.
    let mut stack = Stack::with_policy(1, three_steps(["3s", "60s", "60s"])).await;
    let alert_id = stack.submit("Restart me", "restart-1").await;
    stack
        .expect_webhooks(&stack.manila, &alert_id, 1, DEADLINE)
        .await;
    let status = stack.app.terminate().expect("running");
    assert!(status.success(), "{}", stack.app.log());
    assert!(
        stack
            .app
            .log()
            .contains("dispatcher stopped; offsets committed")
    );
    stack.app.restart();
    stack.expect_emails(RSO, 1, Duration::from_secs(90)).await;
}
