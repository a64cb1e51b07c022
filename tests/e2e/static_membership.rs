//! Static group membership (8/8), against librdkafka's mock cluster (Tansu 0.6 never assigns a
//! static member; the restart-durability tests stay on Tansu). The mock cluster runs in this
//! test process and listens on loopback; the api and the dispatchers are the real binary,
//! talking the Kafka protocol to it, each dispatcher with its own `group.instance.id`.
//!
//! - A static member `kill -9`ed and restarted at once takes its partition back and fires the
//!   step that fell due meanwhile; nothing is fenced or lost.
//! - With a standby and no restart, the standby takes over and fires it.
//!
//! What this cannot show is the speed static membership buys on Apache Kafka or Redpanda
//! (KIP-345: a known instance rejoining a stable group gets its assignment back without a
//! rebalance). The mock's classic coordinator does not implement that rejoin: every join is a
//! full rebalance that waits for the dead member's session (6 s) and then for the rest to
//! rejoin (the session less 1 s), so both cases here come 9-10 s after the due time. The
//! bounds below are the mock's, with room for a loaded machine, not the targets of 8/8.

use std::time::{Duration, Instant, SystemTime};

use rdkafka::mocking::MockCluster;
use wk_e2e::app::{Settings, Watchkeeper, authorized, chain_policy, config_text};
use wk_e2e::console::Console;
use wk_e2e::smtp::SmtpSink;
use wk_e2e::wait_until;
use wk_proto::v1 as pb;

const INSTANCE: &str = "WATCHKEEPER__KAFKA__GROUP_INSTANCE_ID";
/// Step 1 (Manila) waits this long before step 2 (Panama).
const STEP: &str = "10s";
/// The mock's takeover (session, then its rebalance wait, then the restore), with room.
const MOCK_TAKEOVER: Duration = Duration::from_secs(20);

struct Mocked {
    // Dropped last: the processes go before their broker.
    _cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    _smtp: SmtpSink,
    manila: Console,
    panama: Console,
    settings: Settings,
}

async fn mocked() -> Mocked {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let topics = wk_e2e::unique_name("wk");
    // The mock cluster answers no CreateTopics: the topics exist before watchkeeper starts,
    // as in a deployment whose operators create them.
    for (suffix, partitions) in [
        ("alerts", 1),
        ("alert-state", 1),
        ("dead-letter", 1),
        ("silences", 1),
    ] {
        cluster
            .create_topic(&format!("{topics}.{suffix}"), partitions, 1)
            .expect("topic");
    }
    let smtp = SmtpSink::start();
    let manila = Console::start().await;
    let panama = Console::start().await;
    let settings = Settings {
        brokers: cluster.bootstrap_servers(),
        smtp_port: smtp.port,
        manila_url: manila.url.clone(),
        panama_url: panama.url.clone(),
        policy: chain_policy("two", STEP, &["console:panama"], "60s"),
        api_port: wk_e2e::free_port(),
        http_port: wk_e2e::free_port(),
        telemetry_port: wk_e2e::free_port(),
        partitions: 1,
        produce_timeout: "5s",
        topic_prefix: topics,
    };
    Mocked {
        _cluster: cluster,
        _smtp: smtp,
        manila,
        panama,
        settings,
    }
}

/// Submits an alert; its id and when its second step falls due, by the dispatcher's record.
async fn submit(api: &Watchkeeper, manila: &Console) -> (String, SystemTime) {
    let id = api
        .client()
        .await
        .submit_alert(authorized(
            pb::SubmitAlertRequest {
                alert: Some(wk_e2e::app::alert("Gunfire near the compound", "gate")),
            },
            wk_e2e::app::TOKEN,
        ))
        .await
        .expect("accepted")
        .into_inner()
        .alert_id;
    api.expect(
        Duration::from_secs(30),
        "step 1 never reached Manila",
        || !manila.received_for(&id).is_empty(),
    )
    .await;
    let mut console = api.console().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request = authorized(
            pb::GetAlertRequest {
                alert_id: id.clone(),
            },
            wk_e2e::app::OFFICER_TOKEN,
        );
        if let Ok(reply) = console.get_alert(request).await
            && let Some(timer) = reply.into_inner().state.and_then(|s| s.step_timer)
        {
            let due = SystemTime::UNIX_EPOCH
                + Duration::from_secs(u64::try_from(timer.seconds).unwrap_or(0))
                + Duration::from_nanos(u64::try_from(timer.nanos).unwrap_or(0));
            return (id, due);
        }
        assert!(Instant::now() < deadline, "no step timer:\n{}", api.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sleeps until `margin` before `due`.
async fn until_before(due: SystemTime, margin: Duration) {
    if let Ok(left) = due.duration_since(SystemTime::now()) {
        tokio::time::sleep(left.saturating_sub(margin)).await;
    }
}

/// How late after `due` Panama got the second step of `id` (waiting at most `within`).
async fn lateness(panama: &Console, id: &str, due: SystemTime, within: Duration) -> Duration {
    assert!(
        wait_until(within, || !panama.received_for(id).is_empty()).await,
        "step 2 never reached Panama"
    );
    let arrived = panama.received_for(id)[0].wall;
    arrived.duration_since(due).unwrap_or_default()
}

fn instance(id: &'static str) -> impl Fn() -> Vec<(String, String)> {
    move || vec![(INSTANCE.to_owned(), id.to_owned())]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_member_killed_and_restarted_takes_its_partition_back_and_fires_the_due_step() {
    let mut mocked = mocked().await;
    let (api, mut dispatcher) =
        Watchkeeper::start_split(&mut mocked.settings, instance("manila-1"));
    let (id, due) = submit(&api, &mocked.manila).await;
    until_before(due, Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| dispatcher.restart());
    let late = lateness(&mocked.panama, &id, due, Duration::from_secs(30)).await;
    assert!(
        late <= MOCK_TAKEOVER,
        "step 2 came {late:?} after its due time:\n{}",
        dispatcher.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_static_member_takes_over_when_the_owner_stays_dead() {
    let mut mocked = mocked().await;
    let (api, first) = Watchkeeper::start_split(&mut mocked.settings, instance("manila-1"));
    // The standby: the same configuration, its own instance id and telemetry port.
    mocked.settings.telemetry_port = wk_e2e::free_port();
    let standby = Watchkeeper::start_role(
        &config_text(&mocked.settings),
        mocked.settings.api_port,
        Some("dispatcher"),
        mocked.settings.telemetry_port,
        instance("manila-2")(),
    );
    // Both in the group, one owning the partition: whichever opened the alert.
    let (id, due) = submit(&api, &mocked.manila).await;
    let opened = |process: &Watchkeeper| {
        process
            .log()
            .lines()
            .any(|line| line.contains("alert opened") && line.contains(&id))
    };
    let (mut owner, _other) = match (opened(&first), opened(&standby)) {
        (true, false) => (first, standby),
        (false, true) => (standby, first),
        both => panic!("owners {both:?}:\n{}\n{}", first.log(), standby.log()),
    };
    until_before(due, Duration::from_secs(2)).await;
    tokio::task::block_in_place(|| owner.kill9());
    let late = lateness(&mocked.panama, &id, due, Duration::from_secs(40)).await;
    assert!(
        late <= MOCK_TAKEOVER,
        "step 2 came {late:?} after its due time"
    );
}
