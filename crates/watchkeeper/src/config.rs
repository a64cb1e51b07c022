//! Loading the configuration: read the file and the `WATCHKEEPER__…` environment, then let
//! `wk_core::config` validate it all. The only place that reads the environment for settings.

use std::fmt;
use std::path::Path;

use wk_core::config::{Config, ConfigErrors, ENV_PREFIX};

pub(crate) enum LoadError {
    Read(std::io::Error),
    Invalid(ConfigErrors),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read(error) => write!(f, "cannot read: {error}"),
            LoadError::Invalid(errors) => write!(f, "{errors}"),
        }
    }
}

pub(crate) fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Read)?;
    let environment = std::env::vars().filter(|(name, _)| name.starts_with(ENV_PREFIX));
    Config::from_toml(&text, environment).map_err(LoadError::Invalid)
}

/// The staff roster of `[headcounts]`, if configured, checked as the api will read it: every
/// problem with its line and field (this is the operator's own terminal, so values are shown).
pub(crate) fn check_roster(config: &wk_core::config::Config) -> Result<(), String> {
    let Some(headcounts) = &config.headcounts else {
        return Ok(());
    };
    let path = &headcounts.roster;
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{}: cannot read the staff roster: {error}", path.display()))?;
    let offices = config
        .offices
        .iter()
        .map(|office| office.id.clone())
        .collect();
    wk_core::headcount::Roster::parse_csv(&text, &offices)
        .map(|_| ())
        .map_err(|errors| {
            let lines: Vec<String> = errors
                .iter()
                .map(|error| format!("  {}: {error}", path.display()))
                .collect();
            format!(
                "invalid staff roster ({} errors):\n{}",
                errors.len(),
                lines.join("\n")
            )
        })
}
