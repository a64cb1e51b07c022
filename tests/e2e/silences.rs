//! Silences on real components: a silence for one office (created with the CLI) holds its
//! alert back (kept, shown as silenced, nothing sent) while an emergency from the same office
//! is notified; expired early from the CLI, the still-open alert is paged at step one within
//! seconds. A silence created through one api process holds in a separate dispatcher
//! process, and a `kill -9` of that dispatcher during the silence keeps it. A maintenance
//! window pauses an office's check-in watch, and its early end lets the silent office be
//! alerted.

use std::process::{Command, Output};
use std::time::Duration;

use wk_e2e::app::{
    MANILA_DUTY, OFFICE, OFFICER_TOKEN, Settings, Stack, TOKEN, WATCHED_OFFICE, WATCHED_TOKEN,
    Watchkeeper, alert, authorized, binary,
};
use wk_e2e::broker::Broker;
use wk_e2e::console::Console;
use wk_e2e::smtp::SmtpSink;
use wk_e2e::wait_for;
use wk_proto::v1 as pb;
use wk_proto::v1::silences_client::SilencesClient;
use wk_proto::v1::timeline_entry::Event;

const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

async fn cli(endpoint: &str, args: &[&str]) -> Output {
    let endpoint = endpoint.to_owned();
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(binary())
            .args(["silences"])
            .args(&args)
            .args(["--server", &endpoint, "--json"])
            .env("WATCHKEEPER_TOKEN", OFFICER_TOKEN)
            .output()
            .expect("the cli runs")
    })
    .await
    .expect("joined")
}

fn json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json")
}

fn silenced(state: &pb::EscalationState) -> bool {
    state
        .silence
        .as_ref()
        .is_some_and(|silence| silence.exempt.is_empty())
}

