//! The `watchkeeper` binary as a child process, its generated configuration, and a gRPC client
//! for it; plus `Stack`, the whole set of real components one test needs.

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::Digest as _;
use tempfile::TempDir;
use tonic::transport::Channel;
use wk_harness::Service;
use wk_proto::v1 as pb;
use wk_proto::v1::alert_console_client::AlertConsoleClient;
use wk_proto::v1::alert_ingest_client::AlertIngestClient;

use crate::broker::Broker;
use crate::console::Console;
use crate::smtp::SmtpSink;

pub const OFFICE: &str = "ng-maiduguri";
pub const TOKEN: &str = "test-token-ng-maiduguri-0000000001";
pub const OTHER_OFFICE: &str = "so-mogadishu";
pub const OTHER_TOKEN: &str = "test-token-so-mogadishu-000000002";
/// An office with a check-in schedule: every 3 s, 2 s of grace.
pub const WATCHED_OFFICE: &str = "ml-gao";
pub const WATCHED_TOKEN: &str = "test-token-ml-gao-0000000000000005";
/// Its focal point, told when the operations centre acts on its alerts.
pub const WATCHED_FOCAL: &str = "focal.gao@watchkeeper.test";
pub const MANILA_SECRET: &str = "manila-signing-secret-for-tests";
pub const MANILA_DUTY: &str = "duty.manila@watchkeeper.test";
pub const PANAMA_SECRET: &str = "panama-signing-secret-for-tests";
pub const PANAMA_DUTY: &str = "duty.panama@watchkeeper.test";
pub const OFFICER: &str = "maria.santos";
pub const OFFICER_TOKEN: &str = "test-token-duty-officer-maria-0003";
pub const LINKS_SECRET: &str = "links-signing-secret-for-tests-0123456789";
/// Web-console passwords of `OFFICER`, `PANAMA_OFFICER` and `OFFICE`.
pub const OFFICER_PASSWORD: &str = "maria's test passphrase";
pub const PANAMA_OFFICER: &str = "jose.reyes";
pub const PANAMA_OFFICER_TOKEN: &str = "test-token-duty-officer-jose-00004";
pub const PANAMA_OFFICER_PASSWORD: &str = "jose's test passphrase";
pub const OFFICE_PASSWORD: &str = "maiduguri test passphrase";

/// An argon2id hash of `password` at a low cost (the tests sign in often; production hashes
/// come from `watchkeeper hash-password` at the default cost).
fn password_hash(password: &str) -> String {
    let params = argon2::Params::new(1024, 1, 1, None).expect("argon2 parameters");
    wk_web::password::hash_with(password, params).expect("argon2 hash")
}

/// The binary, built once per test process with the same profile as the tests (`./dev test`
/// builds it before the tests start, so this only checks that it is current).
pub fn binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| build_binary().unwrap_or_else(|error| panic!("{error:#}")))
        .clone()
}

/// `cargo build -p watchkeeper`, its executable's path read from cargo's JSON messages. Cargo's
/// own output goes to this process's stderr: a pipe that nobody reads until cargo exits would
/// fill, and cargo would wait on it for ever.
fn build_binary() -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = std::process::Command::new(cargo);
    command.current_dir(crate::workspace_root()).args([
        "build",
        "--locked",
        "--package",
        "watchkeeper",
        "--bin",
        "watchkeeper",
        "--message-format=json-render-diagnostics",
    ]);
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running cargo build -p watchkeeper")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo build -p watchkeeper failed ({})",
        output.status
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == "watchkeeper"
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .context("cargo build -p watchkeeper named no watchkeeper executable")
}

