//! The configuration model: TOML text plus `WATCHKEEPER__…` environment overrides in, a typed
//! and fully validated [`Config`] out, or every error with the field it concerns. Pure: the
//! caller reads the file and the environment and passes them in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::policy::{ConsoleContact, Policy};

mod api;
mod consoles;
mod delivery;
mod headcounts;
mod identities;
mod integrations;
mod kafka;
mod lenient;
mod overrides;
mod policy;
mod schedules;
mod silences;
mod telemetry;
mod watch;
mod web;

pub use api::{ApiConfig, LinksConfig, TlsConfig};
pub use consoles::Console;
pub use delivery::{DispatcherConfig, SmtpConfig, SmtpSecurity, WebhookConfig};
pub use headcounts::HeadcountsConfig;
pub use identities::{DutyOfficer, Office};
pub use kafka::KafkaConfig;
pub use telemetry::OtlpConfig;
pub use watch::OfficeWatchConfig;
pub use web::WebConfig;

use api::{RawApi, RawLinks};
use consoles::RawConsole;
use delivery::{RawDispatcher, RawSmtp, RawWebhook};
use identities::{RawDutyOfficer, RawOffice};
use kafka::RawKafka;
use overrides::{apply_overrides, line_of, readable};
use telemetry::RawTelemetry;

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
    /// How long silences and maintenance windows may last.
    pub silences: crate::silence::Limits,
    /// Monitoring systems that send alerts in their own formats.
    pub integrations: Vec<crate::integration::Integration>,
    /// Staff headcounts, when a roster is configured.
    pub headcounts: Option<headcounts::HeadcountsConfig>,
    pub shutdown_grace: Duration,
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
    #[serde(default)]
    silences: silences::RawSilences,
    #[serde(default)]
    integrations: Vec<integrations::RawIntegration>,
    #[serde(default)]
    headcounts: Option<headcounts::RawHeadcounts>,
    #[serde(default = "default_grace")]
    shutdown_grace: String,
}

fn default_grace() -> String {
    "20s".into()
}

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
        let keys = [
            ("token_sha256", current),
            ("previous_token_sha256", previous.unwrap_or_default()),
        ];
        self.hashes(field, keys, seen, "token")
    }

    /// The SHA-256 hashes named `keys` (`(key, hex)`, an empty hex skipped) of `field`, each
    /// distinct from every hash in `seen` (another `what` already has it).
    fn hashes(
        &mut self,
        field: &str,
        keys: [(&str, &str); 2],
        seen: &mut BTreeSet<[u8; 32]>,
        what: &str,
    ) -> Vec<[u8; 32]> {
        let mut hashes = Vec::new();
        for (index, (key, text)) in keys.into_iter().enumerate() {
            // The current one is required; the previous one only during a rotation.
            if index > 0 && text.is_empty() {
                continue;
            }
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(text, &mut hash).is_err() {
                self.push(
                    format!("{field}.{key}"),
                    "must be 64 hex digits (see `watchkeeper hash-token`)",
                );
            } else if !seen.insert(hash) {
                self.push(
                    format!("{field}.{key}"),
                    format!("is shared with another {what}"),
                );
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
    // Days are 24 hours here ("30d"); weeks, months and years are refused.
    let signed: jiff::SignedDuration = text
        .parse()
        .or_else(|_| {
            text.parse::<jiff::Span>()
                .and_then(|span| span.to_duration(jiff::SpanRelativeTo::days_are_24_hours()))
        })
        .map_err(|error| format!("{text:?} is not a duration such as \"5s\": {error}"))?;
    Duration::try_from(signed).map_err(|_| format!("{text:?} must not be negative"))
}

/// A plausible mailbox: `local@domain`, no spaces. Delivery is the final judge.
pub(crate) fn check_email(address: &str) -> Result<(), String> {
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
        let kafka = raw.kafka.check(errors);
        let office_limits = (raw.api.office_rate, raw.api.office_burst);
        let (api, links) = api::check(raw.api, raw.links, errors);
        let links_configured = links.is_some();
        let (telemetry_listen, otlp) = telemetry::check(raw.telemetry, errors);
        let (offices, duty_officers) =
            identities::check(raw.offices, raw.duty_officers, office_limits, errors);
        let consoles = consoles::check(raw.consoles, errors);
        let office_ids = offices.iter().map(|office| office.id.clone()).collect();
        let integrations = integrations::check(raw.integrations, &office_ids, errors);
        let smtp = raw.smtp.check(errors);
        let webhook = raw.webhook.check(errors);
        let dispatcher = raw.dispatcher.check(errors);
        let policy = policy::RawPolicy {
            people: raw.people,
            schedules: raw.schedules,
            regions: raw.regions,
            chains: raw.chains,
            routing: raw.routing,
            single_console: dispatcher.console.clone(),
            operators: dispatcher.operators.clone(),
            focal_points: offices
                .iter()
                .filter(|office| !office.watch.focal_points.is_empty())
                .map(|office| (office.id.clone(), office.watch.focal_points.clone()))
                .collect(),
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
            silences: raw.silences.check(errors),
            integrations,
            headcounts: raw
                .headcounts
                .map(|headcounts| headcounts.check(links_configured, errors)),
        }
    }
}

#[cfg(test)]
mod integrations_tests;
#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
