//! The `[web]` section (the web console's sessions and default time zone) and the sign-in
//! credentials of duty officers and field offices: argon2id password hashes in PHC form, as
//! `watchkeeper hash-password` prints them.

use std::time::Duration;

use serde::Deserialize;

use super::Errors;

/// The web console's settings. The console is served on `api.http_listen`.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// A session unused for this long is signed out (an open board keeps its session alive).
    pub session_idle: Duration,
    /// A session is signed out this long after sign-in, whatever its use: about a shift.
    pub session_max: Duration,
    /// Times are shown in the officer's own zone and in UTC; this is the zone of those who
    /// name none.
    pub time_zone: jiff::tz::TimeZone,
    /// Failed sign-ins per account, and per address, before each further try must wait.
    pub free_attempts: u32,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            session_idle: Duration::from_secs(30 * 60),
            session_max: Duration::from_secs(12 * 3600),
            time_zone: jiff::tz::TimeZone::UTC,
            free_attempts: 5,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    #[serde(default)]
    session_idle: Option<String>,
    #[serde(default)]
    session_max: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    free_attempts: Option<i64>,
}

impl RawWeb {
    pub(super) fn check(self, errors: &mut Errors) -> WebConfig {
        let defaults = WebConfig::default();
        let duration = |errors: &mut Errors, field: &str, text: Option<String>, default| {
            text.map_or(default, |text| {
                errors.duration(field, &text, Duration::from_secs(60))
            })
        };
        let session_idle = duration(
            errors,
            "web.session_idle",
            self.session_idle,
            defaults.session_idle,
        );
        let session_max = duration(
            errors,
            "web.session_max",
            self.session_max,
            defaults.session_max,
        );
        if session_idle > session_max {
            errors.push(
                "web.session_idle",
                "must not be longer than web.session_max",
            );
        }
        let time_zone = self.time_zone.map_or(defaults.time_zone, |name| {
            time_zone(errors, "web.time_zone", &name).unwrap_or(jiff::tz::TimeZone::UTC)
        });
        let free_attempts = self.free_attempts.map_or(defaults.free_attempts, |n| {
            u32::try_from(errors.in_range("web.free_attempts", n, 1, 100)).unwrap_or(5)
        });
        WebConfig {
            session_idle,
            session_max,
            time_zone,
            free_attempts,
        }
    }
}

/// An IANA time zone, e.g. `Asia/Manila`.
pub(super) fn time_zone(
    errors: &mut Errors,
    field: &str,
    name: &str,
) -> Option<jiff::tz::TimeZone> {
    match jiff::tz::TimeZone::get(name) {
        Ok(zone) => Some(zone),
        Err(_) => {
            errors.push(
                field,
                format!("{name:?} is not an IANA time zone such as \"Asia/Manila\""),
            );
            None
        }
    }
}

/// An argon2id password hash in PHC form (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub(super) fn password_hash(errors: &mut Errors, field: &str, text: &str) -> Option<String> {
    match argon2::password_hash::PasswordHash::new(text) {
        Ok(hash) if hash.algorithm == argon2::ARGON2ID_IDENT && hash.hash.is_some() => {
            Some(text.to_owned())
        }
        Ok(_) => {
            errors.push(
                field,
                "must be an argon2id hash (see `watchkeeper hash-password`)",
            );
            None
        }
        Err(_) => {
            errors.push(
                field,
                "is not a PHC password hash such as \"$argon2id$v=19$…\" (see `watchkeeper hash-password`)",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::super::tests::EXAMPLE;

    const HASH: &str = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$0Ujs6JyVCkk6UBNz4C6cKQCn0yQ/KD2fg8jXB4Nd1LU";

    fn with(extra: &str) -> Result<Config, String> {
        Config::from_toml(&format!("{EXAMPLE}\n{extra}"), Vec::new()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_web_section_and_credentials_are_read() {
        let config = with(&format!(
            r#"
[web]
time_zone = "Asia/Manila"
session_idle = "20m"
session_max = "10h"

[[duty_officers]]
id = "maria.santos"
name = "Maria Santos"
token_sha256 = "{token}"
password_argon2 = "{HASH}"
time_zone = "America/Panama"
"#,
            token = "a".repeat(64)
        ))
        .expect("valid");
        assert_eq!(config.web.session_idle.as_secs(), 20 * 60);
        assert_eq!(config.web.session_max.as_secs(), 10 * 3600);
        assert_eq!(config.web.time_zone.iana_name(), Some("Asia/Manila"));
        let officer = &config.duty_officers[0];
        assert_eq!(officer.name, "Maria Santos");
        assert_eq!(officer.password_hash.as_deref(), Some(HASH));
        assert_eq!(
            officer.time_zone.as_ref().and_then(|z| z.iana_name()),
            Some("America/Panama")
        );
        // Defaults without a [web] section.
        let plain = with("").expect("valid");
        assert_eq!(plain.web.session_idle.as_secs(), 30 * 60);
        assert_eq!(plain.web.free_attempts, 5);
    }

    #[test]
    fn bad_credentials_and_settings_name_their_fields() {
        let error = with(&format!(
            r#"
[web]
time_zone = "Asia/Atlantis"
session_idle = "13h"
session_max = "12h"

[[duty_officers]]
id = "maria.santos"
token_sha256 = "{token}"
password_argon2 = "hunter2"

[[duty_officers]]
id = "jose.reyes"
token_sha256 = "{other}"
password_argon2 = "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$0Ujs6JyVCkk6UBNz4C6cKQCn0yQ/KD2fg8jXB4Nd1LU"
time_zone = "Mars/Olympus"
"#,
            token = "a".repeat(64),
            other = "b".repeat(64)
        ))
        .expect_err("invalid");
        for field in [
            "web.time_zone",
            "web.session_idle: must not be longer than web.session_max",
            "duty_officers[0].password_argon2: is not a PHC password hash",
            "duty_officers[1].password_argon2: must be an argon2id hash",
            "duty_officers[1].time_zone",
        ] {
            assert!(error.contains(field), "{field} missing from:\n{error}");
        }
        assert!(
            !error.contains("hunter2"),
            "a password must not be echoed:\n{error}"
        );
    }
}
