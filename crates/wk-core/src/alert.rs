//! The alert a field office raises, once validated, and its identity.

use std::fmt;
use std::str::FromStr;

use crate::time::Timestamp;

/// Namespace for alert ids derived from (office, dedup key). Fixed forever: changing it would
/// break deduplication across versions.
const DEDUP_NAMESPACE: uuid::Uuid = uuid::uuid!("5b0f3c36-8d3e-4e43-9a77-6f1c1d2a9e10");

/// An alert's id. Derived from (office, dedup key) when a dedup key is given, so a retried
/// submission maps to the same id; otherwise time-ordered and random (UUIDv7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AlertId(uuid::Uuid);

impl AlertId {
    /// The smallest id (all zeros): a bound, never an alert's.
    pub const NIL: AlertId = AlertId(uuid::Uuid::nil());

    /// The id for `dedup_key` within `office`: UUIDv5 over `office \0 dedup_key`.
    pub fn for_dedup_key(office: &str, dedup_key: &str) -> AlertId {
        let mut name = Vec::with_capacity(office.len() + 1 + dedup_key.len());
        name.extend_from_slice(office.as_bytes());
        name.push(0);
        name.extend_from_slice(dedup_key.as_bytes());
        AlertId(uuid::Uuid::new_v5(&DEDUP_NAMESPACE, &name))
    }

    /// A fresh id for an alert without a dedup key: UUIDv7 at `now` with `random` bits.
    pub fn fresh(now: Timestamp, random: [u8; 10]) -> AlertId {
        let millis = u64::try_from(now.as_unix_millis()).unwrap_or(0);
        AlertId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Error parsing an [`AlertId`] from text.
#[derive(Debug, thiserror::Error)]
#[error("not an alert id (a UUID): {0}")]
pub struct ParseAlertIdError(#[from] uuid::Error);

impl FromStr for AlertId {
    type Err = ParseAlertIdError;
    fn from_str(text: &str) -> Result<AlertId, ParseAlertIdError> {
        Ok(AlertId(uuid::Uuid::parse_str(text)?))
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal, $label:literal;)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable machine name, as used in config, JSON and labels.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// A human label for emails and consoles.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<$name, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "{text:?} is not one of {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

text_enum! {
    /// How bad it is, in increasing order.
    Severity {
        Info => "info", "INFO";
        Warning => "warning", "WARNING";
        Critical => "critical", "CRITICAL";
        Emergency => "emergency", "EMERGENCY";
    }
}

text_enum! {
    /// What kind of event it is.
    Category {
        SecurityIncident => "security_incident", "Security incident";
        Abduction => "abduction", "Abduction / hostage";
        ArmedConflict => "armed_conflict", "Armed conflict";
        CivilUnrest => "civil_unrest", "Civil unrest";
        Crime => "crime", "Crime";
        NaturalHazard => "natural_hazard", "Natural hazard";
        Medical => "medical", "Medical";
        TravelSafety => "travel_safety", "Air / travel safety";
        Infrastructure => "infrastructure", "Infrastructure";
        Other => "other", "Other";
        OfficeSilent => "office_silent", "Office silent";
        StaffHelp => "staff_help", "Staff member asking for help";
    }
}

text_enum! {
    /// The format an integration speaks (see `crate::integration`).
    IntegrationKind {
        AlertmanagerWebhook => "alertmanager-webhook", "Alertmanager webhook";
        GrafanaWebhook => "grafana-webhook", "Grafana webhook";
        PagerDutyEventsV2 => "pagerduty-events-v2", "PagerDuty Events v2";
        AlertmanagerApiV2 => "alertmanager-api-v2", "Alertmanager API v2";
    }
}

/// Where an alert came from when a monitoring system sent it through an integration rather
/// than a field office through the gRPC API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The integration's name in the configuration.
    pub integration: String,
    pub kind: IntegrationKind,
    /// A link back to the sender's view of it (`generatorURL`, a PagerDuty link); `""` if none.
    pub link: String,
    /// When it resolves by itself unless it is sent again (an Alertmanager API alert's
    /// `endsAt`); `None` for senders that resolve explicitly.
    pub ends_at: Option<Timestamp>,
}

/// WGS 84 position in decimal degrees, validated in range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

/// An alert's labels, sorted by key. A sorted vector rather than a `BTreeMap`: a dispatcher
/// and an api hold one per open alert, and a `BTreeMap` of one label allocates a whole node
/// of eleven (580 bytes against 70).
pub type Labels = litemap::LiteMap<String, String>;

/// A validated alert, as accepted by ingest and carried on the alerts topic.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub id: AlertId,
    pub office_id: String,
    pub severity: Severity,
    pub category: Category,
    pub title: String,
    pub description: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub place: String,
    pub coordinates: Option<Coordinates>,
    pub occurred_at: Timestamp,
    pub staff_affected: u32,
    pub dedup_key: Option<String>,
    pub labels: Labels,
    /// The integration it came through, if any (boxed: most alerts have none).
    pub origin: Option<Box<Origin>>,
}

impl Alert {
    /// The English short name of the alert's country, when the code is known.
    pub fn country_name(&self) -> Option<&'static str> {
        isocountry::CountryCode::for_alpha2(&self.country)
            .ok()
            .map(|code| code.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_ids_are_stable_and_scoped_to_the_office() {
        let first = AlertId::for_dedup_key("ng-maiduguri", "convoy-17");
        assert_eq!(first, AlertId::for_dedup_key("ng-maiduguri", "convoy-17"));
        assert_ne!(first, AlertId::for_dedup_key("ng-abuja", "convoy-17"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            AlertId::for_dedup_key("ab", "c"),
            AlertId::for_dedup_key("a", "bc")
        );
        assert_eq!(first.to_string().parse::<AlertId>().unwrap(), first);
    }

    #[test]
    fn fresh_ids_carry_their_time_and_differ_by_randomness() {
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        let one = AlertId::fresh(now, [1; 10]);
        let two = AlertId::fresh(now, [2; 10]);
        assert_ne!(one, two);
        assert_eq!(one.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn enums_round_trip_through_text() {
        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>().unwrap(), *severity);
        }
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>().unwrap(), *category);
        }
        assert!(
            "sev1"
                .parse::<Severity>()
                .unwrap_err()
                .contains("info, warning")
        );
    }
}
