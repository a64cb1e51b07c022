//! Field offices that go silent, on real components: an office with a short schedule stops
//! checking in, its silence alert goes through the chain to the console webhook and the duty
//! mailbox, and its next check-in over HTTP resolves it with the timeline saying so; a
//! dispatcher killed while the office is late raises exactly one alert after its restart.

use std::collections::BTreeSet;
use std::time::Duration;

use wk_e2e::app::{
    MANILA_DUTY, OFFICER, OFFICER_TOKEN, OTHER_TOKEN, Stack, WATCHED_FOCAL, WATCHED_OFFICE,
    WATCHED_TOKEN, authorized, officer_action,
};
use wk_proto::v1 as pb;
use wk_proto::v1::office_watches_client::OfficeWatchesClient;
use wk_proto::v1::timeline_entry::Event;

const DEADLINE: Duration = Duration::from_secs(60);

/// Checks in over HTTP, as a cron job with curl would; returns the HTTP status.
async fn check_in_over_http(stack: &Stack, body: &str) -> u16 {
    check_in_over_http_as(stack, WATCHED_TOKEN, body).await
}

async fn check_in_over_http_as(stack: &Stack, token: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/check-in",
            stack.settings.http_port
        ))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("the api answers")
        .status()
        .as_u16()
}

/// The ids of the silence alerts Manila's console has received for the watched office.
pub(crate) fn silence_alerts(stack: &Stack) -> BTreeSet<String> {
    stack
        .manila
        .received()
        .iter()
        .map(|webhook| webhook.json())
        .filter(|json| {
            json["alert"]["category"] == "office_silent"
                && json["alert"]["office_id"] == WATCHED_OFFICE
        })
        .filter_map(|json| json["alert"]["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_office_is_alerted_through_the_chain_and_its_check_in_resolves_it() {
    let stack = Stack::start(1).await;
    // Bad check-ins are refused: a bad position, an unknown token, a duty officer's token, an
    // office without a schedule (so a misconfigured router notices).
    assert_eq!(check_in_over_http(&stack, r#"{"latitude": 91}"#).await, 400);
    assert_eq!(check_in_over_http_as(&stack, "nobody", "").await, 401);
    assert_eq!(check_in_over_http_as(&stack, OFFICER_TOKEN, "").await, 403);
    assert_eq!(check_in_over_http_as(&stack, OTHER_TOKEN, "").await, 409);
    // Nobody but Watchkeeper raises an "office silent" alert.
    let mut ingest = stack.app.client().await;
    let refused = ingest
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(pb::Alert {
                    office_id: WATCHED_OFFICE.into(),
                    severity: pb::Severity::Critical as i32,
                    category: pb::Category::OfficeSilent as i32,
                    title: "Pretending".into(),
                    country: "ML".into(),
                    place: "Gao".into(),
                    ..Default::default()
                }),
            },
            WATCHED_TOKEN,
        ))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("office_silent"),
        "{}",
        refused.message()
    );
    assert_eq!(
        check_in_over_http(
            &stack,
            r#"{"status": "all well", "latitude": 16.27, "longitude": -0.04}"#
        )
        .await,
        202
    );
    // Every 3 s with 2 s of grace: down about 5 s later, one alert through the chain.
    stack
        .app
        .expect(DEADLINE, "no missed check-in alert", || {
            silence_alerts(&stack).len() == 1
        })
        .await;
    let id = silence_alerts(&stack).into_iter().next().expect("one");
    stack
        .app
        .expect(DEADLINE, "duty officer not emailed", || {
            stack
                .smtp
                .emails_to(MANILA_DUTY)
                .iter()
                .any(|email| email.subject.contains("Office silent"))
        })
        .await;
    let state = stack.state_when(&id, |_| true).await;
    let alert = state.alert.as_ref().expect("alert");
    assert_eq!(alert.country, "ML");
    assert!(
        alert.description.contains("via http (\"all well\")"),
        "{}",
        alert.description
    );

    // A duty officer acknowledges it: the office's focal point is told who and when, and
    // nothing of the alert beyond its title.
    let mut console = stack.app.console().await;
    console
        .acknowledge(officer_action(&id))
        .await
        .expect("acknowledged");
    let told = |stack: &Stack| {
        stack
            .smtp
            .emails_to(WATCHED_FOCAL)
            .into_iter()
            .find(|email| email.subject.starts_with("Your alert was acknowledged"))
    };
    stack
        .app
        .expect(DEADLINE, "office never told", || told(&stack).is_some())
        .await;
    let email = told(&stack).expect("told");
    assert!(
        email
            .text
            .contains(&format!("duty officer {OFFICER} acknowledged your alert")),
        "{}",
        email.text
    );
    assert!(
        !email.text.contains("was due to check in"),
        "{}",
        email.text
    );
    // Silent all this while (past its grace, the email's round trip): still one alert.
    assert_eq!(silence_alerts(&stack).len(), 1);

    // The office checks in: the alert is resolved, and the timeline says how.
    assert_eq!(check_in_over_http(&stack, "").await, 202);
    let state = stack
        .state_when(&id, |state| {
            state.status == pb::AlertStatus::Resolved as i32
        })
        .await;
    assert!(
        state.timeline.iter().any(|entry| matches!(&entry.event,
            Some(Event::Note(note)) if note.text.starts_with("office checked in at")
                && note.text.ends_with("via http"))),
        "{:?}",
        state.timeline
    );
    assert!(state.timeline.iter().any(|entry| matches!(&entry.event,
        Some(Event::Resolved(by)) if by.channel == "check-in" && by.actor == WATCHED_OFFICE)));
    // Resolved by its own check-in, the office is not told of it.
    assert!(!state.notifications.iter().any(|notification| {
        notification.purpose == pb::NotificationPurpose::Informed as i32
            && notification.informed_resolved
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatcher_killed_while_an_office_is_late_raises_exactly_one_alert() {
    let mut stack = Stack::start(1).await;
    // Over gRPC this time, as the CLI does.
    let mut ingest = stack.app.client().await;
    let mut request = tonic::Request::new(pb::CheckInRequest {
        office_id: WATCHED_OFFICE.into(),
        status: String::new(),
        coordinates: None,
        via: "cli".into(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {WATCHED_TOKEN}").parse().expect("ascii"),
    );
    ingest.check_in(request).await.expect("checked in");
    // Killed once the watch is late (due after 3 s, down 2 s later): the silence is decided
    // by the restarted dispatcher, from the restored watch.
    let endpoint = stack.app.endpoint();
    let late = wk_e2e::wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
        let endpoint = endpoint.clone();
        async move {
            let mut offices = OfficeWatchesClient::new(wk_e2e::try_channel(&endpoint).await.ok()?);
            let listed = offices
                .list_offices(authorized(pb::ListOfficesRequest {}, OFFICER_TOKEN))
                .await
                .ok()?
                .into_inner();
            listed
                .offices
                .iter()
                .any(|office| {
                    office.office_id == WATCHED_OFFICE
                        && office.state.as_ref().map(|state| state.status)
                            == Some(pb::WatchStatus::Late as i32)
                })
                .then_some(())
        }
    })
    .await
    .is_some();
    assert!(late, "never late:\n{}", stack.app.log());
    stack.app.kill9();
    // On a loaded machine the grace may end before the kill lands: then the alert is already
    // out, and the restart must not raise a second one either.
    assert!(silence_alerts(&stack).len() <= 1);
    stack.app.restart();
    stack
        .app
        .expect(Duration::from_secs(90), "", || {
            silence_alerts(&stack).len() == 1
        })
        .await;
    // And no second one, however long the office stays silent.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(silence_alerts(&stack).len(), 1, "{}", stack.app.log());
}

/// Runs the CLI against the stack's api with `token`; returns its parsed `--json` output.
async fn cli(stack: &Stack, token: &str, args: &[&str]) -> serde_json::Value {
    let endpoint = stack.app.endpoint();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let token = token.to_owned();
    let mut command = std::process::Command::new(wk_e2e::app::binary());
    command
        .args(["--server", &endpoint, "--json"])
        .args(args)
        .env("WATCHKEEPER_TOKEN", token);
    serde_json::from_slice(&wk_e2e::run_ok_async(command).await).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_office_raises_nothing_until_it_is_resumed() {
    let stack = Stack::start(1).await;
    let checked_in = cli(
        &stack,
        WATCHED_TOKEN,
        &["check-in", "--office", WATCHED_OFFICE],
    )
    .await;
    assert!(checked_in["checked_in_at"].as_str().is_some());
    // A duty officer pauses it (a known blackout) before it is due.
    let paused = cli(
        &stack,
        OFFICER_TOKEN,
        &[
            "offices",
            "pause",
            WATCHED_OFFICE,
            "--reason",
            "VSAT maintenance",
        ],
    )
    .await;
    assert_eq!(paused["office_id"], WATCHED_OFFICE);
    let shown = async {
        for _ in 0..100 {
            let offices = cli(&stack, OFFICER_TOKEN, &["offices", "list"]).await;
            let office = offices
                .as_array()
                .and_then(|offices| offices.iter().find(|o| o["office_id"] == WATCHED_OFFICE))
                .cloned();
            if let Some(office) = office
                && office["state"] == "paused"
            {
                return office;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("never shown paused:\n{}", stack.app.log())
    }
    .await;
    assert_eq!(shown["pause_reason"], "VSAT maintenance");
    assert_eq!(shown["paused_by"], OFFICER);
    assert_eq!(shown["last_channel"], "cli");
    // Well past its due time and grace: nothing raised.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert!(silence_alerts(&stack).is_empty(), "{}", stack.app.log());
    // Resumed: it gets a full interval, then its silence is alerted.
    cli(
        &stack,
        OFFICER_TOKEN,
        &["offices", "resume", WATCHED_OFFICE],
    )
    .await;
    stack
        .app
        .expect(DEADLINE, "no missed check-in alert", || {
            silence_alerts(&stack).len() == 1
        })
        .await;
}
