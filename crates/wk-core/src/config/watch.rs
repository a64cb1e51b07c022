//! An office's `[offices.check_in]` schedule and what the silence alert says about the office
//! (`country`, `place`, `time_zone`), and its `focal_points`.

use std::time::Duration;

use serde::Deserialize;

use super::{Errors, check_email, parse_duration, web};
use crate::alert::Severity;
use crate::watch::{CheckInSchedule, Every, WatchConfig};

/// The longest check-in interval: a watch that waits longer is not a watch.
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest (a router's cron job every minute is plenty).
const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCheckIn {
    /// An interval from the last check-in, e.g. `"6h"`.
    #[serde(default)]
    every: Option<String>,
    /// A crontab expression in the office's `time_zone`, e.g. `"0 8,18 * * Mon-Fri"`.
    #[serde(default)]
    cron: Option<String>,
    /// Default: the larger of 15 minutes and a quarter of the interval.
    #[serde(default)]
    grace: Option<String>,
    /// Whether any alert the office submits counts as a check-in (default true).
    #[serde(default)]
    on_alert: Option<bool>,
    /// The silence alert's severity (default `critical`).
    #[serde(default)]
    severity: Option<String>,
}

/// What `[[offices]]` says for its watch, beside its identity.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOfficeWatch {
    /// ISO 3166-1 alpha-2; required with `check_in` (the silence alert carries it).
    #[serde(default)]
    pub(super) country: Option<String>,
    /// Where the office is (default its name).
    #[serde(default)]
    pub(super) place: Option<String>,
    /// IANA zone the cron schedule is read in (default UTC).
    #[serde(default)]
    pub(super) time_zone: Option<String>,
    #[serde(default)]
    pub(super) check_in: Option<RawCheckIn>,
    /// Told (by email) when the operations centre acknowledges or resolves the office's alert.
    #[serde(default)]
    pub(super) focal_points: Vec<String>,
}

/// The checked watch part of an office.
#[derive(Clone, Debug, Default)]
pub struct OfficeWatchConfig {
    pub watch: Option<WatchConfig>,
    /// Whether the office's alerts count as check-ins.
    pub check_in_on_alert: bool,
    pub focal_points: Vec<String>,
}

impl RawOfficeWatch {
    pub(super) fn check(
        self,
        field: &str,
        (office, name): (&str, &str),
        errors: &mut Errors,
    ) -> OfficeWatchConfig {
        for (index, address) in self.focal_points.iter().enumerate() {
            if let Err(message) = check_email(address) {
                errors.push(format!("{field}.focal_points[{index}]"), message);
            }
        }
        let time_zone = self
            .time_zone
            .as_deref()
            .map_or(Some(jiff::tz::TimeZone::UTC), |zone| {
                web::time_zone(errors, &format!("{field}.time_zone"), zone)
            });
        let country = self
            .country
            .map(|country| country.trim().to_ascii_uppercase());
        if let Some(country) = &country
            && isocountry::CountryCode::for_alpha2(country).is_err()
        {
            errors.push(
                format!("{field}.country"),
                format!("{country:?} is not an ISO 3166-1 alpha-2 country code such as \"NG\""),
            );
        }
        let Some(check_in) = self.check_in else {
            return OfficeWatchConfig {
                watch: None,
                check_in_on_alert: false,
                focal_points: self.focal_points,
            };
        };
        let field = format!("{field}.check_in");
        let every = check_in.every(&field, errors);
        let severity = match check_in.severity.as_deref().map(str::parse::<Severity>) {
            None => Severity::Critical,
            Some(Ok(severity)) => severity,
            Some(Err(message)) => {
                errors.push(format!("{field}.severity"), message);
                Severity::Critical
            }
        };
        let Some(country) = country else {
            errors.push(
                field.replace(".check_in", ".country"),
                "is required with check_in: the silence alert names the office's country",
            );
            return OfficeWatchConfig::default();
        };
        let (Some(every), Some(time_zone)) = (every, time_zone) else {
            return OfficeWatchConfig::default();
        };
        let grace = match check_in.grace.as_deref() {
            None => CheckInSchedule::default_grace(&every, &time_zone),
            Some(text) => errors.duration(&format!("{field}.grace"), text, Duration::from_secs(1)),
        };
        OfficeWatchConfig {
            watch: Some(WatchConfig {
                office: office.to_owned(),
                name: name.to_owned(),
                country,
                place: self.place.unwrap_or_else(|| name.to_owned()),
                schedule: CheckInSchedule {
                    every,
                    grace,
                    time_zone,
                },
                severity,
            }),
            check_in_on_alert: check_in.on_alert.unwrap_or(true),
            focal_points: self.focal_points,
        }
    }
}

impl RawCheckIn {
    fn every(&self, field: &str, errors: &mut Errors) -> Option<Every> {
        match (&self.every, &self.cron) {
            (Some(text), None) => match parse_duration(text) {
                Ok(interval) if (MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) => {
                    Some(Every::Interval(interval))
                }
                Ok(_) => {
                    errors.push(
                        format!("{field}.every"),
                        format!("{text:?} is not between 1s and 7 days"),
                    );
                    None
                }
                Err(message) => {
                    errors.push(format!("{field}.every"), message);
                    None
                }
            },
            (None, Some(expression)) => match Every::cron(expression) {
                Ok(every) => Some(every),
                Err(message) => {
                    errors.push(format!("{field}.cron"), message);
                    None
                }
            },
            (Some(_), Some(_)) => {
                errors.push(field, "takes `every` or `cron`, not both");
                None
            }
            (None, None) => {
                errors.push(
                    field,
                    "needs `every` (e.g. \"6h\") or `cron` (e.g. \"0 8,18 * * *\")",
                );
                None
            }
        }
    }
}

