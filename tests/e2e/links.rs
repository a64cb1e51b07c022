//! Acting from an email's one-click link (confirmation page, then a posted button) and from a
//! console's signed callback; forged, altered and expired links and badly signed callbacks are
//! refused and change nothing, and a replayed link or callback is recorded only once.

use std::time::{Duration, SystemTime};

use wk_core::Timestamp;
use wk_core::alert::AlertId;
use wk_core::links::LinkAction;
use wk_e2e::app::{LINKS_SECRET, MANILA_DUTY, MANILA_SECRET, RSO, Stack, two_step_chain};
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry::Event;

const DEADLINE: Duration = Duration::from_secs(60);

fn acknowledged_by(state: &pb::EscalationState) -> Option<pb::Responder> {
    state.timeline.iter().find_map(|entry| match &entry.event {
        Some(Event::Acknowledged(by)) => Some(by.clone()),
        _ => None,
    })
}

/// Submits `title` under `key` and waits for Manila's duty email; returns the alert id and the
/// email's acknowledge link.
async fn submit_and_take_the_link(stack: &Stack, title: &str, key: &str) -> (String, String) {
    let alert_id = stack.submit(title, key).await;
    stack.expect_emails(MANILA_DUTY, 1, DEADLINE).await;
    let email = &stack.smtp.emails_to(MANILA_DUTY)[0];
    // It leads with severity, title and place, gives times in Manila's zone as well as UTC,
    // and links to the alert in the console.
    assert!(email.text.starts_with("CRITICAL: "), "{}", email.text);
    assert!(email.text.contains(" PST ("), "{}", email.text);
    let console_link = format!(
        "Open in the console: http://127.0.0.1:{}/console/alerts/{alert_id}",
        stack.settings.http_port
    );
    assert!(email.text.contains(&console_link), "{}", email.text);
    let link = email
        .text
        .lines()
        .find_map(|line| line.strip_prefix("Acknowledge (stops the escalation): "))
        .unwrap_or_else(|| panic!("no link in:\n{}", email.text))
        .trim()
        .to_owned();
    (alert_id, link)
}

