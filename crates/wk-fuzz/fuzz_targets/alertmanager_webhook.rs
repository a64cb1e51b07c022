//! Alertmanager and Grafana webhook bodies (both forms): never a panic, and every draft
//! the decoder returns is a valid alert.
#![no_main]

use libfuzzer_sys::fuzz_target;

use std::collections::BTreeSet;
use std::time::Duration;

use wk_core::alert::IntegrationKind;
use wk_core::integration::{Integration, Mapping, OfficeSource};
use wk_core::time::Timestamp;

/// An integration of `kind` whose office comes from a label (the path with the most checks).
fn integration(kind: IntegrationKind) -> Integration {
    Integration {
        name: "monitoring".into(),
        kind,
        office: OfficeSource::Label {
            label: "office".into(),
            allowed: BTreeSet::from(["ng-maiduguri".to_owned()]),
        },
        key_hashes: Vec::new(),
        mapping: Mapping::with_defaults("NG", "Maiduguri"),
        resolve_timeout: Duration::from_secs(300),
    }
}

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

fn check(decoded: wk_core::integration::Decoded) {
    for item in decoded.items {
        if let wk_core::integration::Item::Trigger(draft) = item {
            let fresh = wk_core::AlertId::for_dedup_key("", "");
            assert!(draft.validate(NOW, fresh).is_ok());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let integration = integration(IntegrationKind::AlertmanagerWebhook);
    if let Ok(decoded) = wk_core::integration::alertmanager::decode(&integration, data, NOW) {
        check(decoded);
    }
});