impl super::Config {
    /// Every office watch, by office id.
    pub fn watches(&self) -> std::collections::BTreeMap<String, WatchConfig> {
        self.offices
            .iter()
            .filter_map(|office| Some((office.id.clone(), office.watch.watch.clone()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::EXAMPLE;
    use super::super::{Config, ConfigError};
    use super::*;

    fn with_office(extra: &str) -> Result<Config, Vec<ConfigError>> {
        let text = EXAMPLE.replace(
            "name = \"Maiduguri sub-office\"\n",
            &format!("name = \"Maiduguri sub-office\"\n{extra}\n"),
        );
        Config::from_toml(&text, []).map_err(|errors| errors.0)
    }

    fn fields(errors: Vec<ConfigError>) -> Vec<String> {
        errors.into_iter().map(|error| error.field).collect()
    }

    #[test]
    fn an_interval_schedule_gets_its_default_grace_and_counts_alerts() {
        let config = with_office(
            "country = \"ng\"\ncheck_in = { every = \"6h\" }\nfocal_points = [\"focal@example.org\"]",
        )
        .unwrap();
        let watch = &config.watches()["ng-maiduguri"];
        assert_eq!(
            watch.schedule.every,
            Every::Interval(Duration::from_secs(6 * 3600))
        );
        assert_eq!(watch.schedule.grace, Duration::from_secs(90 * 60));
        assert_eq!(
            (watch.country.as_str(), watch.place.as_str()),
            ("NG", "Maiduguri sub-office")
        );
        assert_eq!(watch.severity, Severity::Critical);
        let office = &config.offices[0].watch;
        assert!(office.check_in_on_alert);
        assert_eq!(office.focal_points, ["focal@example.org"]);
        // A short interval's grace is never under 15 minutes.
        let config = with_office("country = \"NG\"\ncheck_in = { every = \"1m\" }").unwrap();
        assert_eq!(
            config.watches()["ng-maiduguri"].schedule.grace,
            crate::watch::MIN_GRACE
        );
    }

    #[test]
    fn a_cron_schedule_is_read_in_the_office_zone() {
        let config = with_office(
            "country = \"NG\"\ntime_zone = \"Africa/Lagos\"\n\
             check_in = { cron = \"0 8,18 * * Mon-Fri\", grace = \"1h\", on_alert = false, \
             severity = \"emergency\" }",
        )
        .unwrap();
        let watch = &config.watches()["ng-maiduguri"];
        assert_eq!(watch.schedule.time_zone.iana_name(), Some("Africa/Lagos"));
        assert_eq!(watch.schedule.grace, Duration::from_secs(3600));
        assert_eq!(watch.severity, Severity::Emergency);
        assert!(!config.offices[0].watch.check_in_on_alert);
    }

    #[test]
    fn an_office_without_a_schedule_is_not_watched() {
        let config = with_office("").unwrap();
        assert!(config.watches().is_empty());
    }

    #[test]
    fn every_schedule_error_names_its_field() {
        let cases = [
            ("check_in = { every = \"6h\" }", "offices[0].country"),
            ("country = \"XX\"", "offices[0].country"),
            ("country = \"NG\"\ncheck_in = {}", "offices[0].check_in"),
            (
                "country = \"NG\"\ncheck_in = { every = \"6h\", cron = \"0 8 * * *\" }",
                "offices[0].check_in",
            ),
            (
                "country = \"NG\"\ncheck_in = { every = \"8d\" }",
                "offices[0].check_in.every",
            ),
            (
                "country = \"NG\"\ncheck_in = { every = \"soon\" }",
                "offices[0].check_in.every",
            ),
            (
                "country = \"NG\"\ncheck_in = { cron = \"0 8 * *\" }",
                "offices[0].check_in.cron",
            ),
            (
                "country = \"NG\"\ncheck_in = { cron = \"0 25 * * *\" }",
                "offices[0].check_in.cron",
            ),
            (
                "country = \"NG\"\ncheck_in = { every = \"6h\", grace = \"x\" }",
                "offices[0].check_in.grace",
            ),
            (
                "country = \"NG\"\ncheck_in = { every = \"6h\", severity = \"sev1\" }",
                "offices[0].check_in.severity",
            ),
            ("time_zone = \"Mars/Olympus\"", "offices[0].time_zone"),
            ("focal_points = [\"nobody\"]", "offices[0].focal_points[0]"),
        ];
        for (extra, field) in cases {
            let errors = with_office(extra).unwrap_err();
            assert_eq!(fields(errors.clone()), [field], "{extra}: {errors:?}");
        }
        // An unknown key in the table is named too.
        let errors = with_office("country = \"NG\"\ncheck_in = { every = \"6h\", often = true }")
            .unwrap_err();
        assert!(errors[0].field.contains("check_in"), "{errors:?}");
    }
}
