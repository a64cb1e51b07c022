//! `[headcounts]`: where the staff roster is (a CSV file kept by the operations centre, read
//! by the api when it starts and again when it changes), and a headcount's default reminder
//! cycle and number of cycles.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeadcounts {
    roster: String,
    #[serde(default)]
    cycle: Option<String>,
    #[serde(default)]
    cycles: Option<u32>,
}

/// Validated `[headcounts]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadcountsConfig {
    pub roster: PathBuf,
    pub cycle: Duration,
    pub cycles: u32,
}

impl RawHeadcounts {
    pub(super) fn check(self, links: bool, errors: &mut Errors) -> HeadcountsConfig {
        if self.roster.trim().is_empty() {
            errors.push("headcounts.roster", "must name the roster's CSV file");
        }
        if !links {
            errors.push(
                "headcounts",
                "needs [links]: people answer a headcount through signed links in their mail",
            );
        }
        let cycle = match &self.cycle {
            None => Duration::from_secs(15 * 60),
            Some(text) => errors.duration("headcounts.cycle", text, Duration::from_secs(60)),
        };
        let cycles = self.cycles.unwrap_or(4);
        if !(1..=96).contains(&cycles) {
            errors.push("headcounts.cycles", format!("{cycles} is not in 1..=96"));
        }
        HeadcountsConfig {
            roster: PathBuf::from(self.roster),
            cycle,
            cycles: cycles.clamp(1, 96),
        }
    }
}
