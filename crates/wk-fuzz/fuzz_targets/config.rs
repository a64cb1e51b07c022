//! The configuration file and its `WATCHKEEPER__…` environment overrides: any text must give
//! a configuration or a list of errors, never a panic. Input after a NUL byte is read as
//! `NAME=value` lines of environment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wk_core::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (file, environment) = text.split_once('\0').unwrap_or((text, ""));
    let environment: Vec<(String, String)> = environment
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    if let Err(errors) = Config::from_toml(file, environment) {
        // Every refusal names at least one problem.
        assert!(!errors.0.is_empty());
    }
});
