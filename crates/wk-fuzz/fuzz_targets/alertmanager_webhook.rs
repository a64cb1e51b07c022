//! Alertmanager and Grafana webhook bodies (both forms): never a panic, and every draft
//! the decoder returns is a valid alert.
#![no_main]

mod integration_common;

use integration_common::{NOW, check, integration};
use libfuzzer_sys::fuzz_target;
use wk_core::alert::IntegrationKind;

fuzz_target!(|data: &[u8]| {
    let integration = integration(IntegrationKind::AlertmanagerWebhook);
    if let Ok(decoded) = wk_core::integration::alertmanager::decode(&integration, data, NOW) {
        check(decoded);
    }
});
