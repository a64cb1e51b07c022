//! The fault suite: a steady stream of alerts from two offices through a real stack (Tansu with
//! SQLite storage, the api and the dispatcher as separate processes, aiosmtpd, both consoles,
//! Manila's behind a proxy the harness controls) while it injects faults on a fixed schedule:
//! the dispatcher killed with SIGKILL mid-escalation (three times a cycle), the broker killed
//! and restarted on its storage, Manila's console down (Panama must get its alerts by failover
//! within the failover window), the SMTP server down (its emails must arrive once it is back),
//! one in three of Manila's answers cut after the request reached it (the sender retries
//! under the same idempotency key), Panama's console too slow to answer within the webhook
//! timeout for 10 s, and Panama refusing (503) for the 10 s Manila is down (the failovers are
//! parked until Panama answers again). Two busy-loop processes keep both cores saturated for
//! the whole run (`WATCHKEEPER_FAULT_HOG=0` turns them off): the suite must hold on a loaded
//! machine, not only an idle one.
//!
//! Then it reconciles: every accepted alert was notified at every step its chain requires (step
//! 1: Manila's console, or Panama's by failover, and Manila's duty officers; step 2: Panama's
//! console and duty officers and the regional security officer), under one incident, and every
//! repeated delivery carried the same idempotency key. It prints one summary line and fails on
//! any loss. The default run sends 2,000 alerts in about 50 s; `WATCHKEEPER_SOAK=1` (or
//! `./dev soak`) sends 10,000 over four fault cycles.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tonic::Code;
use wk_e2e::app::{
    MANILA_DUTY, OFFICE, OFFICER_TOKEN, OTHER_OFFICE, OTHER_TOKEN, PANAMA_DUTY, RSO, Settings,
    TOKEN, Watchkeeper, alert, authorized, chain_policy,
};
use wk_e2e::broker::Broker;
use wk_e2e::console::Console;
use wk_e2e::fault_proxy::{FaultProxy, Mode};
use wk_e2e::poll_until;
use wk_e2e::smtp::SmtpSink;
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry::Event;

/// Step 1 waits this long for an acknowledgement before step 2.
const STEP_TIMEOUT_S: u64 = 4;
/// Panama must have a failed-over alert within this of the dispatcher first trying Manila for
/// it (its step-1 time in the timeline): `webhook.attempts × webhook.timeout` in the test
/// configuration (3 × 2 s), the backoff between attempts (at most 0.2 s + 0.4 s), plus a
/// dispatcher restart and restore when a kill falls in between, with room for a loaded machine
/// (a fresh-clone CI run measured 20.2 s with a kill in between).
/// It applies to failovers Panama could take at once; those parked while Panama refused wait
/// for it, and are counted apart.
const FAILOVER_WINDOW: Duration = Duration::from_secs(30);
/// How long a console's circuit stays open in this suite (`webhook.circuit_open`): Manila's,
/// opened while it is down, closes again this long after it is back, so the later faults
/// reach it (the default 30 s would fail everything over).
const CIRCUIT_OPEN_S: u64 = 5;
/// One cycle of the schedule.
const CYCLE: Duration = Duration::from_secs(50);

#[derive(Clone, Copy, Debug)]
enum Fault {
    KillDispatcher,
    ManilaDown,
    ManilaUp,
    SmtpDown,
    SmtpUp,
    BrokerDown,
    BrokerUp,
    CutManilaAnswers,
    ManilaPasses,
    PanamaRefuses,
    PanamaAnswers,
    PanamaSlow,
    PanamaQuick,
}