pub fn token_hash(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Settings for a generated configuration.
pub struct Settings {
    pub brokers: String,
    pub smtp_port: u16,
    pub manila_url: String,
    pub panama_url: String,
    /// Policy sections (people, schedules, chains, `[routing]`) appended to the file; empty
    /// for the single-console shorthand.
    pub policy: String,
    pub api_port: u16,
    pub http_port: u16,
    pub telemetry_port: u16,
    pub partitions: u32,
    pub produce_timeout: &'static str,
    pub topic_prefix: String,
}

/// A complete configuration with unique topics and group.
pub fn config_text(settings: &Settings) -> String {
    let Settings {
        brokers,
        smtp_port,
        manila_url,
        panama_url,
        policy,
        api_port,
        http_port,
        telemetry_port,
        partitions,
        produce_timeout,
        topic_prefix,
    } = settings;
    format!(
        r#"shutdown_grace = "10s"

[kafka]
brokers = "{brokers}"
alerts_topic = "{topic_prefix}.alerts"
state_topic = "{topic_prefix}.alert-state"
dead_letter_topic = "{topic_prefix}.dead-letter"
silences_topic = "{topic_prefix}.silences"
consumer_group = "{topic_prefix}.dispatcher"
partitions = {partitions}
produce_timeout = "{produce_timeout}"

[api]
listen = "127.0.0.1:{api_port}"
http_listen = "127.0.0.1:{http_port}"
max_message_bytes = 65536
office_rate = 50
office_burst = 500

[telemetry]
listen = "127.0.0.1:{telemetry_port}"

[links]
base_url = "http://127.0.0.1:{http_port}"
secret = "{LINKS_SECRET}"
ttl = "1h"

[[offices]]
id = "{OFFICE}"
name = "Maiduguri sub-office"
token_sha256 = "{office_hash}"
password_argon2 = "{office_password}"

[[offices]]
id = "{OTHER_OFFICE}"
token_sha256 = "{other_hash}"

[[offices]]
id = "{WATCHED_OFFICE}"
name = "Gao field office"
token_sha256 = "{watched_hash}"
country = "ML"
place = "Gao"
time_zone = "Africa/Bamako"
check_in = {{ every = "3s", grace = "2s" }}
focal_points = ["{WATCHED_FOCAL}"]

[[duty_officers]]
id = "{OFFICER}"
name = "Maria Santos"
token_sha256 = "{officer_hash}"
password_argon2 = "{officer_password}"
time_zone = "Asia/Manila"

[[duty_officers]]
id = "{PANAMA_OFFICER}"
name = "José Reyes"
token_sha256 = "{panama_officer_hash}"
password_argon2 = "{panama_officer_password}"
time_zone = "America/Panama"

[consoles.manila]
webhook_url = "{manila_url}"
signing_secret = "{MANILA_SECRET}"
emails = ["{MANILA_DUTY}"]
failover = "panama"
time_zone = "Asia/Manila"

[consoles.panama]
webhook_url = "{panama_url}"
signing_secret = "{PANAMA_SECRET}"
emails = ["{PANAMA_DUTY}"]

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "Watchkeeper <alerts@watchkeeper.test>"
timeout = "5s"

[webhook]
timeout = "2s"
attempts = 3
circuit_failures = 5
circuit_open = "30s"

[dispatcher]
console = "manila"

{policy}
"#,
        office_hash = token_hash(TOKEN),
        other_hash = token_hash(OTHER_TOKEN),
        watched_hash = token_hash(WATCHED_TOKEN),
        officer_hash = token_hash(OFFICER_TOKEN),
        panama_officer_hash = token_hash(PANAMA_OFFICER_TOKEN),
        office_password = password_hash(OFFICE_PASSWORD),
        officer_password = password_hash(OFFICER_PASSWORD),
        panama_officer_password = password_hash(PANAMA_OFFICER_PASSWORD),
    )
}

pub struct Watchkeeper {
    pub api_port: u16,
    /// The port that listens once the process is up (the api's, or the dispatcher's telemetry).
    wait_port: u16,
    service: Service,
    // Dropped after the service: the process dies before its directory goes.
    _dir: TempDir,
}

impl Watchkeeper {
    /// Starts `watchkeeper serve` with `config` and waits until its api listens.
    pub fn start(config: &str, api_port: u16) -> Watchkeeper {
        Watchkeeper::start_with_env(config, api_port, Vec::new())
    }

    /// Starts it with extra environment variables (configuration overrides, `OTEL_*`).
    pub fn start_with_env(config: &str, api_port: u16, env: Vec<(String, String)>) -> Watchkeeper {
        Watchkeeper::start_role(config, api_port, None, api_port, env)
    }

    /// Starts `watchkeeper serve --role ROLE` and waits until `wait_port` listens.
    pub fn start_role(
        config: &str,
        api_port: u16,
        role: Option<&'static str>,
        wait_port: u16,
        env: Vec<(String, String)>,
    ) -> Watchkeeper {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("watchkeeper.toml");
        std::fs::write(&path, config).unwrap();
        let mut service = Service::new("watchkeeper", binary(), dir.path(), "watchkeeper.log")
            .args(["serve", "--config"])
            .arg(&path)
            .args(role.iter().flat_map(|role| ["--role", role]))
            .env("WATCHKEEPER_LOG", "info");
        for (key, value) in env {
            service = service.env(key, value);
        }
        let mut watchkeeper = Watchkeeper {
            api_port,
            wait_port,
            service,
            _dir: dir,
        };
        watchkeeper.spawn();
        watchkeeper
    }

    /// One deployment as two processes: `--role api` on `settings.api_port`, then `--role
    /// dispatcher` (waited for on a telemetry port of its own), each with `env`.
    pub fn start_split(
        settings: &mut Settings,
        env: impl Fn() -> Vec<(String, String)>,
    ) -> (Watchkeeper, Watchkeeper) {
        let api_port = settings.api_port;
        let api = Watchkeeper::start_role(
            &config_text(settings),
            api_port,
            Some("api"),
            api_port,
            env(),
        );
        settings.telemetry_port = crate::free_port();
        let dispatcher = Watchkeeper::start_role(
            &config_text(settings),
            api_port,
            Some("dispatcher"),
            settings.telemetry_port,
            env(),
        );
        (api, dispatcher)
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it to be gone.
    pub fn kill9(&mut self) {
        self.service.kill();
    }

    /// Starts the process again with the same configuration (topics, group, port).
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn spawn(&mut self) {
        self.service.start().expect("start watchkeeper");
        if let Err(error) =
            wk_harness::wait_for_port(self.wait_port, &mut self.service, Duration::from_secs(60))
        {
            panic!("{error:#}\n{}", self.log());
        }
    }

    pub fn log(&self) -> String {
        self.service.log()
    }

    /// Waits up to `timeout` for `condition` (checked every 25 ms); panics naming `what`, with
    /// this process's log, if it never held.
    pub async fn expect(&self, timeout: Duration, what: &str, condition: impl FnMut() -> bool) {
        assert!(
            crate::wait_until(timeout, condition).await,
            "not within {timeout:?}: {what}\n{}",
            self.log()
        );
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    pub async fn client(&self) -> AlertIngestClient<Channel> {
        AlertIngestClient::new(crate::channel(&self.endpoint()).await)
    }

    pub async fn console(&self) -> AlertConsoleClient<Channel> {
        AlertConsoleClient::new(crate::channel(&self.endpoint()).await)
    }

    /// Sends SIGHUP (read the roster again).
    pub fn hangup(&self) {
        let pid = self.service.pid().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success());
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        self.service.terminate()
    }
}

/// The duty officer's (`OFFICER_TOKEN`) acknowledge or resolve request for `alert_id`.
pub fn officer_action(alert_id: &str) -> tonic::Request<pb::AlertActionRequest> {
    authorized(
        pb::AlertActionRequest {
            alert_id: alert_id.to_owned(),
        },
        OFFICER_TOKEN,
    )
}

/// A request carrying `token` as its bearer token.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A valid alert from `OFFICE`.
pub fn alert(title: &str, dedup_key: &str) -> pb::Alert {
    pb::Alert {
        office_id: OFFICE.into(),
        severity: pb::Severity::Critical as i32,
        category: pb::Category::SecurityIncident as i32,
        title: title.into(),
        description: "Two vehicles at the gate.\nStaff in the safe room.".into(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: Some(pb::Coordinates {
            latitude: 11.8464,
            longitude: 13.1603,
        }),
        occurred_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        staff_affected: 12,
        dedup_key: dedup_key.into(),
        labels: [("team".to_owned(), "wash".to_owned())]
            .into_iter()
            .collect(),
        origin: None,
    }
}

/// The regional security officer's address in `two_step_chain`.
pub const RSO: &str = "rso@watchkeeper.test";

/// Policy sections for a two-step chain: the Manila console, then after 3 s the regional
/// security officer (who waits 60 s). A later alert's second step is the tests' barrier: once
/// it arrives, an earlier alert's second step would have too, had nothing stopped it.
pub fn two_step_chain() -> String {
    chain_policy("two", "3s", &["person:rso"], "60s")
}

/// Headquarters' address, `person:hq` in a chain.
pub const HQ: &str = "hq@watchkeeper.test";

/// Policy sections for chain `id`, the default route: the Manila console, then after `first`
/// the `second` targets (who wait `second_timeout`); `person:rso` is the regional security
/// officer, `RSO`.
pub fn chain_policy(id: &str, first: &str, second: &[&str], second_timeout: &str) -> String {
    chain(
        id,
        &[(first, &["console:manila"]), (second_timeout, second)],
    )
}

/// Policy sections for chain `id`, the default route, of `steps` (each its timeout and
/// targets), with the people `person:rso` (`RSO`, always declared) and `person:hq` (`HQ`, when
/// a step names it).
pub fn chain(id: &str, steps: &[(&str, &[&str])]) -> String {
    let mut text = format!("\n[[people]]\nid = \"rso\"\nemail = \"{RSO}\"\n");
    if steps
        .iter()
        .any(|(_, targets)| targets.contains(&"person:hq"))
    {
        text.push_str(&format!("\n[[people]]\nid = \"hq\"\nemail = \"{HQ}\"\n"));
    }
    text.push_str(&format!("\n[[chains]]\nid = \"{id}\"\n"));
    for (timeout, targets) in steps {
        let targets = targets
            .iter()
            .map(|target| format!("{target:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        text.push_str(&format!(
            "[[chains.steps]]\ntimeout = \"{timeout}\"\ntargets = [{targets}]\n"
        ));
    }
    text.push_str(&format!("\n[routing]\ndefault_chain = \"{id}\"\n"));
    text
}

/// Every real component one test needs, each on its own free ports and directories.
pub struct Stack {
    pub broker: Broker,
    pub smtp: SmtpSink,
    pub manila: Console,
    pub panama: Console,
    pub app: Watchkeeper,
    pub settings: Settings,
}

impl Stack {
    /// Submits a valid alert from `OFFICE`; returns its id.
    pub async fn submit(&self, title: &str, dedup_key: &str) -> String {
        let request = pb::SubmitAlertRequest {
            alert: Some(alert(title, dedup_key)),
        };
        self.app
            .client()
            .await
            .submit_alert(authorized(request, TOKEN))
            .await
            .unwrap()
            .into_inner()
            .alert_id
    }

    /// Submits a valid alert from `OFFICE` once the api accepts it again (after a broker
    /// outage): every refusal until then must be UNAVAILABLE; panics after `within`.
    pub async fn submit_when_back(&self, title: &str, dedup_key: &str, within: Duration) -> String {
        let mut client = self.app.client().await;
        let deadline = Instant::now() + within;
        loop {
            let request = pb::SubmitAlertRequest {
                alert: Some(alert(title, dedup_key)),
            };
            // A refusal takes up to `produce_timeout` while the broker is away: no busy loop.
            match client.submit_alert(authorized(request, TOKEN)).await {
                Ok(response) => return response.into_inner().alert_id,
                Err(status) => {
                    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
                    assert!(
                        Instant::now() < deadline,
                        "no success within {within:?} of the restart:\n{}",
                        self.app.log()
                    );
                }
            }
        }
    }

    /// The alert's state from GetAlert once `ready` holds for it (the api's view follows the
    /// changelog, a moment behind the dispatcher); panics after a minute.
    pub async fn state_when(
        &self,
        alert_id: &str,
        ready: impl Fn(&pb::EscalationState) -> bool,
    ) -> pb::EscalationState {
        let mut console = self.app.console().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let request = authorized(
                pb::GetAlertRequest {
                    alert_id: alert_id.into(),
                },
                OFFICER_TOKEN,
            );
            if let Ok(response) = console.get_alert(request).await
                && let Some(state) = response.into_inner().state
                && ready(&state)
            {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "state of {alert_id} not ready:\n{}",
                self.app.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `within` until `console` has received exactly `count` webhooks for
    /// `alert_id`; panics with the process's log otherwise.
    pub async fn expect_webhooks(
        &self,
        console: &Console,
        alert_id: &str,
        count: usize,
        within: Duration,
    ) {
        let what = format!("{count} webhook(s) for {alert_id} at {}", console.url);
        self.app
            .expect(within, &what, || {
                console.received_for(alert_id).len() == count
            })
            .await;
    }

    /// Waits up to `within` until exactly `count` emails went to `address`; panics with the
    /// process's log otherwise.
    pub async fn expect_emails(&self, address: &str, count: usize, within: Duration) {
        let what = format!("{count} email(s) to {address}");
        self.app
            .expect(within, &what, || {
                self.smtp.emails_to(address).len() == count
            })
            .await;
    }

    /// `two_step_chain`'s barrier: submits a later alert (`dedup_key`) and waits for its
    /// second step at the RSO, then checks the RSO got nothing else, so an earlier alert
    /// whose escalation was stopped did not escalate.
    pub async fn expect_only_a_later_alert_escalates(&self, dedup_key: &str, within: Duration) {
        self.submit("Marker", dedup_key).await;
        self.expect_emails(RSO, 1, within).await;
        let subject = &self.smtp.emails_to(RSO)[0].subject;
        assert!(
            subject.contains("Marker"),
            "an earlier alert escalated: {subject}"
        );
    }

    /// A stack with the single-console shorthand (every alert to Manila).
    pub async fn start(partitions: u32) -> Stack {
        Stack::with_policy(partitions, String::new()).await
    }

    /// A stack whose configuration ends with `policy` (people, schedules, chains, routing).
    pub async fn with_policy(partitions: u32, policy: String) -> Stack {
        Stack::with_env(partitions, policy, Vec::new()).await
    }

    /// A stack whose process also gets `env` (e.g. `WATCHKEEPER__A__B` overrides).
    pub async fn with_env(partitions: u32, policy: String, env: Vec<(String, String)>) -> Stack {
        Stack::with_broker(Broker::start(), partitions, policy, env).await
    }

    /// A stack on a broker the test started itself (e.g. behind a proxy).
    pub async fn with_broker(
        broker: Broker,
        partitions: u32,
        policy: String,
        env: Vec<(String, String)>,
    ) -> Stack {
        let smtp = SmtpSink::start();
        let manila = Console::start().await;
        let panama = Console::start().await;
        let settings = Settings {
            brokers: broker.address(),
            smtp_port: smtp.port,
            manila_url: manila.url.clone(),
            panama_url: panama.url.clone(),
            policy,
            api_port: crate::free_port(),
            http_port: crate::free_port(),
            telemetry_port: crate::free_port(),
            partitions,
            produce_timeout: "3s",
            topic_prefix: crate::unique_name("wk"),
        };
        let app = Watchkeeper::start_with_env(&config_text(&settings), settings.api_port, env);
        Stack {
            broker,
            smtp,
            manila,
            panama,
            app,
            settings,
        }
    }
}
