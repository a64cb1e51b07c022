//! Nothing given up while a way remains, nothing swallowed: a console's open circuit parks its
//! notifications until it is back; a refusal on the half-open trial closes the circuit; an
//! office's worsening repeat reaches the consoles; another office's alert is not found, and an
//! office never sees the duty officers' addresses.

use std::time::{Duration, Instant};

use tonic::Code;
use wk_e2e::app::{
    MANILA_DUTY, OFFICE, OTHER_TOKEN, Stack, TOKEN, alert, authorized, chain_policy,
};
use wk_e2e::wait_until;
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry::Event;

const DEADLINE: Duration = Duration::from_secs(60);

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

async fn submit(stack: &Stack, alert: pb::Alert) -> pb::SubmitAlertResponse {
    stack
        .app
        .client()
        .await
        .submit_alert(authorized(
            pb::SubmitAlertRequest { alert: Some(alert) },
            TOKEN,
        ))
        .await
        .unwrap()
        .into_inner()
}

/// The timeline's events for notification ids ending in `suffix`, in order, by kind.
fn events_for(state: &pb::EscalationState, suffix: &str) -> Vec<&'static str> {
    state
        .timeline
        .iter()
        .filter_map(|entry| match &entry.event {
            Some(Event::Parked(parked)) if parked.id.ends_with(suffix) => Some("parked"),
            Some(Event::Delivered(id)) if id.ends_with(suffix) => Some("delivered"),
            Some(Event::GivenUp(given_up)) if given_up.id.ends_with(suffix) => Some("given up"),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worsening_repeat_updates_the_alert_and_reaches_the_console_as_an_emergency() {
    let stack = Stack::start(1).await;
    let mut first = alert("Crowd gathering at the gate", "gate-k");
    first.severity = pb::Severity::Warning as i32;
    let opened = submit(&stack, first.clone()).await;
    assert!(!opened.duplicate);
    let id = opened.alert_id;
    stack.expect_webhooks(&stack.manila, &id, 1, DEADLINE).await;
    stack.state_when(&id, |_| true).await;

    let mut worse = first.clone();
    worse.severity = pb::Severity::Emergency as i32;
    worse.title = "Shots fired, staff trapped".into();
    let answer = submit(&stack, worse.clone()).await;
    assert_eq!(answer.alert_id, id);
    assert!(answer.duplicate && answer.updated, "{answer:?}");
    stack.expect_webhooks(&stack.manila, &id, 2, DEADLINE).await;
    let update = stack.manila.received_for(&id)[1].json();
    assert_eq!(update["type"], "alert.updated");
    assert_eq!(update["alert"]["severity"], "emergency");
    assert_eq!(update["alert"]["title"], "Shots fired, staff trapped");
    assert!(
        update["changes"]
            .as_str()
            .unwrap()
            .contains("severity warning → emergency"),
        "{update}"
    );
    assert!(
        update["delivery_id"].as_str().unwrap().contains(".u1."),
        "{update}"
    );

    let state = stack
        .state_when(&id, |state| {
            state
                .alert
                .as_ref()
                .is_some_and(|alert| alert.severity == pb::Severity::Emergency as i32)
        })
        .await;
    let versions = state
        .timeline
        .iter()
        .find_map(|entry| match &entry.event {
            Some(Event::Updated(updated)) => Some(updated.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        versions.previous.unwrap().title,
        "Crowd gathering at the gate"
    );
    assert_eq!(
        versions.current.unwrap().title,
        "Shots fired, staff trapped"
    );

    // The same again is a plain retry: folded, nobody notified again.
    let again = submit(&stack, worse).await;
    assert!(again.duplicate && !again.updated, "{again:?}");
    let state = stack.state_when(&id, |state| state.occurrences == 3).await;
    assert!(matches!(
        state.timeline.last().and_then(|entry| entry.event.as_ref()),
        Some(Event::Repeated(3))
    ));
    assert_eq!(stack.manila.received_for(&id).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_offices_alert_is_not_found_and_an_office_sees_no_addresses() {
    let stack = Stack::start(1).await;
    let id = submit(&stack, alert("Vehicle checkpoint", "oracle-1"))
        .await
        .alert_id;
    stack
        .state_when(&id, |state| !state.notifications.is_empty())
        .await;
    let mut console = stack.app.console().await;
    let get = |alert_id: &str, token: &str| {
        authorized(
            pb::GetAlertRequest {
                alert_id: alert_id.to_owned(),
            },
            token,
        )
    };
    let existing = console.get_alert(get(&id, OTHER_TOKEN)).await.unwrap_err();
    let unknown_id = wk_core::alert::AlertId::for_dedup_key(OFFICE, "never-sent").to_string();
    let unknown = console
        .get_alert(get(&unknown_id, OTHER_TOKEN))
        .await
        .unwrap_err();
    assert_eq!(existing.code(), Code::NotFound, "{existing:?}");
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert_eq!(
        existing.message().replace(&id, "ID"),
        unknown.message().replace(&unknown_id, "ID")
    );

    let own = console
        .get_alert(get(&id, TOKEN))
        .await
        .unwrap()
        .into_inner()
        .state
        .unwrap();
    let shown = format!("{own:?}");
    assert!(!shown.contains(MANILA_DUTY), "{shown}");
    assert!(!shown.contains('@'), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_on_the_half_open_trial_closes_the_circuit_without_a_restart() {
    let stack = Stack::with_env(
        1,
        String::new(),
        env(&[
            ("WATCHKEEPER__WEBHOOK__CIRCUIT_FAILURES", "2"),
            ("WATCHKEEPER__WEBHOOK__CIRCUIT_OPEN", "3s"),
        ]),
    )
    .await;
    // Manila down: its circuit opens, the alert is parked and fails over to Panama.
    stack.manila.answer_with(503);
    let first = submit(&stack, alert("Before the rotation", "trial-1"))
        .await
        .alert_id;
    stack
        .state_when(&first, |state| {
            events_for(state, ".s0.webhook-manila") == ["parked"]
        })
        .await;
    stack
        .app
        .expect(DEADLINE, "Panama never notified", || {
            !stack.panama.received_for(&first).is_empty()
        })
        .await;
    // A secret rotation gone wrong: Manila answers 404. The half-open trial meets it; the
    // parked notification is given up (it failed over already) and the circuit closes.
    stack.manila.answer_with(404);
    stack
        .state_when(&first, |state| {
            events_for(state, ".s0.webhook-manila") == ["parked", "given up"]
        })
        .await;
    stack.manila.answer_with(200);
    let second = submit(&stack, alert("After the fix", "trial-2"))
        .await
        .alert_id;
    // Closed again, no restart: the next alert goes straight to Manila (no parking, no
    // failover), within one open period (3 s) of its step 1 by the dispatcher's own clock, so
    // a loaded machine's consumer lag does not count.
    let state = stack
        .state_when(&second, |state| {
            events_for(state, ".s0.webhook-manila").contains(&"delivered")
        })
        .await;
    assert_eq!(events_for(&state, ".s0.webhook-manila"), ["delivered"]);
    let at = |wanted: fn(&Event) -> bool| {
        state
            .timeline
            .iter()
            .find(|entry| entry.event.as_ref().is_some_and(wanted))
            .and_then(|entry| entry.at)
            .map(|at| at.seconds * 1000 + i64::from(at.nanos / 1_000_000))
            .unwrap()
    };
    let fired = at(|event| matches!(event, Event::StepFired(_)));
    let delivered =
        at(|event| matches!(event, Event::Delivered(id) if id.ends_with(".s0.webhook-manila")));
    assert!(delivered - fired < 3_000, "{:?}", state.timeline);
    assert!(
        !state
            .timeline
            .iter()
            .any(|entry| matches!(entry.event, Some(Event::FailedOver(_)))),
        "{:?}",
        state.timeline
    );
    assert!(!stack.manila.received_for(&second).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_console_parks_its_notifications_and_every_one_arrives_when_it_is_back() {
    let stack = Stack::with_env(
        1,
        chain_policy("slow", "2s", &["console:panama"], "60s"),
        env(&[("WATCHKEEPER__WEBHOOK__CIRCUIT_OPEN", "2s")]),
    )
    .await;
    // Panama answers after longer than the webhook timeout (2 s): every step-2 webhook times
    // out, the circuit opens, and the notifications are parked, not given up.
    stack.panama.answer_after(Duration::from_secs(3));
    let mut alerts = Vec::new();
    for index in 0..6 {
        let id = submit(
            &stack,
            alert(&format!("Slow Panama {index}"), &format!("slow-{index}")),
        )
        .await
        .alert_id;
        alerts.push(id);
    }
    for id in &alerts {
        stack
            .state_when(id, |state| {
                events_for(state, ".s1.webhook-panama").first() == Some(&"parked")
            })
            .await;
    }
    stack.panama.answer_after(Duration::ZERO);
    let back = Instant::now();
    for id in &alerts {
        let state = stack
            .state_when(id, |state| {
                events_for(state, ".s1.webhook-panama").contains(&"delivered")
            })
            .await;
        assert_eq!(
            events_for(&state, ".s1.webhook-panama"),
            ["parked", "delivered"],
            "{:?}",
            state.timeline
        );
        // It arrived once Panama was back, under its one id.
        let arrivals: Vec<_> = stack
            .panama
            .received_for(id)
            .into_iter()
            .filter(|webhook| {
                webhook
                    .header("Idempotency-Key")
                    .contains(".s1.webhook-panama")
            })
            .collect();
        assert!(arrivals.iter().any(|webhook| webhook.at >= back), "{id}");
        let keys: std::collections::BTreeSet<_> = arrivals
            .iter()
            .map(|webhook| webhook.header("Idempotency-Key"))
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_notification_is_told_to_a_human_not_only_dead_lettered() {
    let stack =
        Stack::with_policy(1, chain_policy("refused", "1s", &["console:panama"], "60s")).await;
    // Panama's console refuses for good at step 2 (a 404: a wrong URL after a migration).
    // The chain has nobody after it, so every console's duty mailbox learns it.
    stack.panama.answer_with(404);
    let id = submit(&stack, alert("Nobody at Panama", "refused-1"))
        .await
        .alert_id;
    let notice = |email: &wk_e2e::smtp::Email| {
        email.subject.contains("COULD NOT REACH console panama") && email.text.contains(&id)
    };
    // Each duty mailbox gets its own message, so each one is waited for: the second can
    // land a moment after the first.
    for mailbox in [MANILA_DUTY, wk_e2e::app::PANAMA_DUTY] {
        assert!(
            wait_until(DEADLINE, || stack
                .smtp
                .emails_to(mailbox)
                .iter()
                .any(notice))
            .await,
            "{mailbox}: {}",
            stack.app.log()
        );
    }
    let state = stack
        .state_when(&id, |state| {
            events_for(state, ".s1.webhook-panama") == ["given up"]
        })
        .await;
    assert!(
        state.notifications.iter().any(|notification| notification
            .id
            .contains(".s1.webhook-panama.undeliverable.")),
        "{:?}",
        state.notifications
    );
}
