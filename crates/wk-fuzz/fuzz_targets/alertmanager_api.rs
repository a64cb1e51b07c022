//! Alertmanager API v2 bodies (what Prometheus posts): never a panic, and every draft the
//! decoder returns is a valid alert.
#![no_main]

mod integration_common;

use integration_common::{NOW, check, integration};
use libfuzzer_sys::fuzz_target;
use wk_core::alert::IntegrationKind;

fuzz_target!(|data: &[u8]| {
    let integration = integration(IntegrationKind::AlertmanagerApiV2);
    if let Ok(decoded) = wk_core::integration::prometheus::decode(&integration, data, NOW) {
        check(decoded);
    }
});
