//! Duty officers act on alerts through the gRPC console API and the CLI; every action stops
//! or closes the escalation and the timeline names the actor and channel; offices may read
//! only their own alerts and act on none; WatchAlerts streams the changes in order.

use std::process::Command;
use std::time::Duration;

use tonic::Code;
use wk_e2e::app::{
    OFFICE, OFFICER, OFFICER_TOKEN, OTHER_TOKEN, RSO, Stack, TOKEN, alert, authorized, binary,
    officer_action, two_step_chain,
};
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry::Event;

const DEADLINE: Duration = Duration::from_secs(60);

async fn cli(stack: &Stack, args: &[&str]) -> serde_json::Value {
    let endpoint = stack.app.endpoint();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    let mut command = Command::new(binary());
    command
        .args(["--server", &endpoint, "--json"])
        .args(&args)
        .env("WATCHKEEPER_TOKEN", OFFICER_TOKEN);
    serde_json::from_slice(&wk_e2e::run_ok_async(command).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_acknowledges_annotates_shows_and_lists() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let alert_id = stack.submit("Ack from the CLI", "cli-ack-1").await;
    stack
        .expect_webhooks(&stack.manila, &alert_id, 1, DEADLINE)
        .await;
    stack.state_when(&alert_id, |_| true).await;

    let acked = cli(&stack, &["ack", &alert_id]).await;
    assert_eq!(acked["alert_id"], alert_id.as_str());
    assert!(acked["already_acknowledged_by"].is_null());
    cli(
        &stack,
        &["note", &alert_id, "Called the office: staff safe"],
    )
    .await;

    // Escalation stopped: a later alert's second step comes, this one's does not.
    let marker = stack.submit("Marker", "cli-marker-1").await;
    stack.expect_emails(RSO, 1, DEADLINE).await;
    assert!(stack.smtp.emails_to(RSO)[0].subject.contains("Marker"));

    let again = cli(&stack, &["ack", &alert_id]).await;
    assert_eq!(again["already_acknowledged_by"]["actor"], OFFICER);
    assert_eq!(again["already_acknowledged_by"]["channel"], "cli");

    let shown = cli(&stack, &["show", &alert_id]).await;
    assert_eq!(shown["status"], "acknowledged");
    let events: Vec<(String, String)> = shown["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["event"].as_str().unwrap().to_owned(),
                entry["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        events.contains(&("acknowledged".into(), format!("{OFFICER} via cli"))),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(kind, detail)| kind == "note"
                && detail.ends_with("Called the office: staff safe")),
        "{events:?}"
    );

    stack.state_when(&marker, |_| true).await;
    let listed = cli(&stack, &["list", "--status", "acknowledged"]).await;
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [alert_id.as_str()]);
    let everything = cli(&stack, &["list"]).await;
    assert_eq!(everything.as_array().unwrap().len(), 2);
}

