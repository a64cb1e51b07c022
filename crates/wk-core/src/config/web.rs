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
