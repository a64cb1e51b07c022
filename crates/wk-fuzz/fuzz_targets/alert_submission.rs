//! What a field office sends: SubmitAlert and SubmitAlerts request bodies decoded from
//! protobuf, and alerts built field by field from a valid one with fuzzed replacements (random
//! bytes alone almost never make a valid alert, so the second half reaches what validation
//! accepts). Validation must refuse or accept without a panic, and an accepted alert must
//! survive the trip through the alerts topic's codec unchanged.
#![no_main]

use libfuzzer_sys::arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use wk_bus::codec::{Fact, decode_event, draft_from_pb, encode_raised};
use wk_core::Timestamp;
use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

fn check(alert: pb::Alert) {
    let Ok(alert) = draft_from_pb(alert).validate(NOW, AlertId::fresh(NOW, [7; 10])) else {
        return;
    };
    let record = encode_raised(&alert, NOW);
    match decode_event(&record) {
        Ok(Fact::Raised { alert: decoded, at }) => {
            assert_eq!(decoded, alert);
            assert_eq!(at, NOW);
        }
        other => panic!("a valid alert did not come back from its record: {other:?}"),
    }
}

/// A valid alert.
fn base() -> pb::Alert {
    pb::Alert {
        office_id: "ng-maiduguri".into(),
        severity: pb::Severity::Critical as i32,
        category: pb::Category::SecurityIncident as i32,
        title: "Armed men at the compound gate".into(),
        description: "Two vehicles.\nStaff in the safe room.".into(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: Some(pb::Coordinates {
            latitude: 11.8464,
            longitude: 13.1603,
        }),
        occurred_at: Some(prost_types::Timestamp {
            seconds: 1_794_999_000,
            nanos: 0,
        }),
        staff_affected: 12,
        dedup_key: "gate-1".into(),
        labels: [("team".to_owned(), "wash".to_owned())].into_iter().collect(),
        origin: None,
    }
}

/// The valid alert, each field replaced by a fuzzed value when the input says so.
fn mutated(input: &mut Unstructured<'_>) -> Result<pb::Alert> {
    let mut alert = base();
    macro_rules! maybe {
        ($field:expr) => {
            if bool::arbitrary(input)? {
                $field = Arbitrary::arbitrary(input)?;
            }
        };
    }
    maybe!(alert.office_id);
    maybe!(alert.severity);
    maybe!(alert.category);
    maybe!(alert.title);
    maybe!(alert.description);
    maybe!(alert.country);
    maybe!(alert.place);
    if bool::arbitrary(input)? {
        alert.coordinates =
            Option::<(f64, f64)>::arbitrary(input)?.map(|(latitude, longitude)| pb::Coordinates {
                latitude,
                longitude,
            });
    }
    if bool::arbitrary(input)? {
        alert.occurred_at = Option::<(i64, i32)>::arbitrary(input)?
            .map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos });
    }
    maybe!(alert.staff_affected);
    maybe!(alert.dedup_key);
    maybe!(alert.labels);
    Ok(alert)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        // Otherwise the field-by-field half would only ever test refusals.
        let valid = draft_from_pb(base()).validate(NOW, AlertId::fresh(NOW, [7; 10]));
        assert!(valid.is_ok(), "the base alert is not valid: {valid:?}");
    }
    if let Ok(request) = pb::SubmitAlertRequest::decode(data)
        && let Some(alert) = request.alert
    {
        check(alert);
    }
    if let Ok(request) = pb::SubmitAlertsRequest::decode(data) {
        for alert in request.alerts {
            check(alert);
        }
    }
    if let Ok(alert) = mutated(&mut Unstructured::new(data)) {
        check(alert);
    }
});
