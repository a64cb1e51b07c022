//! The configuration model: TOML text plus `WATCHKEEPER__…` environment overrides in, a typed
//! and fully validated [`Config`] out, or every error with the field it concerns. Pure: the
//! caller reads the file and the environment and passes them in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::policy::{ConsoleContact, Policy};
use crate::validate::check_office_id;

mod lenient;
mod policy;
mod web;

pub use web::WebConfig;

/// The prefix of environment overrides: `WATCHKEEPER__SMTP__PASSWORD=…` sets `smtp.password`.
pub const ENV_PREFIX: &str = "WATCHKEEPER__";

/// One configuration problem, with the field (or line) it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let plural = if count == 1 { "" } else { "s" };
        writeln!(f, "invalid configuration ({count} error{plural}):")?;
        for error in &self.0 {
            writeln!(f, "  {error}")?;
        }
        Ok(())
    }
}

/// The validated configuration of a Watchkeeper process.
#[derive(Clone, Debug)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub api: ApiConfig,
    pub offices: Vec<Office>,
    pub duty_officers: Vec<DutyOfficer>,
    pub consoles: BTreeMap<String, Console>,
    pub smtp: SmtpConfig,
    pub webhook: WebhookConfig,
    pub dispatcher: DispatcherConfig,
    /// One-click action links in emails, when configured.
    pub links: Option<LinksConfig>,
    /// The web console's sessions and default time zone.
    pub web: WebConfig,
    /// Where `/metrics`, `/healthz` and `/readyz` are served, if anywhere.
    pub telemetry_listen: Option<SocketAddr>,
    /// OpenTelemetry trace export (OTLP over HTTP/protobuf), when configured.
    pub otlp: Option<OtlpConfig>,
    /// People, schedules, regions, chains and routes.
    pub policy: Policy,
    pub shutdown_grace: Duration,
}

/// Where spans go: an OpenTelemetry collector's OTLP/HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The traces URL, `<otlp_endpoint>/v1/traces`.
    pub traces_url: url::Url,
    /// `service.name` of the exported spans (the role is added as `watchkeeper.role`).
    pub service_name: String,
}

#[derive(Clone, Debug)]
pub struct KafkaConfig {
    pub brokers: String,
    pub alerts_topic: String,
    pub state_topic: String,
    pub dead_letter_topic: String,
    pub partitions: i32,
    /// -1 lets the broker choose its default.
    pub replication_factor: i32,
    pub consumer_group: String,
    /// How long a produce may wait for the broker's acknowledgement before the alert is refused
    /// with UNAVAILABLE.
    pub produce_timeout: Duration,
    /// Passed to librdkafka as they are, e.g. `security.protocol`, `sasl.mechanism`.
    pub properties: BTreeMap<String, String>,
}

/// TLS for the api's listeners: PEM files read at start-up.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    /// CA of the client certificates field offices may present on gRPC (mutual TLS).
    pub client_ca: Option<std::path::PathBuf>,
    /// Refuse gRPC clients without a certificate from `client_ca`.
    pub require_client_cert: bool,
}

/// Signed action links: where they point and how they are signed.
#[derive(Clone, Debug)]
pub struct LinksConfig {
    /// The public base URL of the api's HTTP listener, e.g. `https://watchkeeper.example.org`.
    pub base_url: url::Url,
    /// Signing secrets; the first signs, all verify (rotation).
    pub secrets: Vec<String>,
    pub ttl: Duration,
}

#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    /// The HTTP listener for the web console, email links and console callbacks, if any.
    pub http_listen: Option<SocketAddr>,
    /// TLS for both listeners, when configured.
    pub tls: Option<TlsConfig>,
    pub max_message_bytes: usize,
    /// Submissions waiting for the broker at once; more are refused with RESOURCE_EXHAUSTED.
    pub max_in_flight: usize,
    pub max_batch: usize,
}

/// A field office and the SHA-256 of its bearer token (the token itself is never stored).
#[derive(Clone, Debug)]
pub struct Office {
    pub id: String,
    pub name: String,
    /// SHA-256 of the accepted tokens: the current one, and the previous one during a rotation.
    pub token_hashes: Vec<[u8; 32]>,
    /// Alerts per second this office may submit, sustained; more are refused with
    /// RESOURCE_EXHAUSTED so that one flooding office cannot crowd out the others.
    pub rate_per_second: u32,
    /// Alerts it may submit at once above that rate (an incident produces a burst).
    pub burst: u32,
    /// The argon2id hash (PHC form) of the office's web-console password, if it may sign in.
    pub password_hash: Option<String>,
}

