//! What the integration fuzz targets share: an integration whose office comes from a label
//! (the path with the most checks), a fixed time, and the property every target checks.

use std::collections::BTreeSet;
use std::time::Duration;

use wk_core::alert::IntegrationKind;
use wk_core::integration::{Decoded, Integration, Item, Mapping, OfficeSource};
use wk_core::time::Timestamp;

pub const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

pub fn integration(kind: IntegrationKind) -> Integration {
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

/// Every draft a decoder returns is a valid alert.
pub fn check(decoded: Decoded) {
    for item in decoded.items {
        if let Item::Trigger(draft) = item {
            let fresh = wk_core::AlertId::for_dedup_key("", "");
            assert!(draft.validate(NOW, fresh).is_ok());
        }
    }
}