/// Seconds into each cycle, and what happens then. Manila's first, short outage has Panama
/// healthy (its failovers are timed against `FAILOVER_WINDOW`); its second has Panama refusing
/// too (failovers wait for Panama); Panama is too slow later, for step 2.
const SCHEDULE: [(u64, Fault); 19] = [
    (1, Fault::ManilaDown),
    (5, Fault::ManilaUp),
    (6, Fault::KillDispatcher),
    (10, Fault::ManilaDown),
    (10, Fault::PanamaRefuses),
    (14, Fault::SmtpDown),
    (20, Fault::ManilaUp),
    (20, Fault::PanamaAnswers),
    (22, Fault::KillDispatcher),
    (22, Fault::PanamaSlow),
    (24, Fault::SmtpUp),
    (28, Fault::BrokerDown),
    (31, Fault::BrokerUp),
    (32, Fault::PanamaQuick),
    (40, Fault::CutManilaAnswers),
    (44, Fault::KillDispatcher),
    (45, Fault::ManilaPasses),
    (46, Fault::SmtpDown),
    (49, Fault::SmtpUp),
];

fn policy() -> String {
    chain_policy(
        "faults",
        &format!("{STEP_TIMEOUT_S}s"),
        &["console:panama", "person:rso"],
        "1h",
    )
}

/// The notification-id suffix of an email to `address`.
fn email_key(address: &str) -> String {
    wk_core::escalation::Recipient::Email {
        address: address.to_owned(),
    }
    .key()
}

/// Accepted alerts: id → when the api said OK.
type Accepted = Arc<Mutex<HashMap<String, Instant>>>;

/// Submits `count` alerts at `rate` per second, alternating two offices; each is retried
/// under its dedup key while the answer is retryable (broker down, rate limited), for at most
/// 90 s. Returns when every submission has settled.
async fn load(endpoint: String, count: usize, rate: f64, accepted: Accepted) -> usize {
    let channel = tonic::transport::Endpoint::from_shared(endpoint)
        .unwrap()
        .connect_lazy();
    let started = Instant::now();
    let mut submissions = tokio::task::JoinSet::new();
    for index in 0..count {
        let due = started + Duration::from_secs_f64(index as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let (office, token) = if index % 2 == 0 {
            (OFFICE, TOKEN)
        } else {
            (OTHER_OFFICE, OTHER_TOKEN)
        };
        let mut alert = alert(
            &format!("Fault suite alert {index}"),
            &format!("fault-{index}"),
        );
        alert.office_id = office.into();
        let mut client = pb::alert_ingest_client::AlertIngestClient::new(channel.clone());
        let accepted = accepted.clone();
        submissions.spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                let mut request = authorized(
                    pb::SubmitAlertRequest {
                        alert: Some(alert.clone()),
                    },
                    token,
                );
                request.set_timeout(Duration::from_secs(10));
                match client.submit_alert(request).await {
                    Ok(response) => {
                        let id = response.into_inner().alert_id;
                        accepted.lock().unwrap().insert(id, Instant::now());
                        return true;
                    }
                    Err(status)
                        if matches!(
                            status.code(),
                            Code::Unavailable
                                | Code::ResourceExhausted
                                | Code::DeadlineExceeded
                                | Code::Cancelled
                        ) && Instant::now() < deadline =>
                    {
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Err(status) => {
                        eprintln!("alert {index} not accepted: {status:?}");
                        return false;
                    }
                }
            }
        });
    }
    let mut refused = 0;
    while let Some(result) = submissions.join_next().await {
        if !matches!(result, Ok(true)) {
            refused += 1;
        }
    }
    refused
}

/// Every delivery seen by the consoles and the SMTP server: notification id → arrivals.
#[derive(Default)]
struct Seen {
    arrivals: HashMap<String, u32>,
    /// When Panama first received each failed-over step-1 notification, by alert.
    failover_at: HashMap<String, SystemTime>,
    /// When either console first had each alert's step 1, by alert.
    first_notice: HashMap<String, Instant>,
    /// When each email arrived (for the SMTP outage figure).
    email_at: HashMap<String, SystemTime>,
}

