//! `[consoles.NAME]`: the operations centres' consoles, their webhooks, duty mailboxes,
//! failover and time zone.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Errors, check_email, web};

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConsole {
    pub(super) webhook_url: String,
    pub(super) signing_secret: String,
    #[serde(default)]
    pub(super) previous_signing_secret: Option<String>,
    #[serde(default)]
    pub(super) emails: Vec<String>,
    #[serde(default)]
    pub(super) failover: Option<String>,
    #[serde(default)]
    pub(super) time_zone: Option<String>,
}

pub(super) fn check(
    raw_consoles: BTreeMap<String, RawConsole>,
    errors: &mut Errors,
) -> BTreeMap<String, Console> {
    let mut consoles = BTreeMap::new();
    for (name, console) in raw_consoles {
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
                time_zone: console
                    .time_zone
                    .as_deref()
                    .and_then(|name| web::time_zone(errors, &format!("{field}.time_zone"), name)),
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
    consoles
}