/// A duty officer's console-API identity: the SHA-256 of their bearer token, and their role.
#[derive(Clone, Debug)]
pub struct DutyOfficer {
    pub id: String,
    /// SHA-256 of the accepted tokens: the current one, and the previous one during a rotation.
    pub token_hashes: Vec<[u8; 32]>,
    pub admin: bool,
    /// The name the console shows and the timeline records (the id when none is given).
    pub name: String,
    /// The argon2id hash (PHC form) of the officer's web-console password, if they sign in.
    pub password_hash: Option<String>,
    /// The zone the console shows times in beside UTC (`[web] time_zone` when absent).
    pub time_zone: Option<jiff::tz::TimeZone>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDutyOfficer {
    id: String,
    token_sha256: String,
    #[serde(default)]
    previous_token_sha256: Option<String>,
    /// `duty-officer` (the default) or `admin`.
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    name: Option<String>,
    /// Web-console password, hashed by `watchkeeper hash-password`.
    #[serde(default)]
    password_argon2: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

/// An operations-centre console: a webhook endpoint and a duty mailbox list.
#[derive(Clone, Debug)]
pub struct Console {
    pub name: String,
    pub webhook_url: url::Url,
    /// Secrets to sign with; two during a rotation, the new one first.
    pub signing_secrets: Vec<String>,
    pub emails: Vec<String>,
    /// The console notified at once when this one cannot be reached.
    pub failover: Option<String>,
    /// Where the console's duty officers are: their emails give times in this zone too.
    pub time_zone: Option<jiff::tz::TimeZone>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain TCP, upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: for a relay on the same host or tests only.
    None,
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
    pub timeout: Duration,
    /// A transiently failing email (server down, 4xx) is retried until the server takes it or
    /// this long has passed since the first attempt; then it is given up and dead-lettered.
    pub retry_for: Duration,
}

#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub timeout: Duration,
    /// Attempts per webhook before it is parked (and the console fails over); it is retried
    /// on, as the console's circuit allows, until `retry_for`.
    pub attempts: u32,
    /// How long a webhook is retried (parked while its console's circuit is open) before it
    /// is given up, which is itself notified to a human.
    pub retry_for: Duration,
    /// Consecutive failures that open a console's circuit, and how long it stays open.
    pub circuit_failures: u32,
    pub circuit_open: Duration,
}

#[derive(Clone, Debug)]
pub struct DispatcherConfig {
    /// The single-console shorthand: every alert goes to this console (and its duty officers)
    /// when no `[routing]` is configured.
    pub console: Option<String>,
    /// Told when a notification could not be delivered and the chain has nobody reachable
    /// left (with every console's mailboxes).
    pub operators: Vec<String>,
}

// ---- raw serde shapes -------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    kafka: RawKafka,
    #[serde(default)]
    api: RawApi,
    #[serde(default)]
    offices: Vec<RawOffice>,
    #[serde(default)]
    duty_officers: Vec<RawDutyOfficer>,
    #[serde(default)]
    consoles: BTreeMap<String, RawConsole>,
    smtp: RawSmtp,
    #[serde(default)]
    webhook: RawWebhook,
    #[serde(default)]
    dispatcher: RawDispatcher,
    #[serde(default)]
    links: Option<RawLinks>,
    #[serde(default)]
    web: web::RawWeb,
    #[serde(default)]
    telemetry: Option<RawTelemetry>,
    #[serde(default)]
    people: Vec<policy::RawPerson>,
    #[serde(default)]
    schedules: Vec<policy::RawSchedule>,
    #[serde(default)]
    regions: Vec<policy::RawRegion>,
    #[serde(default)]
    chains: Vec<policy::RawChain>,
    #[serde(default)]
    routing: Option<policy::RawRouting>,
    #[serde(default = "default_grace")]
    shutdown_grace: String,
}

fn default_grace() -> String {
    "20s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKafka {
    brokers: String,
    #[serde(default = "default_alerts_topic")]
    alerts_topic: String,
    #[serde(default = "default_state_topic")]
    state_topic: String,
    #[serde(default = "default_dead_letter_topic")]
    dead_letter_topic: String,
    #[serde(default = "default_partitions", deserialize_with = "lenient::whole")]
    partitions: i64,
    #[serde(default = "default_replication", deserialize_with = "lenient::whole")]
    replication_factor: i64,
    #[serde(default = "default_group")]
    consumer_group: String,
    #[serde(default = "default_produce_timeout")]
    produce_timeout: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

fn default_alerts_topic() -> String {
    "watchkeeper.alerts".into()
}
fn default_state_topic() -> String {
    "watchkeeper.alert-state".into()
}
fn default_dead_letter_topic() -> String {
    "watchkeeper.dead-letter".into()
}
fn default_partitions() -> i64 {
    6
}
fn default_replication() -> i64 {
    -1
}
fn default_group() -> String {
    "watchkeeper-dispatcher".into()
}
fn default_produce_timeout() -> String {
    "5s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: String,
    key: String,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    require_client_cert: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTelemetry {
    #[serde(default)]
    listen: Option<String>,
    /// The collector's OTLP/HTTP base URL, e.g. `http://otel-collector:4318`.
    #[serde(default)]
    otlp_endpoint: Option<String>,
    #[serde(default = "default_service_name")]
    service_name: String,
}

fn default_service_name() -> String {
    "watchkeeper".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    base_url: String,
    secret: String,
    #[serde(default)]
    previous_secret: Option<String>,
    #[serde(default = "default_link_ttl")]
    ttl: String,
}

fn default_link_ttl() -> String {
    "24h".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    http_listen: Option<String>,
    #[serde(default)]
    tls: Option<RawTls>,
    #[serde(
        default = "default_max_message_bytes",
        deserialize_with = "lenient::whole"
    )]
    max_message_bytes: i64,
    #[serde(default = "default_max_in_flight", deserialize_with = "lenient::whole")]
    max_in_flight: i64,
    #[serde(default = "default_max_batch", deserialize_with = "lenient::whole")]
    max_batch: i64,
    #[serde(default = "default_office_rate", deserialize_with = "lenient::whole")]
    office_rate: i64,
    #[serde(default = "default_office_burst", deserialize_with = "lenient::whole")]
    office_burst: i64,
}

/// Far above what a field office sends in an incident, far below what a runaway script does.
fn default_office_rate() -> i64 {
    50
}

fn default_office_burst() -> i64 {
    500
}