fn seen(manila: &Console, panama: &Console, smtp: &SmtpSink) -> Seen {
    let mut seen = Seen::default();
    for (console, webhooks) in [("manila", manila.received()), ("panama", panama.received())] {
        for webhook in webhooks {
            let id = webhook.json()["delivery_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let alert = id.split('.').next().unwrap_or_default().to_owned();
            let step_one = if console == "panama" {
                id.contains(".s0.failover.")
            } else {
                id.contains(".s0.")
            };
            if step_one {
                let first = seen.first_notice.entry(alert.clone()).or_insert(webhook.at);
                *first = (*first).min(webhook.at);
                if console == "panama" {
                    let first = seen.failover_at.entry(alert).or_insert(webhook.wall);
                    *first = (*first).min(webhook.wall);
                }
            }
            *seen.arrivals.entry(id).or_default() += 1;
        }
    }
    for (message_id, at) in smtp.message_ids() {
        let id = message_id
            .trim_start_matches('<')
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        seen.email_at.entry(id.clone()).or_insert(at);
        *seen.arrivals.entry(id).or_default() += 1;
    }
    seen
}

/// What reconciliation found.
#[derive(Debug, Default)]
struct Reconciled {
    notified: usize,
    /// Accepted alerts with a required notification missing, with what is missing.
    lost: BTreeMap<String, Vec<String>>,
    /// Alerts notified under more than one incident or round (a repeat with a new key).
    rekeyed: Vec<String>,
    /// Alerts that reached Panama by failover.
    failed_over: Vec<String>,
    /// Acceptance to the first step-1 notice at either console.
    notice_latencies: Vec<Duration>,
}

fn reconcile(accepted: &HashMap<String, Instant>, seen: &Seen) -> Reconciled {
    let mut by_alert: HashMap<&str, Vec<&str>> = HashMap::new();
    for id in seen.arrivals.keys() {
        if let Some((alert, rest)) = id.split_once('.') {
            by_alert.entry(alert).or_default().push(rest);
        }
    }
    let (manila_duty, panama_duty, rso) = (
        email_key(MANILA_DUTY),
        email_key(PANAMA_DUTY),
        email_key(RSO),
    );
    let mut reconciled = Reconciled::default();
    for (alert, accepted_at) in accepted {
        let ids = by_alert.get(alert.as_str()).cloned().unwrap_or_default();
        // Every id is `i<incident>.r<round>.s<step>[.failover].<recipient>`.
        let incidents: std::collections::HashSet<(Option<&str>, Option<&str>)> = ids
            .iter()
            .map(|rest| {
                let mut parts = rest.splitn(3, '.');
                (parts.next(), parts.next())
            })
            .collect();
        if incidents.len() > 1 {
            reconciled.rekeyed.push(alert.clone());
        }
        let has = |suffix: &str| ids.iter().any(|rest| rest.ends_with(suffix));
        let mut missing = Vec::new();
        let failed_over = has(".s0.failover.webhook-panama");
        if !has(".s0.webhook-manila") && !failed_over {
            missing.push("step 1 console (Manila, or Panama by failover)".to_owned());
        }
        for (suffix, what) in [
            (format!(".s0.{manila_duty}"), "step 1 email to Manila duty"),
            (".s1.webhook-panama".to_owned(), "step 2 Panama console"),
            (format!(".s1.{panama_duty}"), "step 2 email to Panama duty"),
            (format!(".s1.{rso}"), "step 2 email to the RSO"),
        ] {
            if !has(&suffix) {
                missing.push(what.to_owned());
            }
        }
        if failed_over {
            reconciled.failed_over.push(alert.clone());
        }
        if let Some(at) = seen.first_notice.get(alert.as_str()) {
            reconciled
                .notice_latencies
                .push(at.saturating_duration_since(*accepted_at));
        }
        if missing.is_empty() {
            reconciled.notified += 1;
        } else {
            reconciled.lost.insert(alert.clone(), missing);
        }
    }
    reconciled
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_accepted_is_lost_under_faults() {
    let soak = std::env::var_os("WATCHKEEPER_SOAK").is_some_and(|value| value != "0");
    let (count, cycles) = if soak { (10_000, 4) } else { (2_000, 1) };
    let rate = count as f64 / (CYCLE.as_secs_f64() * f64::from(cycles));
    let started = Instant::now();
    let hog = std::env::var_os("WATCHKEEPER_FAULT_HOG")
        .is_none_or(|value| value != "0")
        .then(|| wk_e2e::hog::CpuHog::start(2, Duration::from_secs(900)));
    let hogs = hog.as_ref().map_or(0, wk_e2e::hog::CpuHog::processes);

    let mut broker = Broker::start();
    let mut smtp = SmtpSink::start();
    let manila = Console::start().await;
    let panama = Console::start().await;
    let mut manila_proxy = FaultProxy::start(manila.address()).await;
    let mut settings = Settings {
        brokers: broker.address(),
        smtp_port: smtp.port,
        manila_url: format!("http://{}/hooks/watchkeeper", manila_proxy.address),
        panama_url: panama.url.clone(),
        policy: policy(),
        api_port: wk_e2e::free_port(),
        http_port: wk_e2e::free_port(),
        telemetry_port: wk_e2e::free_port(),
        partitions: 3,
        produce_timeout: "3s",
        topic_prefix: wk_e2e::unique_name("faults"),
    };
    let api_port = settings.api_port;
    let env = || {
        vec![
            // Two offices at 20-25 alerts/s each, bursts after a broker outage.
            ("WATCHKEEPER__API__OFFICE_RATE".to_owned(), "200".to_owned()),
            (
                "WATCHKEEPER__API__OFFICE_BURST".to_owned(),
                "2000".to_owned(),
            ),
            (
                "WATCHKEEPER__WEBHOOK__CIRCUIT_OPEN".to_owned(),
                format!("{CIRCUIT_OPEN_S}s"),
            ),
        ]
    };
    let (_api, mut dispatcher) = Watchkeeper::start_split(&mut settings, env);

    let accepted: Accepted = Arc::default();
    let load = tokio::spawn(load(
        format!("http://127.0.0.1:{api_port}"),
        count,
        rate,
        accepted.clone(),
    ));
    let load_started = Instant::now();
    let mut injected: BTreeMap<&str, u32> = BTreeMap::new();
    // When Panama could not take failovers (refusing or too slow), by the wall clock; each
    // window ends once its circuit has had time to close again.
    let mut panama_out: Vec<(SystemTime, SystemTime)> = Vec::new();
    let reopen = Duration::from_secs(CIRCUIT_OPEN_S + 2);
    for cycle in 0..cycles {
        for (second, fault) in SCHEDULE {
            let due = load_started + CYCLE * cycle + Duration::from_secs(second);
            tokio::time::sleep_until(due.into()).await;
            let name = match fault {
                Fault::KillDispatcher => {
                    // SIGKILL, then back at once: it restores from the changelog.
                    tokio::task::block_in_place(|| dispatcher.restart());
                    "dispatcher kill -9"
                }
                Fault::ManilaDown => {
                    manila_proxy.set(Mode::Down);
                    "manila console down"
                }
                Fault::ManilaUp | Fault::ManilaPasses => {
                    manila_proxy.set(Mode::Pass);
                    continue;
                }
                Fault::SmtpDown => {
                    smtp.stop();
                    "smtp down"
                }
                Fault::SmtpUp => {
                    tokio::task::block_in_place(|| smtp.start_again());
                    continue;
                }
                Fault::BrokerDown => {
                    broker.kill();
                    "broker kill -9 and restart"
                }
                Fault::BrokerUp => {
                    tokio::task::block_in_place(|| broker.restart());
                    continue;
                }
                Fault::CutManilaAnswers => {
                    manila_proxy.set(Mode::CutAnswers);
                    "manila answers cut"
                }
                Fault::PanamaRefuses => {
                    panama.answer_with(503);
                    panama_out.push((SystemTime::now(), SystemTime::now() + CYCLE));
                    "panama refusing while manila down"
                }
                Fault::PanamaSlow => {
                    // Longer than the webhook timeout (2 s): every request times out.
                    panama.answer_after(Duration::from_secs(3));
                    panama_out.push((SystemTime::now(), SystemTime::now() + CYCLE));
                    "panama too slow"
                }
                Fault::PanamaAnswers | Fault::PanamaQuick => {
                    panama.answer_with(200);
                    panama.answer_after(Duration::ZERO);
                    if let Some(window) = panama_out.last_mut() {
                        window.1 = SystemTime::now() + reopen;
                    }
                    continue;
                }
            };
            *injected.entry(name).or_default() += 1;
        }
    }
    let refused = load.await.unwrap();
    let load_elapsed = load_started.elapsed();

    // Everything accepted is notified at both steps once the last step 2 is due and the
    // delayed emails are through; wait for that, bounded.
    let accepted = accepted.lock().unwrap().clone();
    let mut last = None;
    poll_until(Duration::from_secs(150), Duration::from_secs(2), || {
        let now_seen = seen(&manila, &panama, &smtp);
        let reconciled = reconcile(&accepted, &now_seen);
        let complete = reconciled.lost.is_empty();
        last = Some((now_seen, reconciled));
        complete
    })
    .await;
    let (seen, reconciled) = last.expect("polled at least once");

    let deliveries: u32 = seen.arrivals.values().sum();
    let duplicates: u32 = seen.arrivals.values().map(|count| count - 1).sum();
    // The failover window, by the dispatcher's own clock: from step 1 in each failed-over
    // alert's timeline (when Manila was first tried) to Panama having it.
    let (failover, failover_parked) =
        failover_latencies(&settings, &reconciled.failed_over, &seen, &panama_out).await;
    drop(hog);
    let notice = reconciled.notice_latencies.clone();
    let faults: u32 = injected.values().sum();
    let detail: Vec<String> = injected
        .iter()
        .map(|(name, times)| format!("{name} ×{times}"))
        .collect();
    let summary = format!(
        "fault suite: accepted={} notified={} lost={} refused={refused} notifications={} \
         deliveries={deliveries} duplicate_deliveries={duplicates} (same key) rekeyed={} \
         step1_notice p50={:.2}s p99={:.2}s max={:.2}s failovers={} failover p50={:.2}s \
         max={:.2}s failovers_waited={failover_parked} faults_injected={faults} ({}) \
         answers_cut={} cpu_hogs={hogs} load={:.0}s total={:.0}s",
        accepted.len(),
        reconciled.notified,
        reconciled.lost.len(),
        seen.arrivals.len(),
        reconciled.rekeyed.len(),
        percentile(&notice, 0.5),
        percentile(&notice, 0.99),
        percentile(&notice, 1.0),
        reconciled.failed_over.len(),
        percentile(&failover, 0.5),
        percentile(&failover, 1.0),
        detail.join(", "),
        manila_proxy.answers_cut(),
        load_elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    #[allow(
        clippy::print_stdout,
        reason = "the suite's one summary line is its report"
    )]
    {
        println!("{summary}");
    }
    // `./dev test` prints it after the run, whichever runner captured the output; the
    // dispatcher's log stays next to it for a look afterwards.
    let target = wk_e2e::workspace_root().join("target");
    let _ = std::fs::write(target.join("fault-suite.txt"), format!("{summary}\n"));
    let _ = std::fs::write(target.join("fault-suite-dispatcher.log"), dispatcher.log());
    let sample: Vec<_> = reconciled.lost.iter().take(5).collect();
    assert!(
        reconciled.lost.is_empty(),
        "{} accepted alerts lost notifications, e.g. {sample:?}\ndispatcher log tail:\n{}",
        reconciled.lost.len(),
        tail(&dispatcher.log()),
    );
    assert_eq!(accepted.len(), count, "{refused} alerts never accepted");
    assert!(
        reconciled.rekeyed.is_empty(),
        "alerts notified under more than one incident or round: {:?}",
        &reconciled.rekeyed[..reconciled.rekeyed.len().min(5)]
    );
    assert!(
        !reconciled.failed_over.is_empty(),
        "Manila was down for 10 s: some alerts must have failed over to Panama"
    );
    assert!(
        !failover.is_empty(),
        "Manila was down while Panama was healthy: some failovers must be timed"
    );
    assert_eq!(
        failover.len() + failover_parked,
        reconciled.failed_over.len(),
        "every failed-over alert has step 1 in its timeline"
    );
    assert!(
        percentile(&failover, 1.0) <= FAILOVER_WINDOW.as_secs_f64(),
        "a failed-over alert reached Panama {:.1}s after Manila was first tried (window \
         {FAILOVER_WINDOW:?}); see target/fault-suite-dispatcher.log",
        percentile(&failover, 1.0)
    );
    assert_eq!(faults, 11 * cycles, "{injected:?}");
}

/// The `p` quantile of `values` in seconds (0 when empty).
fn percentile(values: &[Duration], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted
        .get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1))
        .map_or(0.0, Duration::as_secs_f64)
}