/// The resolved `alert_id` (dedup key `dedup_key`) submitted again: incident 2 opens and its
/// first step reaches Manila under incident 2's ids.
async fn repeat_opens_incident_two(stack: &Stack, alert_id: &str, dedup_key: &str) {
    let again = stack.submit("Flooded road", dedup_key).await;
    assert_eq!(again, alert_id);
    let reopened = stack.state_when(alert_id, |s| s.incident == 2).await;
    assert_eq!(reopened.status, pb::AlertStatus::Open as i32);
    stack
        .app
        .expect(DEADLINE, "incident 2 never notified", || {
            stack.manila.received_for(alert_id).iter().any(|w| {
                w.header("idempotency-key")
                    .starts_with(&format!("{alert_id}.i2.r0.s0."))
            })
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_closes_and_a_new_trigger_opens_a_new_incident() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let alert_id = stack.submit("Flooded road", "flood-1").await;
    stack.state_when(&alert_id, |_| true).await;
    let mut console = stack.app.console().await;
    console.resolve(officer_action(&alert_id)).await.unwrap();
    let resolved = stack
        .state_when(&alert_id, |s| s.status == pb::AlertStatus::Resolved as i32)
        .await;
    assert_eq!(resolved.status_by.unwrap().actor, OFFICER);

    repeat_opens_incident_two(&stack, &alert_id, "flood-1").await;
}

/// A resolved alert with every notification delivered is let go by the dispatcher restarted
/// after a `kill -9` (it keeps only where the broker holds its state): a note on it is read
/// back from the broker into its timeline, and a repeat opens incident 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_alert_let_go_after_a_restart_takes_a_note_and_a_repeat() {
    let mut stack = Stack::with_policy(1, two_step_chain()).await;
    let alert_id = stack.submit("Flooded road", "let-go-1").await;
    stack.state_when(&alert_id, |_| true).await;
    let mut console = stack.app.console().await;
    console.resolve(officer_action(&alert_id)).await.unwrap();
    let delivered = pb::DeliveryStatus::Delivered as i32;
    stack
        .state_when(&alert_id, |s| {
            s.status == pb::AlertStatus::Resolved as i32
                && s.notifications.iter().all(|n| n.status == delivered)
        })
        .await;
    stack.app.restart();
    // Restored, the resolved escalation is let go (the gauges are written every 5 s).
    let metrics = format!("http://127.0.0.1:{}/metrics", stack.settings.telemetry_port);
    let mut held = String::new();
    for _ in 0..360 {
        if let Ok(response) = reqwest::get(&metrics).await
            && let Ok(text) = response.text().await
        {
            held = text
                .lines()
                .filter(|line| line.starts_with("watchkeeper_machines_held"))
                .collect::<Vec<_>>()
                .join("\n");
            if held.contains("watchkeeper_machines_held{form=\"away\"} 1") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        held.contains("watchkeeper_machines_held{form=\"away\"} 1"),
        "never let go after the restart: {held}\n{}",
        stack.app.log()
    );

    let mut console = stack.app.console().await;
    console
        .add_note(authorized(
            pb::AddNoteRequest {
                alert_id: alert_id.clone(),
                text: "Road reopened; the office confirms".into(),
            },
            OFFICER_TOKEN,
        ))
        .await
        .expect("a note on a resolved alert");
    let noted = stack
        .state_when(&alert_id, |s| {
            s.timeline.iter().any(|entry| {
                matches!(&entry.event, Some(Event::Note(note))
                    if note.text.starts_with("Road reopened"))
            })
        })
        .await;
    assert_eq!(noted.incident, 1);
    assert!(
        noted
            .timeline
            .iter()
            .any(|entry| matches!(entry.event, Some(Event::Resolved(_)))),
        "the note follows the timeline read back"
    );
    assert_eq!(noted.status, pb::AlertStatus::Resolved as i32);

    repeat_opens_incident_two(&stack, &alert_id, "let-go-1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_who_may_act_and_read() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let alert_id = stack.submit("Ours", "roles-1").await;
    stack.state_when(&alert_id, |_| true).await;
    let mut console = stack.app.console().await;
    let action = || pb::AlertActionRequest {
        alert_id: alert_id.clone(),
    };

    for token in [TOKEN, OTHER_TOKEN] {
        let status = console
            .acknowledge(authorized(action(), token))
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "office token acknowledged"
        );
    }
    let get = |token: &'static str| {
        let mut console = console.clone();
        let alert_id = alert_id.clone();
        async move {
            console
                .get_alert(authorized(pb::GetAlertRequest { alert_id }, token))
                .await
        }
    };
    assert_eq!(
        get(TOKEN)
            .await
            .unwrap()
            .into_inner()
            .state
            .unwrap()
            .alert
            .unwrap()
            .office_id,
        OFFICE
    );
    // Another office's alert is not found, exactly like an unknown one (no oracle).
    assert_eq!(get(OTHER_TOKEN).await.unwrap_err().code(), Code::NotFound);
    let listed = console
        .list_alerts(authorized(pb::ListAlertsRequest::default(), OTHER_TOKEN))
        .await
        .unwrap()
        .into_inner()
        .alerts;
    assert!(listed.is_empty(), "another office listed our alert");

    for (alert_id, code) in [
        ("0196a9f2-0000-7000-8000-000000000000", Code::NotFound),
        ("not-an-id", Code::InvalidArgument),
    ] {
        let request = pb::AlertActionRequest {
            alert_id: alert_id.into(),
        };
        let status = console
            .acknowledge(authorized(request, OFFICER_TOKEN))
            .await
            .unwrap_err();
        assert_eq!(status.code(), code, "{alert_id}: {status:?}");
    }

    let mut ingest = stack.app.client().await;
    let status = ingest
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(alert("Officer", "o-1")),
            },
            OFFICER_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_the_raise_the_ack_and_the_resolution_in_order() {
    let stack = Stack::with_policy(1, two_step_chain()).await;
    let mut console = stack.app.console().await;
    let mut stream = console
        .watch_alerts(authorized(pb::WatchAlertsRequest {}, OFFICER_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let alert_id = stack.submit("Watch me", "watch-1").await;
    stack.state_when(&alert_id, |_| true).await;
    console
        .acknowledge(officer_action(&alert_id))
        .await
        .unwrap();
    stack
        .state_when(&alert_id, |s| {
            s.status == pb::AlertStatus::Acknowledged as i32
        })
        .await;
    console.resolve(officer_action(&alert_id)).await.unwrap();

    let mut statuses: Vec<i32> = Vec::new();
    let collected = tokio::time::timeout(DEADLINE, async {
        while let Some(change) = stream.message().await.unwrap() {
            let state = change.state.unwrap();
            if state.alert_id == alert_id && statuses.last() != Some(&state.status) {
                statuses.push(state.status);
            }
            if state.status == pb::AlertStatus::Resolved as i32 {
                break;
            }
        }
    })
    .await;
    assert!(
        collected.is_ok(),
        "the stream stopped before the resolution: {statuses:?}"
    );
    assert_eq!(
        statuses,
        [
            pb::AlertStatus::Open as i32,
            pb::AlertStatus::Acknowledged as i32,
            pb::AlertStatus::Resolved as i32
        ]
    );
    let state = stack
        .state_when(&alert_id, |s| s.status == pb::AlertStatus::Resolved as i32)
        .await;
    let kinds: Vec<&str> = state
        .timeline
        .iter()
        .filter_map(|entry| match entry.event {
            Some(Event::Acknowledged(_)) => Some("acknowledged"),
            Some(Event::Resolved(_)) => Some("resolved"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["acknowledged", "resolved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_alert_the_read_view_let_go_of_is_still_found_by_id() {
    // The view keeps one resolved alert in memory and the place of one let go: resolving a
    // second lets go of the first, a third drops the first's place.
    let env = ["VIEW_MAX_RESOLVED", "VIEW_MAX_LOCATED"]
        .map(|name| (format!("WATCHKEEPER__API__{name}"), "1".to_owned()))
        .to_vec();
    let stack = Stack::with_env(2, two_step_chain(), env).await;
    let mut console = stack.app.console().await;
    let mut ids = Vec::new();
    for key in ["river-1", "river-2", "river-3"] {
        let id = stack.submit("River rising at the bridge", key).await;
        stack.state_when(&id, |_| true).await;
        console.resolve(officer_action(&id)).await.unwrap();
        stack
            .state_when(&id, |s| s.status == pb::AlertStatus::Resolved as i32)
            .await;
        ids.push(id);
    }
    // Listed: only what is in memory (the third); the second is read back from its place on
    // the topic, the first found by a search of the topic's two partitions.
    let listed = console
        .list_alerts(authorized(pb::ListAlertsRequest::default(), OFFICER_TOKEN))
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<&str> = listed.alerts.iter().map(|a| a.alert_id.as_str()).collect();
    assert_eq!(listed, [ids[2].as_str()]);
    for id in &ids[..2] {
        let state = stack
            .state_when(id, |s| s.status == pb::AlertStatus::Resolved as i32)
            .await;
        assert_eq!(state.status_by.unwrap().actor, OFFICER);
    }
    let metrics = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        stack.settings.telemetry_port
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        metrics.contains("watchkeeper_view_alerts{held=\"state-topic\"} 1")
            && metrics.contains("watchkeeper_view_alerts{held=\"state-topic-unlocated\"} 1"),
        "{metrics}"
    );
    // An officer may still write on the first; an id never raised is not found.
    console
        .add_note(authorized(
            pb::AddNoteRequest {
                alert_id: ids[0].clone(),
                text: "Bridge reopened; closing the file".into(),
            },
            OFFICER_TOKEN,
        ))
        .await
        .expect("a note on an alert found by a search");
    stack
        .state_when(&ids[0], |s| {
            s.timeline.iter().any(|entry| {
                matches!(&entry.event, Some(pb::timeline_entry::Event::Note(note))
                    if note.text.starts_with("Bridge reopened"))
            })
        })
        .await;
    let unknown = console
        .get_alert(authorized(
            pb::GetAlertRequest {
                alert_id: "0196a9f2-0000-7000-8000-000000000000".into(),
            },
            OFFICER_TOKEN,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}