use wk_e2e::hidden_field as hidden;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_link_acknowledges_after_confirmation_and_bad_links_change_nothing() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let http = reqwest::Client::new();
    let (alert_id, link) = submit_and_take_the_link(&stack, "Ack from the email", "link-1").await;
    let email = &stack.smtp.emails_to(MANILA_DUTY)[0];
    assert!(
        email
            .html
            .contains("Acknowledge (stops the escalation)</a>")
    );

    // Altered or forged links are refused, before and after confirmation.
    // The signature is last: flip its final hex digit.
    let flipped = if link.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{flipped}", &link[..link.len() - 1]);
    let altered = link.replace("/acknowledge?", "/resolve?");
    for bad in [&forged, &altered] {
        let response = http.get(bad).send().await.unwrap();
        assert_eq!(response.status(), 403, "{bad}");
        assert!(response.text().await.unwrap().contains("not valid"));
    }
    let id: AlertId = alert_id.parse().unwrap();
    let past = Timestamp::from_system_time(SystemTime::now() - Duration::from_secs(60));
    let signature = wk_core::links::Link {
        alert: id,
        incident: 1,
        action: LinkAction::Acknowledge,
        recipient: MANILA_DUTY,
        expires: past.as_unix_seconds(),
    }
    .sign(LINKS_SECRET.as_bytes());
    let expired = format!(
        "http://127.0.0.1:{}/a/{alert_id}/acknowledge?i=1&r={}&e={}&s={signature}",
        stack.settings.http_port,
        MANILA_DUTY.replace('@', "%40"),
        past.as_unix_seconds()
    );
    let response = http.get(&expired).send().await.unwrap();
    assert_eq!(response.status(), 410);
    assert!(response.text().await.unwrap().contains("expired"));
    // A truncated link (a mail client cut it) gets the same clear page as a forged one.
    let truncated = &link[..link.find("&s=").unwrap()];
    let response = http.get(truncated).send().await.unwrap();
    assert_eq!(response.status(), 403, "{truncated}");
    assert!(response.text().await.unwrap().contains("not valid"));

    // A prefetch (GET) only shows the confirmation page (with the alert, once the api's view
    // has it: a moment after the email).
    stack.state_when(&alert_id, |_| true).await;
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("<form method=\"post\""), "{page}");
    // It says what the officer acts on, and reads on a phone.
    assert!(page.contains("Ack from the email"), "{page}");
    assert!(page.contains("open, not acknowledged"), "{page}");
    assert!(page.contains("name=\"viewport\""), "{page}");
    // Styled by the console's stylesheet (no inline style under the CSP), with a way there.
    assert!(
        page.contains("console/static/console.css") && !page.contains("style="),
        "{page}"
    );
    assert!(page.contains("Open the operations console"), "{page}");
    let state = stack.state_when(&alert_id, |_| true).await;
    assert_eq!(state.status, pb::AlertStatus::Open as i32, "a GET acted");

    // The button posts the page's fields.
    let action = format!(
        "http://127.0.0.1:{}/a/{alert_id}/acknowledge",
        stack.settings.http_port
    );
    let form = [
        ("i", hidden(&page, "i")),
        ("r", hidden(&page, "r")),
        ("e", hidden(&page, "e")),
        ("s", hidden(&page, "s")),
    ];
    let forged_form = [
        ("i", hidden(&page, "i")),
        ("r", hidden(&page, "r")),
        ("e", hidden(&page, "e")),
        ("s", "00".repeat(32)),
    ];
    assert_eq!(
        http.post(&action)
            .form(&forged_form)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let done = http.post(&action).form(&form).send().await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("acknowledged"));

    let state = stack
        .state_when(&alert_id, |s| {
            s.status == pb::AlertStatus::Acknowledged as i32
        })
        .await;
    let by = acknowledged_by(&state).unwrap();
    assert_eq!(
        (by.actor.as_str(), by.channel.as_str()),
        (MANILA_DUTY, "email-link")
    );

    // Opened again, the link says who acknowledged it instead of offering the button.
    let reopened = http.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(reopened.contains("already acknowledged by"), "{reopened}");
    assert!(!reopened.contains("<form"), "{reopened}");

    // The same link posted again (a replay, or a second click) changes nothing twice.
    let again = http.post(&action).form(&form).send().await.unwrap();
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("already acknowledged"));

    // And the escalation stopped: a later alert's second step comes, this one's does not.
    stack
        .expect_only_a_later_alert_escalates("link-marker", DEADLINE)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_console_callback_acknowledges_and_bad_signatures_are_refused() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let http = reqwest::Client::new();
    let alert_id = stack.submit("Ack from the console", "callback-1").await;
    stack.state_when(&alert_id, |_| true).await;
    let url = |console: &str| {
        format!(
            "http://127.0.0.1:{}/callbacks/{console}",
            stack.settings.http_port
        )
    };
    let body =
        serde_json::json!({"alert_id": alert_id, "incident": 1, "action": "acknowledge", "actor": "Duty desk"})
            .to_string();
    let now = Timestamp::from_system_time(SystemTime::now());
    let signed =
        |secret: &str, at: Timestamp| wk_core::signing::sign(&[secret], at, body.as_bytes());
    let post = |url: String, signature: String| {
        http.post(url)
            .header("content-type", "application/json")
            .header("Watchkeeper-Signature", signature)
            .body(body.clone())
            .send()
    };

    assert_eq!(
        post(url("manila"), signed("not-the-secret-at-all", now))
            .await
            .unwrap()
            .status(),
        401
    );
    let stale = now.saturating_add_millis(-600_000);
    assert_eq!(
        post(url("manila"), signed(MANILA_SECRET, stale))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        post(url("lima"), signed(MANILA_SECRET, now))
            .await
            .unwrap()
            .status(),
        404
    );
    let state = stack.state_when(&alert_id, |_| true).await;
    assert_eq!(
        state.status,
        pb::AlertStatus::Open as i32,
        "a refused callback acted"
    );

    let response = post(url("manila"), signed(MANILA_SECRET, now))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let state = stack
        .state_when(&alert_id, |s| {
            s.status == pb::AlertStatus::Acknowledged as i32
        })
        .await;
    let by = acknowledged_by(&state).unwrap();
    assert_eq!(
        (by.actor.as_str(), by.channel.as_str()),
        ("manila/Duty desk", "console-callback")
    );

    // The same signed callback replayed within the tolerance: answered, recorded once.
    let replay = post(url("manila"), signed(MANILA_SECRET, now))
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);
    let replay: serde_json::Value = serde_json::from_str(&replay.text().await.unwrap()).unwrap();
    assert_eq!(
        replay["already_acknowledged_by"]["actor"],
        "manila/Duty desk"
    );
    let state = stack.state_when(&alert_id, |_| true).await;
    let acks = state
        .timeline
        .iter()
        .filter(|entry| matches!(entry.event, Some(Event::Acknowledged(_))))
        .count();
    assert_eq!(acks, 1, "{:?}", state.timeline);

    stack
        .expect_only_a_later_alert_escalates("callback-marker", DEADLINE)
        .await;
}