impl Default for RawApi {
    fn default() -> RawApi {
        RawApi {
            listen: default_listen(),
            http_listen: None,
            tls: None,
            max_message_bytes: default_max_message_bytes(),
            max_in_flight: default_max_in_flight(),
            office_rate: default_office_rate(),
            office_burst: default_office_burst(),
            max_batch: default_max_batch(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:50051".into()
}
fn default_max_message_bytes() -> i64 {
    1024 * 1024
}
fn default_max_in_flight() -> i64 {
    4096
}
fn default_max_batch() -> i64 {
    500
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffice {
    id: String,
    #[serde(default)]
    name: String,
    token_sha256: String,
    /// Overrides `api.office_rate` for this office.
    #[serde(default)]
    rate: Option<i64>,
    /// Overrides `api.office_burst` for this office.
    #[serde(default)]
    burst: Option<i64>,
    /// Still accepted during a token rotation; remove once the office uses the new token.
    #[serde(default)]
    previous_token_sha256: Option<String>,
    /// Web-console password, hashed by `watchkeeper hash-password`.
    #[serde(default)]
    password_argon2: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    webhook_url: String,
    signing_secret: String,
    #[serde(default)]
    previous_signing_secret: Option<String>,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    failover: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    #[serde(deserialize_with = "lenient::whole")]
    port: i64,
    security: SmtpSecurity,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    from: String,
    #[serde(default = "default_io_timeout")]
    timeout: String,
    #[serde(default = "default_retry_for")]
    retry_for: String,
}

fn default_retry_for() -> String {
    "6h".into()
}

fn default_io_timeout() -> String {
    "10s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    #[serde(default = "default_io_timeout")]
    timeout: String,
    #[serde(
        default = "default_webhook_attempts",
        deserialize_with = "lenient::whole"
    )]
    attempts: i64,
    #[serde(
        default = "default_circuit_failures",
        deserialize_with = "lenient::whole"
    )]
    circuit_failures: i64,
    #[serde(default = "default_circuit_open")]
    circuit_open: String,
    #[serde(default = "default_retry_for")]
    retry_for: String,
}

fn default_webhook_attempts() -> i64 {
    3
}
fn default_circuit_failures() -> i64 {
    5
}
fn default_circuit_open() -> String {
    "30s".into()
}

impl Default for RawWebhook {
    fn default() -> RawWebhook {
        RawWebhook {
            timeout: default_io_timeout(),
            attempts: default_webhook_attempts(),
            circuit_failures: default_circuit_failures(),
            circuit_open: default_circuit_open(),
            retry_for: default_retry_for(),
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDispatcher {
    #[serde(default)]
    console: Option<String>,
    #[serde(default)]
    operators: Vec<String>,
}

// ---- loading ----------------------------------------------------------------------------------

#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Parses a duration of at least `min`; on error records it and returns `min`.
    fn duration(&mut self, field: &str, text: &str, min: Duration) -> Duration {
        match parse_duration(text) {
            Ok(duration) if duration >= min => duration,
            Ok(_) => {
                self.push(field, format!("{text:?} is less than {min:?}"));
                min
            }
            Err(message) => {
                self.push(field, message);
                min
            }
        }
    }

    fn in_range(&mut self, field: &str, value: i64, min: i64, max: i64) -> i64 {
        if !(min..=max).contains(&value) {
            self.push(field, format!("{value} is not in {min}..={max}"));
        }
        value.clamp(min, max)
    }

    /// Parses the `token_sha256` (and `previous_token_sha256`, during a rotation) of `field`;
    /// every token must be distinct across offices and duty officers, since a token identifies
    /// exactly one caller.
    fn token_hashes(
        &mut self,
        field: &str,
        current: &str,
        previous: Option<&str>,
        seen: &mut BTreeSet<[u8; 32]>,
    ) -> Vec<[u8; 32]> {
        let mut hashes = Vec::new();
        let previous = previous.filter(|text| !text.is_empty());
        for (key, text) in [
            ("token_sha256", Some(current)),
            ("previous_token_sha256", previous),
        ] {
            let Some(text) = text else { continue };
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(text, &mut hash).is_err() {
                self.push(
                    format!("{field}.{key}"),
                    "must be 64 hex digits (see `watchkeeper hash-token`)",
                );
            } else if !seen.insert(hash) {
                self.push(format!("{field}.{key}"), "is shared with another token");
            } else {
                hashes.push(hash);
            }
        }
        hashes
    }

    fn non_empty(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.push(field, "must not be empty");
        }
    }
}

/// Parses a duration such as `5s`, `250ms` or `2m 30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text
        .parse()
        .map_err(|error| format!("{text:?} is not a duration such as \"5s\": {error}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} must not be negative"))
}

/// A plausible mailbox: `local@domain`, no spaces. Delivery is the final judge.
fn check_email(address: &str) -> Result<(), String> {
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!("{address:?} is not an email address")),
    }
}

fn check_topic(errors: &mut Errors, field: &str, name: &str) {
    let valid = !name.is_empty()
        && name.len() <= 249
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid {
        errors.push(field, format!("{name:?} is not a Kafka topic name"));
    }
}

/// Applies `WATCHKEEPER__A__B=value` overrides to the parsed TOML: the path is lower-cased and
/// split on `__`; the value replaces a string, or a comma-separated list replaces an array.
fn apply_overrides(
    document: &mut toml::Table,
    environment: impl IntoIterator<Item = (String, String)>,
    errors: &mut Errors,
) {
    for (name, value) in environment {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let Some((last, parents)) = segments.split_last() else {
            continue;
        };
        if last.is_empty() {
            continue;
        }
        if let Err(reason) = set_path(document, parents, last, value) {
            errors.push(name.clone(), reason);
        }
    }
}

/// Sets `parents.last` in `table`, creating tables on the way; `Err` says what is wrong (a
/// parent that is not a table, a number or flag that does not parse).
fn set_path(
    table: &mut toml::Table,
    parents: &[String],
    last: &str,
    value: String,
) -> Result<(), String> {
    if let Some((first, rest)) = parents.split_first() {
        let entry = table
            .entry(first.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        return match entry {
            toml::Value::Table(inner) => set_path(inner, rest, last, value),
            _ => Err(format!("{first} is not a table")),
        };
    }
    let replacement = match table.get(last) {
        Some(toml::Value::Array(_)) => toml::Value::Array(
            value
                .split(',')
                .map(|item| toml::Value::String(item.trim().to_owned()))
                .collect(),
        ),
        // A number or a flag in the file stays one.
        Some(toml::Value::Integer(_)) => toml::Value::Integer(
            value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not a whole number, as {last} needs"))?,
        ),
        Some(toml::Value::Boolean(_)) => toml::Value::Boolean(
            value
                .trim()
                .parse()
                .map_err(|_| format!("{value:?} is not true or false, as {last} needs"))?,
        ),
        _ => toml::Value::String(value),
    };
    table.insert(last.to_owned(), replacement);
    Ok(())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |head| head.matches('\n').count())
        + 1
}

