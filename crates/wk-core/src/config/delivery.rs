//! `[smtp]`, `[webhook]` and `[dispatcher]`: how notifications are delivered and retried.

use std::time::Duration;

use serde::Deserialize;

use super::{Errors, check_email, lenient};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: String,
    #[serde(deserialize_with = "lenient::whole")]
    pub(super) port: i64,
    pub(super) security: SmtpSecurity,
    #[serde(default)]
    pub(super) username: Option<String>,
    #[serde(default)]
    pub(super) password: Option<String>,
    pub(super) from: String,
    #[serde(default = "default_io_timeout")]
    pub(super) timeout: String,
    #[serde(default = "default_retry_for")]
    pub(super) retry_for: String,
}

pub(super) fn default_retry_for() -> String {
    "6h".into()
}

pub(super) fn default_io_timeout() -> String {
    "10s".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebhook {
    #[serde(default = "default_io_timeout")]
    pub(super) timeout: String,
    #[serde(
        default = "default_webhook_attempts",
        deserialize_with = "lenient::whole"
    )]
    pub(super) attempts: i64,
    #[serde(
        default = "default_circuit_failures",
        deserialize_with = "lenient::whole"
    )]
    pub(super) circuit_failures: i64,
    #[serde(default = "default_circuit_open")]
    pub(super) circuit_open: String,
    #[serde(default = "default_retry_for")]
    pub(super) retry_for: String,
}

pub(super) fn default_webhook_attempts() -> i64 {
    3
}
pub(super) fn default_circuit_failures() -> i64 {
    5
}
pub(super) fn default_circuit_open() -> String {
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
pub(super) struct RawDispatcher {
    #[serde(default)]
    pub(super) console: Option<String>,
    #[serde(default)]
    pub(super) operators: Vec<String>,
}

impl RawSmtp {
    pub(super) fn check(self, errors: &mut Errors) -> SmtpConfig {
        let smtp = SmtpConfig {
            port: errors.in_range("smtp.port", self.port, 1, 65_535) as u16,
            timeout: errors.duration("smtp.timeout", &self.timeout, Duration::from_millis(100)),
            retry_for: errors.duration("smtp.retry_for", &self.retry_for, Duration::ZERO),
            host: self.host,
            security: self.security,
            username: self.username.filter(|u| !u.is_empty()),
            password: self.password.filter(|p| !p.is_empty()),
            from: self.from,
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
        smtp
    }
}

impl RawWebhook {
    pub(super) fn check(self, errors: &mut Errors) -> WebhookConfig {
        WebhookConfig {
            timeout: errors.duration("webhook.timeout", &self.timeout, Duration::from_millis(100)),
            attempts: errors.in_range("webhook.attempts", self.attempts, 1, 20) as u32,
            circuit_failures: errors.in_range(
                "webhook.circuit_failures",
                self.circuit_failures,
                1,
                1000,
            ) as u32,
            circuit_open: errors.duration(
                "webhook.circuit_open",
                &self.circuit_open,
                Duration::from_secs(1),
            ),
            retry_for: errors.duration(
                "webhook.retry_for",
                &self.retry_for,
                Duration::from_secs(1),
            ),
        }
    }
}

impl RawDispatcher {
    pub(super) fn check(self, errors: &mut Errors) -> DispatcherConfig {
        for (index, address) in self.operators.iter().enumerate() {
            if let Err(reason) = check_email(address) {
                errors.push(format!("dispatcher.operators[{index}]"), reason);
            }
        }
        DispatcherConfig {
            console: self.console,
            operators: self.operators,
        }
    }
}