/// For each failed-over alert, from its step 1 (the timeline's first `StepFired`, when the
/// dispatcher first tried Manila) to Panama's first failover webhook for it; and how many
/// failovers had to wait for Panama (parked, or step 1 while Panama was out), which are not
/// timed.
async fn failover_latencies(
    settings: &Settings,
    alerts: &[String],
    seen: &Seen,
    panama_out: &[(SystemTime, SystemTime)],
) -> (Vec<Duration>, usize) {
    let endpoint = format!("http://127.0.0.1:{}", settings.api_port);
    let mut console =
        pb::alert_console_client::AlertConsoleClient::new(wk_e2e::channel(&endpoint).await);
    let mut latencies = Vec::with_capacity(alerts.len());
    let mut parked = 0;
    for alert in alerts {
        let request = authorized(
            pb::GetAlertRequest {
                alert_id: alert.clone(),
            },
            OFFICER_TOKEN,
        );
        let Ok(response) = console.get_alert(request).await else {
            continue;
        };
        let state = response.into_inner().state;
        // Panama's failover had to wait if it was parked or any attempt of it failed.
        let failover_parked = state.as_ref().is_some_and(|state| {
            state.timeline.iter().any(|entry| match &entry.event {
                Some(Event::Parked(parked)) => parked.id.contains(".failover.webhook-panama"),
                Some(Event::AttemptFailed(failed)) => {
                    failed.id.contains(".failover.webhook-panama")
                }
                _ => false,
            })
        });
        let time_of = |wanted: fn(&Event) -> bool| {
            state.as_ref().and_then(|state| {
                state.timeline.iter().find_map(|entry| match &entry.event {
                    Some(event) if wanted(event) => entry.at,
                    _ => None,
                })
            })
        };
        let fired = time_of(|event| matches!(event, Event::StepFired(step) if step.step == 0));
        // When the failover was decided: an alert fired just before Panama went out fails over
        // while it is out (and waits for its circuit), though its step fired before.
        let decided = time_of(|event| matches!(event, Event::FailedOver(_)));
        let (Some(fired), Some(arrived)) = (fired, seen.failover_at.get(alert)) else {
            continue;
        };
        let Ok(fired) = SystemTime::try_from(fired) else {
            continue;
        };
        let decided = decided
            .and_then(|at| SystemTime::try_from(at).ok())
            .unwrap_or(fired);
        let panama_was_out = panama_out
            .iter()
            .any(|(from, to)| (*from..*to).contains(&fired) || (*from..*to).contains(&decided));
        if failover_parked || panama_was_out {
            parked += 1;
            continue;
        }
        latencies.push(arrived.duration_since(fired).unwrap_or_default());
    }
    (latencies, parked)
}

fn tail(log: &str) -> &str {
    let start = log.len().saturating_sub(6000);
    log.get(start..).unwrap_or(log)
}
