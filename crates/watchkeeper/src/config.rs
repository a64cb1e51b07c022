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