/// A deserializer's message without our internal type names ("expected struct RawKafka").
fn readable(message: &str) -> String {
    match message.find("expected struct Raw") {
        Some(at) => format!("{}expected a table", &message[..at]),
        None => message.to_owned(),
    }
}

impl Config {
    /// Parses and validates `text`, after applying the `WATCHKEEPER__…` entries of
    /// `environment`. Reports every problem found, each with its field.
    pub fn from_toml(
        text: &str,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigErrors> {
        let mut errors = Errors::default();
        let mut document: toml::Table = toml::from_str(text).map_err(|error| {
            let line = error.span().map_or(0, |span| line_of(text, span.start));
            ConfigErrors(vec![ConfigError {
                field: format!("line {line}"),
                message: error.message().to_owned(),
            }])
        })?;
        apply_overrides(&mut document, environment, &mut errors);
        // The path names the offending field (`kafka`, `consoles.manila.webhook_url`).
        let raw: RawConfig = serde_path_to_error::deserialize(document).map_err(|error| {
            let mut all = std::mem::take(&mut errors.0);
            let field = match error.path().to_string() {
                path if path == "." => "config".to_owned(),
                path => path,
            };
            all.push(ConfigError {
                field,
                message: readable(error.inner().message()),
            });
            ConfigErrors(all)
        })?;
        let config = Config::check(raw, &mut errors);
        if errors.0.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(errors.0))
        }
    }

    fn check(raw: RawConfig, errors: &mut Errors) -> Config {
        let kafka = {
            let k = raw.kafka;
            errors.non_empty("kafka.brokers", &k.brokers);
            check_topic(errors, "kafka.alerts_topic", &k.alerts_topic);
            check_topic(errors, "kafka.state_topic", &k.state_topic);
            check_topic(errors, "kafka.dead_letter_topic", &k.dead_letter_topic);
            let topics: BTreeSet<&str> = [&k.alerts_topic, &k.state_topic, &k.dead_letter_topic]
                .map(String::as_str)
                .into();
            if topics.len() != 3 {
                errors.push(
                    "kafka",
                    "alerts_topic, state_topic and dead_letter_topic must differ",
                );
            }
            errors.non_empty("kafka.consumer_group", &k.consumer_group);
            let replication_factor =
                errors.in_range("kafka.replication_factor", k.replication_factor, -1, 32);
            if replication_factor == 0 {
                errors.push(
                    "kafka.replication_factor",
                    "must be -1 (broker default) or at least 1",
                );
            }
            KafkaConfig {
                partitions: errors.in_range("kafka.partitions", k.partitions, 1, 1024) as i32,
                replication_factor: replication_factor as i32,
                produce_timeout: errors.duration(
                    "kafka.produce_timeout",
                    &k.produce_timeout,
                    Duration::from_millis(100),
                ),
                brokers: k.brokers,
                alerts_topic: k.alerts_topic,
                state_topic: k.state_topic,
                dead_letter_topic: k.dead_letter_topic,
                consumer_group: k.consumer_group,
                properties: k.properties,
            }
        };

        let http_listen = raw.api.http_listen.as_deref().and_then(|text| {
            text.parse::<SocketAddr>()
                .map_err(|_| {
                    errors.push(
                        "api.http_listen",
                        format!("{text:?} is not an address such as 127.0.0.1:8080"),
                    )
                })
                .ok()
        });
        let links = raw.links.and_then(|links| {
            if links.secret.len() < 32 {
                errors.push(
                    "links.secret",
                    "must be at least 32 characters (set it with WATCHKEEPER__LINKS__SECRET)",
                );
            }
            let ttl = errors.duration("links.ttl", &links.ttl, Duration::from_secs(60));
            let Some(mut base_url) = url::Url::parse(&links.base_url)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"))
            else {
                errors.push(
                    "links.base_url",
                    format!("{:?} is not an http(s) URL", links.base_url),
                );
                return None;
            };
            // A path prefix (behind a reverse proxy) is a directory, with or without its
            // trailing slash: links are joined onto it, never replacing its last segment.
            if !base_url.path().ends_with('/') {
                let path = format!("{}/", base_url.path());
                base_url.set_path(&path);
            }
            let mut secrets = vec![links.secret];
            secrets.extend(links.previous_secret.filter(|secret| !secret.is_empty()));
            Some(LinksConfig {
                base_url,
                secrets,
                ttl,
            })
        });
        let telemetry = raw.telemetry.unwrap_or(RawTelemetry {
            listen: None,
            otlp_endpoint: None,
            service_name: default_service_name(),
        });
        let telemetry_listen = telemetry.listen.and_then(|listen| {
            listen
                .parse::<SocketAddr>()
                .map_err(|_| {
                    errors.push(
                        "telemetry.listen",
                        format!("{listen:?} is not an address such as 0.0.0.0:9090"),
                    )
                })
                .ok()
        });
        let otlp = telemetry
            .otlp_endpoint
            .filter(|endpoint| !endpoint.is_empty())
            .and_then(|endpoint| {
                let traces_url = url::Url::parse(&endpoint)
                    .ok()
                    .filter(|url| {
                        matches!(url.scheme(), "http" | "https")
                            && url.host().is_some()
                            && url.query().is_none()
                    })
                    .and_then(|url| {
                        let base = url.as_str().trim_end_matches('/');
                        url::Url::parse(&format!("{base}/v1/traces")).ok()
                    });
                if traces_url.is_none() {
                    errors.push(
                        "telemetry.otlp_endpoint",
                        format!(
                            "{endpoint:?} is not a collector's base URL such as http://otel-collector:4318"
                        ),
                    );
                }
                if telemetry.service_name.trim().is_empty() {
                    errors.push("telemetry.service_name", "must not be empty");
                }
                Some(OtlpConfig {
                    traces_url: traces_url?,
                    service_name: telemetry.service_name,
                })
            });
        if links.is_some() && http_listen.is_none() {
            errors.push(
                "api.http_listen",
                "is required when [links] is configured (the links point to it)",
            );
        }
        let tls = raw.api.tls.map(|tls| {
            if tls.require_client_cert && tls.client_ca.is_none() {
                errors.push("api.tls.require_client_cert", "needs api.tls.client_ca");
            }
            for (field, value) in [("api.tls.cert", &tls.cert), ("api.tls.key", &tls.key)] {
                errors.non_empty(field, value);
            }
            TlsConfig {
                cert: tls.cert.into(),
                key: tls.key.into(),
                client_ca: tls.client_ca.map(Into::into),
                require_client_cert: tls.require_client_cert,
            }
        });
        let api = ApiConfig {
            http_listen,
            tls,
            listen: raw.api.listen.parse().unwrap_or_else(|_| {
                errors.push(
                    "api.listen",
                    format!(
                        "{:?} is not an address such as 127.0.0.1:50051",
                        raw.api.listen
                    ),
                );
                SocketAddr::from(([127, 0, 0, 1], 0))
            }),
            max_message_bytes: errors.in_range(
                "api.max_message_bytes",
                raw.api.max_message_bytes,
                1024,
                64 << 20,
            ) as usize,
            max_in_flight: errors.in_range("api.max_in_flight", raw.api.max_in_flight, 1, 1 << 20)
                as usize,
            max_batch: errors.in_range("api.max_batch", raw.api.max_batch, 1, 10_000) as usize,
        };
        errors.in_range("api.office_rate", raw.api.office_rate, 1, 1_000_000);
        errors.in_range("api.office_burst", raw.api.office_burst, 1, 1_000_000);

        let mut offices = Vec::with_capacity(raw.offices.len());
        let mut office_ids = BTreeSet::new();
        let mut token_hashes = BTreeSet::new();
        for (index, office) in raw.offices.into_iter().enumerate() {
            let field = format!("offices[{index}]");
            if let Err(reason) = check_office_id(&office.id) {
                errors.push(format!("{field}.id"), reason);
            }
            if !office_ids.insert(office.id.clone()) {
                errors.push(
                    format!("{field}.id"),
                    format!("{:?} appears twice", office.id),
                );
            }
            let token_hashes = errors.token_hashes(
                &field,
                &office.token_sha256,
                office.previous_token_sha256.as_deref(),
                &mut token_hashes,
            );
            let rate = office.rate.map_or(raw.api.office_rate, |rate| {
                errors.in_range(&format!("{field}.rate"), rate, 1, 1_000_000)
            });
            let burst = office.burst.map_or(raw.api.office_burst, |burst| {
                errors.in_range(&format!("{field}.burst"), burst, 1, 1_000_000)
            });
            let password_hash = office.password_argon2.as_deref().and_then(|text| {
                web::password_hash(errors, &format!("{field}.password_argon2"), text)
            });
            offices.push(Office {
                password_hash,
                name: if office.name.is_empty() {
                    office.id.clone()
                } else {
                    office.name
                },
                id: office.id,
                token_hashes,
                rate_per_second: u32::try_from(rate.clamp(1, 1_000_000)).unwrap_or(1),
                burst: u32::try_from(burst.clamp(1, 1_000_000)).unwrap_or(1),
            });
        }

        let mut duty_officers = Vec::with_capacity(raw.duty_officers.len());
        for (index, officer) in raw.duty_officers.into_iter().enumerate() {
            let field = format!("duty_officers[{index}]");
            let officer_hashes = errors.token_hashes(
                &field,
                &officer.token_sha256,
                officer.previous_token_sha256.as_deref(),
                &mut token_hashes,
            );
            if officer.id.trim().is_empty() {
                errors.push(format!("{field}.id"), "must not be empty");
            }
            let admin = match officer.role.as_deref() {
                None | Some("duty-officer") => false,
                Some("admin") => true,
                Some(other) => {
                    errors.push(
                        format!("{field}.role"),
                        format!("{other:?} is not duty-officer or admin"),
                    );
                    false
                }
            };
            let password_hash = officer.password_argon2.as_deref().and_then(|text| {
                web::password_hash(errors, &format!("{field}.password_argon2"), text)
            });
            let time_zone = officer
                .time_zone
                .as_deref()
                .and_then(|name| web::time_zone(errors, &format!("{field}.time_zone"), name));
            duty_officers.push(DutyOfficer {
                name: officer
                    .name
                    .filter(|name| !name.trim().is_empty())
                    .unwrap_or_else(|| officer.id.clone()),
                id: officer.id,
                token_hashes: officer_hashes,
                admin,
                password_hash,
                time_zone,
            });
        }

        let mut consoles = BTreeMap::new();
        for (name, console) in raw.consoles {
            let field = format!("consoles.{name}");
            let webhook_url = match url::Url::parse(&console.webhook_url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => url,
                _ => {
                    errors.push(
                        format!("{field}.webhook_url"),
                        format!("{:?} is not an http(s) URL", console.webhook_url),
                    );
                    continue;
                }
            };
            let mut signing_secrets = vec![console.signing_secret];
            signing_secrets.extend(console.previous_signing_secret.filter(|s| !s.is_empty()));
            if signing_secrets[0].len() < 16 {
                errors.push(
                    format!("{field}.signing_secret"),
                    "must be at least 16 characters (set it with WATCHKEEPER__CONSOLES__NAME__SIGNING_SECRET)",
                );
            }
            for (index, email) in console.emails.iter().enumerate() {
                if let Err(reason) = check_email(email) {
                    errors.push(format!("{field}.emails[{index}]"), reason);
                }
            }
            consoles.insert(
                name.clone(),
                Console {
                    name,
                    webhook_url,
                    signing_secrets,
                    emails: console.emails,
                    failover: console.failover.filter(|name| !name.is_empty()),
                    time_zone: console.time_zone.as_deref().and_then(|name| {
                        web::time_zone(errors, &format!("{field}.time_zone"), name)
                    }),
                },
            );
        }
        for (name, console) in &consoles {
            if let Some(failover) = &console.failover
                && (failover == name || !consoles.contains_key(failover))
            {
                errors.push(
                    format!("consoles.{name}.failover"),
                    format!("{failover:?} is not another configured console"),
                );
            }
        }

        let smtp = SmtpConfig {
            port: errors.in_range("smtp.port", raw.smtp.port, 1, 65_535) as u16,
            timeout: errors.duration(
                "smtp.timeout",
                &raw.smtp.timeout,
                Duration::from_millis(100),
            ),
            retry_for: errors.duration("smtp.retry_for", &raw.smtp.retry_for, Duration::ZERO),
            host: raw.smtp.host,
            security: raw.smtp.security,
            username: raw.smtp.username.filter(|u| !u.is_empty()),
            password: raw.smtp.password.filter(|p| !p.is_empty()),
            from: raw.smtp.from,
        };
        errors.non_empty("smtp.host", &smtp.host);
        if smtp.username.is_some() != smtp.password.is_some() {
            errors.push("smtp", "username and password must be given together");
        }
        let from_address = smtp
            .from
            .rsplit_once('<')
            .map_or(smtp.from.as_str(), |(_, rest)| rest.trim_end_matches('>'));
        if let Err(reason) = check_email(from_address) {
            errors.push("smtp.from", reason);
        }

        let webhook = WebhookConfig {
            timeout: errors.duration(
                "webhook.timeout",
                &raw.webhook.timeout,
                Duration::from_millis(100),
            ),
            attempts: errors.in_range("webhook.attempts", raw.webhook.attempts, 1, 20) as u32,
            circuit_failures: errors.in_range(
                "webhook.circuit_failures",
                raw.webhook.circuit_failures,
                1,
                1000,
            ) as u32,
            circuit_open: errors.duration(
                "webhook.circuit_open",
                &raw.webhook.circuit_open,
                Duration::from_secs(1),
            ),
            retry_for: errors.duration(
                "webhook.retry_for",
                &raw.webhook.retry_for,
                Duration::from_secs(1),
            ),
        };

        for (index, address) in raw.dispatcher.operators.iter().enumerate() {
            if let Err(reason) = check_email(address) {
                errors.push(format!("dispatcher.operators[{index}]"), reason);
            }
        }
        let dispatcher = DispatcherConfig {
            console: raw.dispatcher.console,
            operators: raw.dispatcher.operators,
        };
        let policy = policy::RawPolicy {
            people: raw.people,
            schedules: raw.schedules,
            regions: raw.regions,
            chains: raw.chains,
            routing: raw.routing,
            single_console: dispatcher.console.clone(),
            operators: dispatcher.operators.clone(),
            consoles: consoles
                .values()
                .map(|console| {
                    let contact = ConsoleContact {
                        name: console.name.clone(),
                        emails: console.emails.clone(),
                        failover: console.failover.clone(),
                    };
                    (console.name.clone(), contact)
                })
                .collect(),
        }
        .check(errors);

        Config {
            shutdown_grace: errors.duration("shutdown_grace", &raw.shutdown_grace, Duration::ZERO),
            kafka,
            api,
            offices,
            duty_officers,
            consoles,
            smtp,
            webhook,
            dispatcher,
            links,
            web: raw.web.check(errors),
            telemetry_listen,
            otlp,
            policy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = r#"
shutdown_grace = "15s"

[kafka]
brokers = "127.0.0.1:9092"
partitions = 3

[api]
listen = "127.0.0.1:50051"

[[offices]]
id = "ng-maiduguri"
name = "Maiduguri sub-office"
token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[consoles.manila]
webhook_url = "https://console.manila.example.org/hooks/watchkeeper"
signing_secret = "change-me-change-me"
emails = ["duty.manila@example.org"]

[smtp]
host = "smtp.example.org"
port = 587
security = "starttls"
from = "Watchkeeper <alerts@example.org>"

[dispatcher]
console = "manila"
"#;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_example_with_defaults() {
        let config = Config::from_toml(EXAMPLE, []).unwrap();
        assert_eq!(config.kafka.partitions, 3);
        assert_eq!(config.kafka.alerts_topic, "watchkeeper.alerts");
        assert_eq!(config.kafka.produce_timeout, Duration::from_secs(5));
        assert_eq!(config.shutdown_grace, Duration::from_secs(15));
        assert_eq!(config.offices[0].token_hashes[0][0], 0x9f);
        assert_eq!(config.consoles["manila"].signing_secrets.len(), 1);
    }

    #[test]
    fn an_override_of_a_number_the_file_does_not_mention_is_a_number() {
        let config = Config::from_toml(
            EXAMPLE,
            env(&[
                ("WATCHKEEPER__WEBHOOK__CIRCUIT_FAILURES", "2"),
                ("WATCHKEEPER__API__MAX_BATCH", "50"),
            ]),
        )
        .unwrap();
        assert_eq!(config.webhook.circuit_failures, 2);
        let error = Config::from_toml(
            EXAMPLE,
            env(&[("WATCHKEEPER__WEBHOOK__CIRCUIT_FAILURES", "two")]),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("\"two\" is not a whole number"), "{error}");
    }

    #[test]
    fn a_links_base_url_with_a_path_prefix_keeps_it_with_or_without_its_slash() {
        for base in ["https://ops.example.org/wk", "https://ops.example.org/wk/"] {
            let config = Config::from_toml(
                EXAMPLE,
                env(&[
                    ("WATCHKEEPER__API__HTTP_LISTEN", "127.0.0.1:8080"),
                    ("WATCHKEEPER__LINKS__BASE_URL", base),
                    (
                        "WATCHKEEPER__LINKS__SECRET",
                        "links-secret-0123456789abcdef0123456789",
                    ),
                ]),
            )
            .unwrap();
            let links = config.links.unwrap();
            assert_eq!(
                links.base_url.join("a/x/acknowledge").unwrap().as_str(),
                "https://ops.example.org/wk/a/x/acknowledge",
                "{base}"
            );
        }
    }

    #[test]
    fn otlp_export_is_off_unless_an_endpoint_is_given() {
        assert_eq!(Config::from_toml(EXAMPLE, []).unwrap().otlp, None);
        let with = format!(
            "{EXAMPLE}\n[telemetry]\nlisten = \"127.0.0.1:9090\"\notlp_endpoint = \"http://otel-collector:4318/\"\n"
        );
        let otlp = Config::from_toml(&with, []).unwrap().otlp.unwrap();
        assert_eq!(
            otlp.traces_url.as_str(),
            "http://otel-collector:4318/v1/traces"
        );
        assert_eq!(otlp.service_name, "watchkeeper");
        // The environment turns it on without editing the file.
        let from_env = Config::from_toml(
            EXAMPLE,
            env(&[(
                "WATCHKEEPER__TELEMETRY__OTLP_ENDPOINT",
                "https://collector.example.org/otlp",
            )]),
        )
        .unwrap();
        assert_eq!(
            from_env.otlp.unwrap().traces_url.as_str(),
            "https://collector.example.org/otlp/v1/traces"
        );
    }

    #[test]
    fn a_bad_otlp_endpoint_names_its_field() {
        let bad = format!("{EXAMPLE}\n[telemetry]\notlp_endpoint = \"collector:4318\"\n");
        let error = Config::from_toml(&bad, []).unwrap_err().to_string();
        assert!(error.contains("telemetry.otlp_endpoint"), "{error}");
    }

    #[test]
    fn numbers_in_the_file_stay_numbers_when_the_environment_overrides_them() {
        let config =
            Config::from_toml(EXAMPLE, env(&[("WATCHKEEPER__KAFKA__PARTITIONS", "12")])).unwrap();
        assert_eq!(config.kafka.partitions, 12);
        let error = Config::from_toml(EXAMPLE, env(&[("WATCHKEEPER__KAFKA__PARTITIONS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("WATCHKEEPER__KAFKA__PARTITIONS"), "{error}");
    }

    #[test]
    fn offices_get_the_default_rate_limit_unless_they_set_their_own() {
        let config = Config::from_toml(EXAMPLE, []).unwrap();
        assert_eq!(
            (config.offices[0].rate_per_second, config.offices[0].burst),
            (50, 500)
        );
        let own = EXAMPLE.replace(
            "name = \"Maiduguri sub-office\"",
            "name = \"Maiduguri sub-office\"\nrate = 5\nburst = 20",
        );
        let config = Config::from_toml(&own, []).unwrap();
        assert_eq!(
            (config.offices[0].rate_per_second, config.offices[0].burst),
            (5, 20)
        );
        let zero = EXAMPLE.replace(
            "name = \"Maiduguri sub-office\"",
            "name = \"Maiduguri sub-office\"\nrate = 0",
        );
        let error = Config::from_toml(&zero, []).unwrap_err().to_string();
        assert!(error.contains("offices[0].rate"), "{error}");
    }

    #[test]
    fn environment_overrides_secrets_and_lists() {
        let config = Config::from_toml(
            EXAMPLE,
            env(&[
                (
                    "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
                    "a-much-better-secret",
                ),
                (
                    "WATCHKEEPER__CONSOLES__MANILA__EMAILS",
                    "a@example.org, b@example.org",
                ),
                ("WATCHKEEPER__SMTP__USERNAME", "watchkeeper"),
                ("WATCHKEEPER__SMTP__PASSWORD", "hunter2"),
                ("UNRELATED", "ignored"),
            ]),
        )
        .unwrap();
        let manila = &config.consoles["manila"];
        assert_eq!(manila.signing_secrets, ["a-much-better-secret"]);
        assert_eq!(manila.emails, ["a@example.org", "b@example.org"]);
        assert_eq!(config.smtp.password.as_deref(), Some("hunter2"));
    }

    #[test]
    fn reports_every_semantic_error_with_its_field() {
        let text = EXAMPLE
            .replace(
                "partitions = 3",
                "partitions = 0\nproduce_timeout = \"soon\"",
            )
            .replace("listen = \"127.0.0.1:50051\"", "listen = \"nowhere\"")
            .replace("9f86d0", "zz86d0")
            .replace("https://console", "ftp://console")
            .replace("port = 587", "port = 70000")
            .replace("console = \"manila\"", "console = \"lagos\"");
        let ConfigErrors(errors) = Config::from_toml(&text, []).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "kafka.partitions",
                "kafka.produce_timeout",
                "api.listen",
                "offices[0].token_sha256",
                "consoles.manila.webhook_url",
                "smtp.port",
                "dispatcher.console",
            ],
            "{errors:?}"
        );
    }

    #[test]
    fn syntax_and_unknown_field_errors_name_the_place() {
        let ConfigErrors(errors) = Config::from_toml("[kafka\nbrokers = 1", []).unwrap_err();
        assert_eq!(errors[0].field, "line 1");
        let ConfigErrors(errors) =
            Config::from_toml(&EXAMPLE.replace("[api]", "[api]\nlisten_port = 1"), []).unwrap_err();
        assert!(errors[0].message.contains("listen_port"), "{errors:?}");
    }

    #[test]
    fn durations_parse_friendly_text() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m 30s").unwrap(), Duration::from_secs(150));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("often").is_err());
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;
    use crate::alert::{AlertId, Category, Severity};
    use crate::escalation::{Action, Escalation, Recipient};
    use crate::time::Timestamp;
    use crate::validate::AlertDraft;

    const EXAMPLE: &str = include_str!("../../../../deploy/watchkeeper.example.toml");

    fn example() -> Config {
        let secrets = [
            (
                "WATCHKEEPER__CONSOLES__MANILA__SIGNING_SECRET",
                "0123456789abcdef-manila",
            ),
            (
                "WATCHKEEPER__CONSOLES__PANAMA__SIGNING_SECRET",
                "0123456789abcdef-panama",
            ),
            ("WATCHKEEPER__SMTP__PASSWORD", "password"),
        ];
        Config::from_toml(EXAMPLE, secrets.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap()
    }

    fn at(text: &str) -> Timestamp {
        let instant: jiff::Timestamp = text.parse().unwrap();
        Timestamp::from_unix_millis(instant.as_millisecond())
    }

    fn alert(
        category: Category,
        severity: Severity,
        country: &str,
        now: Timestamp,
    ) -> crate::Alert {
        AlertDraft {
            office_id: "ng-maiduguri".into(),
            severity: Some(severity),
            category: Some(category),
            title: "t".into(),
            country: country.into(),
            place: "p".into(),
            occurred_at: Some(now),
            ..AlertDraft::default()
        }
        .validate(now, AlertId::fresh(now, [0; 10]))
        .unwrap()
    }

    fn first_step_emails(config: &Config, alert: crate::Alert, now: Timestamp) -> Vec<String> {
        let mut escalation = Escalation::route(alert, &config.policy, now).unwrap();
        std::iter::from_fn(|| escalation.poll_action())
            .filter_map(
                |Action::Deliver(notification)| match notification.recipient {
                    Recipient::Email { address } => Some(address),
                    Recipient::Webhook { .. } => None,
                },
            )
            .collect()
    }

    #[test]
    fn the_deploy_example_routes_like_an_operations_centre() {
        let config = example();
        let now = at("2026-11-24T01:00:00Z");
        let route = |category, severity, country| {
            config
                .policy
                .route(&alert(category, severity, country, now))
                .map(|(route, chain)| (route.to_owned(), chain.id.clone()))
        };
        assert_eq!(
            route(Category::Abduction, Severity::Warning, "NG"),
            Some(("abduction-or-hostage".into(), "crisis".into()))
        );
        assert_eq!(
            route(Category::CivilUnrest, Severity::Emergency, "HT"),
            Some(("life-threatening".into(), "urgent".into()))
        );
        assert_eq!(
            route(Category::Medical, Severity::Critical, "KE"),
            Some(("medical-evacuation".into(), "urgent".into()))
        );
        assert_eq!(
            route(Category::Crime, Severity::Critical, "AF"),
            Some(("default".into(), "standard".into()))
        );

        // An abduction in Nigeria reaches HQ's crisis team, the Manila console and duty officer
        // on call, and the Dakar regional security officer, all in the first step.
        let emails = first_step_emails(
            &config,
            alert(Category::Abduction, Severity::Critical, "NG", now),
            now,
        );
        assert_eq!(
            emails,
            [
                "crisis.team@hq.example.org",
                "duty.officer@manila.ops.example.org",
                "ops.centre@manila.ops.example.org",
                "jose.reyes@ops.example.org",
                "awa.diop@ops.example.org",
            ]
        );
    }

    #[test]
    fn follow_the_sun_reaches_manila_by_day_and_panama_by_night() {
        let config = example();
        // 09:00 in Manila (week two of the rotation: jose) and 21:00 in Manila (08:00 in Panama).
        for (now, on_call) in [
            ("2026-11-10T01:00:00Z", "jose.reyes@ops.example.org"),
            ("2026-11-10T13:00:00Z", "ana.herrera@ops.example.org"),
            // The next evening, the daily Panama rotation has handed over.
            ("2026-11-11T13:00:00Z", "luis.moreno@ops.example.org"),
        ] {
            let now = at(now);
            let emails = first_step_emails(
                &config,
                alert(Category::Crime, Severity::Critical, "PH", now),
                now,
            );
            assert!(emails.contains(&on_call.to_owned()), "{now}: {emails:?}");
        }
    }

    #[test]
    fn policy_errors_name_their_fields() {
        let broken = EXAMPLE
            .replace(
                "people = [\"maria.santos\", \"jose.reyes\"]",
                "people = [\"maria.santos\", \"nobody\"]",
            )
            .replace(
                "time_zone = \"Asia/Manila\"",
                "time_zone = \"Asia/Atlantis\"",
            )
            .replace("window = \"06:00-18:00\"", "window = \"6am to 6pm\"")
            .replace(
                "security_officer = \"rso-cairo\"",
                "security_officer = \"rso-alexandria\"",
            )
            .replace(
                "targets = [\"person:hq.crisis\"]",
                "targets = [\"pager:hq\"]",
            )
            .replace("chain = \"informational\"", "chain = \"missing\"")
            .replace("failover = \"panama\"", "failover = \"lima\"");
        let secrets = [("WATCHKEEPER__SMTP__PASSWORD", "password")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let ConfigErrors(errors) = Config::from_toml(&broken, secrets).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for field in [
            "consoles.manila.failover",
            "schedules[0].layers[0].time_zone",
            "schedules[0].layers[0].window",
            "schedules[0].layers[0].people[1]",
            "regions[3].security_officer",
            "chains[0].steps[2].targets[0]",
            "routing.routes[3].chain",
        ] {
            assert!(fields.contains(&field), "{field} not reported: {errors:#?}");
        }
    }
}
