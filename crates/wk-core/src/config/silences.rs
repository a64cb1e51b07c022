//! `[silences]`: how long a silence (or one occurrence of a maintenance window) may last,
//! and how long a recurring window's series may run. No silence lasts forever.

use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use crate::silence::Limits;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSilences {
    #[serde(default)]
    max_duration: Option<String>,
    #[serde(default)]
    max_series: Option<String>,
}

/// The longest anything may be set to, whatever the configuration says.
const CEILING: Duration = Duration::from_secs(366 * 24 * 3600);

impl RawSilences {
    pub(super) fn check(self, errors: &mut Errors) -> Limits {
        let defaults = Limits::default();
        let mut read = |field: &str, text: Option<String>, default: Duration| match text {
            None => default,
            Some(text) => {
                let duration = errors.duration(field, &text, Duration::from_secs(60));
                if duration > CEILING {
                    errors.push(field, format!("{text:?} is more than 366 days"));
                }
                duration.min(CEILING)
            }
        };
        let max_duration = read(
            "silences.max_duration",
            self.max_duration,
            defaults.max_duration,
        );
        let max_series = read("silences.max_series", self.max_series, defaults.max_series);
        if max_series < max_duration {
            errors.push(
                "silences.max_series",
                "must be at least silences.max_duration",
            );
        }
        Limits {
            max_duration,
            max_series,
        }
    }
}