/// The incident an acknowledgement was issued for: a console callback captured for incident
/// 1 and replayed within its 5-minute window, and yesterday's email link, are refused once the
/// alert was resolved and raised again (incident 2), and incident 2 keeps escalating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_callback_or_an_old_link_cannot_acknowledge_a_later_incident() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let http = reqwest::Client::new();
    let (alert_id, old_link) =
        submit_and_take_the_link(&stack, "Incident one", "incident-bound").await;
    assert!(old_link.contains("i=1"), "{old_link}");
    // The webhook says which incident it is about; the console answers with it.
    let webhook = stack.manila.received_for(&alert_id)[0].json();
    assert_eq!(webhook["incident"], 1);
    let body = serde_json::json!({
        "alert_id": alert_id, "incident": 1, "action": "acknowledge", "actor": "Duty desk"
    })
    .to_string();
    let signature = wk_core::signing::sign(
        &[MANILA_SECRET],
        Timestamp::from_system_time(SystemTime::now()),
        body.as_bytes(),
    );

    // Incident 1 is resolved, and the office raises the same key again: incident 2.
    let mut console = stack.app.console().await;
    console
        .resolve(wk_e2e::app::authorized(
            pb::AlertActionRequest {
                alert_id: alert_id.clone(),
            },
            wk_e2e::app::OFFICER_TOKEN,
        ))
        .await
        .unwrap();
    stack
        .state_when(&alert_id, |s| s.status == pb::AlertStatus::Resolved as i32)
        .await;
    assert_eq!(
        stack.submit("Incident two", "incident-bound").await,
        alert_id
    );
    stack.state_when(&alert_id, |s| s.incident == 2).await;

    let replay = http
        .post(format!(
            "http://127.0.0.1:{}/callbacks/manila",
            stack.settings.http_port
        ))
        .header("content-type", "application/json")
        .header("Watchkeeper-Signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 409);
    assert!(replay.text().await.unwrap().contains("incident 1"));
    let page = http.get(&old_link).send().await.unwrap();
    assert_eq!(page.status(), 409);
    assert!(page.text().await.unwrap().contains("earlier incident"));

    // Nothing acknowledged incident 2: its second step still comes.
    stack
        .app
        .expect(DEADLINE, "RSO never emailed", || {
            stack
                .smtp
                .emails_to(RSO)
                .iter()
                .any(|email| email.subject.contains("Incident two"))
        })
        .await;
    let state = stack.state_when(&alert_id, |_| true).await;
    assert_eq!(state.incident, 2);
    assert_eq!(state.status, pb::AlertStatus::Open as i32);
    assert!(acknowledged_by(&state).is_none(), "{:?}", state.timeline);
}