async fn submit(endpoint: &str, title: &str, key: &str, severity: pb::Severity) -> String {
    let mut client =
        wk_proto::v1::alert_ingest_client::AlertIngestClient::new(wk_e2e::channel(endpoint).await);
    let alert = pb::Alert {
        severity: severity as i32,
        ..alert(title, key)
    };
    client
        .submit_alert(authorized(
            pb::SubmitAlertRequest { alert: Some(alert) },
            TOKEN,
        ))
        .await
        .expect("accepted")
        .into_inner()
        .alert_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_holds_back_an_office_s_alerts_never_its_emergency_and_its_expiry_pages_step_one()
{
    let stack = Stack::start(1).await;
    let endpoint = stack.app.endpoint();
    // Refused with the field named: a bad regex, no end.
    let bad = cli(
        &endpoint,
        &[
            "create",
            "-m",
            r#"severity=~"(""#,
            "--for",
            "1h",
            "--comment",
            "x",
        ],
    )
    .await;
    assert!(!bad.status.success());
    let refusal: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("json");
    assert_eq!(
        refusal["field_violations"][0]["field"], "matchers[0]",
        "{refusal}"
    );
    let forever = cli(
        &endpoint,
        &["create", "-m", r#"office="x""#, "--comment", "x"],
    )
    .await;
    assert!(!forever.status.success());
    assert!(
        String::from_utf8_lossy(&forever.stdout).contains("ends_at"),
        "{}",
        String::from_utf8_lossy(&forever.stdout)
    );

    let matcher = format!(r#"office="{OFFICE}""#);
    let created = json(
        &cli(
            &endpoint,
            &[
                "create",
                "-m",
                &matcher,
                "--for",
                "1h",
                "--comment",
                "generator test",
            ],
        )
        .await,
    );
    let silence_id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(created["state"], "active", "{created}");

    let held = submit(&endpoint, "Generator test", "gen-1", pb::Severity::Warning).await;
    let state = stack.state_when(&held, silenced).await;
    assert_eq!(state.silence.as_ref().unwrap().silence, silence_id);
    // The emergency from the same office is notified; it is on the same partition after the
    // silenced alert, so once it has reached Manila the silenced one has been decided.
    let emergency = submit(
        &endpoint,
        "Armed men inside",
        "gate-1",
        pb::Severity::Emergency,
    )
    .await;
    stack
        .app
        .expect(DEADLINE, "emergency not notified", || {
            !stack.manila.received_for(&emergency).is_empty()
        })
        .await;
    let state = stack
        .state_when(&emergency, |state| {
            state
                .timeline
                .iter()
                .any(|entry| matches!(entry.event, Some(Event::NotSilenced(_))))
        })
        .await;
    assert_eq!(state.silence.as_ref().unwrap().exempt, "emergency");
    assert!(stack.manila.received_for(&held).is_empty(), "no webhook");
    assert!(
        !stack
            .smtp
            .emails_to(MANILA_DUTY)
            .iter()
            .any(|email| email.subject.contains("Generator test")),
        "no email"
    );
    // The preview shows both, and says which one it may not silence.
    let preview = json(
        &cli(
            &endpoint,
            &[
                "preview",
                "-m",
                &matcher,
                "--for",
                "1h",
                "--comment",
                "check",
            ],
        )
        .await,
    );
    let rows = preview.as_array().expect("rows");
    let row = |id: &str| rows.iter().find(|row| row["alert_id"] == id).cloned();
    assert!(row(&held).expect("the held alert")["never_silenced"].is_null());
    assert_eq!(
        row(&emergency).expect("the emergency")["never_silenced"],
        "emergency alerts are never silenced"
    );

    // Expired early: the held alert is paged at step one within seconds, saying why.
    let expired = json(&cli(&endpoint, &["expire", &silence_id]).await);
    assert_eq!(expired["state"], "expired", "{expired}");
    stack
        .app
        .expect(Duration::from_secs(20), "", || {
            !stack.manila.received_for(&held).is_empty()
        })
        .await;
    let webhook = stack.manila.received_for(&held)[0].json();
    assert_eq!(webhook["type"], "alert.unsilenced", "{webhook}");
    assert_eq!(webhook["step"], 0);
    assert_eq!(webhook["silence"]["comment"], "generator test");
    let state = stack
        .state_when(&held, |state| {
            state.timeline.iter().any(|entry| {
                matches!(&entry.event, Some(Event::SilenceEnded(ended))
                    if ended.restarted && ended.expired_by == wk_e2e::app::OFFICER)
            })
        })
        .await;
    assert!(state.silence.is_none());
    let listed = json(&cli(&endpoint, &["list", "--all"]).await);
    assert_eq!(listed[0]["expired_by"], wk_e2e::app::OFFICER, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_made_through_one_api_holds_in_another_dispatcher_and_survives_its_kill_9() {
    let broker = Broker::start();
    let smtp = SmtpSink::start();
    let manila = Console::start().await;
    let panama = Console::start().await;
    let mut settings = Settings {
        brokers: broker.address(),
        smtp_port: smtp.port,
        manila_url: manila.url.clone(),
        panama_url: panama.url.clone(),
        policy: String::new(),
        api_port: wk_e2e::free_port(),
        http_port: wk_e2e::free_port(),
        telemetry_port: wk_e2e::free_port(),
        partitions: 2,
        produce_timeout: "3s",
        topic_prefix: wk_e2e::unique_name("silences"),
    };
    let (api, mut dispatcher) = Watchkeeper::start_split(&mut settings, Vec::new);
    let endpoint = api.endpoint();
    let mut silences = SilencesClient::new(wk_e2e::channel(&endpoint).await);
    let created = silences
        .create_silence(authorized(
            pb::CreateSilenceRequest {
                matchers: vec![
                    format!(r#"office="{OFFICE}""#),
                    r#"severity!="emergency""#.into(),
                ],
                duration: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                comment: "network outage in Borno".into(),
                ..Default::default()
            },
            OFFICER_TOKEN,
        ))
        .await
        .expect("created")
        .into_inner();
    let silence_id = created.silence.unwrap().silence.unwrap().id;

    let stack_state = |id: String| {
        let endpoint = endpoint.clone();
        async move {
            let mut console = wk_proto::v1::alert_console_client::AlertConsoleClient::new(
                wk_e2e::channel(&endpoint).await,
            );
            let request = authorized(pb::GetAlertRequest { alert_id: id }, OFFICER_TOKEN);
            console
                .get_alert(request)
                .await
                .ok()
                .and_then(|response| response.into_inner().state)
        }
    };
    let first = submit(&endpoint, "Road blocked", "road-1", pb::Severity::Critical).await;
    let shown = wait_for(DEADLINE, POLL, || {
        let state = stack_state(first.clone());
        async move { state.await.filter(silenced) }
    })
    .await;
    assert!(
        shown.is_some(),
        "silenced in the other process:\n{}",
        dispatcher.log()
    );

    // Killed during the silence: after the restart it still holds, for old and new alerts.
    dispatcher.kill9();
    dispatcher.restart();
    let second = submit(
        &endpoint,
        "Road still blocked",
        "road-2",
        pb::Severity::Critical,
    )
    .await;
    let both = wait_for(DEADLINE, POLL, || {
        let (a, b) = (stack_state(first.clone()), stack_state(second.clone()));
        async move { (a.await.filter(silenced)?, b.await.filter(silenced)?).into() }
    })
    .await;
    assert!(both.is_some(), "{}", dispatcher.log());
    assert!(manila.received_for(&first).is_empty());
    assert!(manila.received_for(&second).is_empty());

    silences
        .expire_silence(authorized(
            pb::ExpireSilenceRequest { id: silence_id },
            OFFICER_TOKEN,
        ))
        .await
        .expect("expired");
    dispatcher
        .expect(Duration::from_secs(20), "", || {
            !manila.received_for(&first).is_empty() && !manila.received_for(&second).is_empty()
        })
        .await;
    drop((api, smtp, panama, broker));
}

/// The watched office's watch, as the offices list shows it.
async fn watch_of(endpoint: &str) -> Option<pb::OfficeWatchState> {
    let mut offices = wk_proto::v1::office_watches_client::OfficeWatchesClient::new(
        wk_e2e::try_channel(endpoint).await.ok()?,
    );
    let listed = offices
        .list_offices(authorized(pb::ListOfficesRequest {}, OFFICER_TOKEN))
        .await
        .ok()?
        .into_inner();
    listed
        .offices
        .into_iter()
        .find(|office| office.office_id == WATCHED_OFFICE)
        .and_then(|office| office.state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_pauses_the_office_watch_so_a_planned_outage_raises_nothing() {
    let stack = Stack::start(1).await;
    let endpoint = stack.app.endpoint();
    // The office checks in (every 3 s, 2 s of grace), then a window over it begins.
    let check_in = || {
        let endpoint = endpoint.clone();
        async move {
            let mut command = Command::new(binary());
            command
                .args(["check-in", "--server", &endpoint])
                .args(["--office", WATCHED_OFFICE])
                .env("WATCHKEEPER_TOKEN", WATCHED_TOKEN);
            wk_e2e::run_ok_async(command).await;
        }
    };
    check_in().await;
    let window = json(
        &cli(
            &endpoint,
            &[
                "create",
                "--office",
                WATCHED_OFFICE,
                "--for",
                "1h",
                "--comment",
                "VSAT swap",
            ],
        )
        .await,
    );
    let id = window["id"].as_str().expect("an id").to_owned();
    assert_eq!(window["maintenance"], true, "{window}");
    let paused = wait_for(DEADLINE, POLL, || async {
        watch_of(&endpoint)
            .await
            .filter(|state| state.status == pb::WatchStatus::Paused as i32)
    })
    .await;
    let paused = paused.unwrap_or_else(|| panic!("never paused:\n{}", stack.app.log()));
    let pause = paused
        .pause
        .and_then(|record| record.pause)
        .expect("a pause");
    assert_eq!(pause.by.expect("by").channel, "maintenance");
    assert!(pause.reason.contains("VSAT swap"), "{}", pause.reason);
    // A check-in inside the window resumes the watch and the window pauses it again (and
    // resolves a silence alert raised before the pause, should a loaded machine have been
    // that slow).
    check_in().await;
    let silent = crate::check_ins::silence_alerts;
    let before = silent(&stack);
    // Well past the due time and the grace: nothing raised (an absence: a bounded wait).
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        silent(&stack),
        before,
        "an office in maintenance raised an alert"
    );
    let state = watch_of(&endpoint).await.expect("a watch");
    assert_eq!(state.status, pb::WatchStatus::Paused as i32);
    // The window is expired early: the watch resumes, and the silent office is alerted.
    json(&cli(&endpoint, &["expire", &id]).await);
    stack
        .app
        .expect(DEADLINE, "no further silenced alert", || {
            silent(&stack).len() > before.len()
        })
        .await;
}
