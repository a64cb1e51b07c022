//! PagerDuty Events v2 bodies: never a panic, and a trigger's draft is a valid alert.
#![no_main]

mod integration_common;

use integration_common::{NOW, check, integration};
use libfuzzer_sys::fuzz_target;
use wk_core::alert::IntegrationKind;

fuzz_target!(|data: &[u8]| {
    let integration = integration(IntegrationKind::PagerDutyEventsV2);
    if let Ok(event) = wk_core::integration::pagerduty::parse(data)
        && let Ok((item, _)) = event.item(&integration, "generated".into(), NOW)
    {
        check(wk_core::integration::Decoded {
            items: vec![item],
            errors: Vec::new(),
        });
    }
});
