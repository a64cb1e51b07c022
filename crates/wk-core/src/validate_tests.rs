//! Validation: every field refused with its name, limits, and a property: nothing panics.
use super::*;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

fn fresh() -> AlertId {
    AlertId::fresh(NOW, [7; 10])
}

pub(crate) fn valid_draft() -> AlertDraft {
    AlertDraft {
        office_id: "ng-maiduguri".into(),
        severity: Some(Severity::Critical),
        category: Some(Category::SecurityIncident),
        title: "Armed men at the compound gate".into(),
        description: "Two vehicles, no injuries so far.\nStaff in the safe room.".into(),
        country: "ng".into(),
        place: "Maiduguri".into(),
        coordinates: Some(Coordinates {
            latitude: 11.85,
            longitude: 13.16,
        }),
        occurred_at: Some(NOW.saturating_add_millis(-60_000)),
        staff_affected: 12,
        dedup_key: "gate-2026-11-24".into(),
        labels: [("team".to_owned(), "wash".to_owned())]
            .into_iter()
            .collect(),
        occurred_at_out_of_range: false,
        origin: None,
    }
}

fn fields(draft: AlertDraft) -> Vec<String> {
    let Violations(violations) = draft.validate(NOW, fresh()).unwrap_err();
    violations.into_iter().map(|v| v.to_string()).collect()
}

#[test]
fn accepts_a_valid_alert_and_normalises_it() {
    let alert = valid_draft().validate(NOW, fresh()).unwrap();
    assert_eq!(alert.country, "NG");
    assert_eq!(
        alert.id,
        AlertId::for_dedup_key("ng-maiduguri", "gate-2026-11-24")
    );
    assert_eq!(alert.country_name(), Some("Nigeria"));
}

#[test]
fn without_dedup_key_the_fresh_id_is_used() {
    let draft = AlertDraft {
        dedup_key: String::new(),
        ..valid_draft()
    };
    let alert = draft.validate(NOW, fresh()).unwrap();
    assert_eq!(alert.id, fresh());
    assert_eq!(alert.dedup_key, None);
}

#[test]
fn names_the_country_field_with_the_bad_value() {
    let draft = AlertDraft {
        country: "XX".into(),
        ..valid_draft()
    };
    assert_eq!(
        fields(draft),
        [r#"country: "XX" is not an ISO 3166-1 alpha-2 code"#]
    );
}

#[test]
fn reports_every_violation_at_once() {
    let draft = AlertDraft {
        office_id: "Not An Id".into(),
        severity: None,
        category: None,
        title: "  ".into(),
        place: "x".repeat(201),
        coordinates: Some(Coordinates {
            latitude: 91.0,
            longitude: -181.0,
        }),
        occurred_at: Some(NOW.saturating_add_millis(5 * 60 * 1000 + 1)),
        staff_affected: 100_001,
        labels: [("bad key".to_owned(), "v\u{7}".to_owned())]
            .into_iter()
            .collect(),
        ..valid_draft()
    };
    let found: Vec<String> = fields(draft)
        .into_iter()
        .map(|text| text.split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        found,
        [
            "office_id",
            "severity",
            "category",
            "title",
            "place",
            "coordinates.latitude",
            "coordinates.longitude",
            "occurred_at",
            "staff_affected",
            "labels[\"bad key\"]",
            "labels[\"bad key\"]",
        ]
    );
}

#[test]
fn bounds_are_inclusive() {
    let draft = AlertDraft {
        title: "t".repeat(limits::TITLE_CHARS),
        coordinates: Some(Coordinates {
            latitude: -90.0,
            longitude: 180.0,
        }),
        occurred_at: Some(NOW.saturating_add_millis(limits::FUTURE_SKEW_MILLIS)),
        staff_affected: limits::STAFF_AFFECTED,
        ..valid_draft()
    };
    assert!(draft.validate(NOW, fresh()).is_ok());
}

#[test]
fn rejects_missing_time_too_many_labels_and_nan_coordinates() {
    let labels = (0..33).map(|i| (format!("k{i}"), String::new())).collect();
    let draft = AlertDraft {
        occurred_at: None,
        labels,
        coordinates: Some(Coordinates {
            latitude: f64::NAN,
            longitude: 0.0,
        }),
        ..valid_draft()
    };
    assert_eq!(
        fields(draft),
        [
            "coordinates.latitude: NaN is not in -90..=90",
            "occurred_at: is required",
            "labels: has 33 entries, at most 32 allowed",
        ]
    );
}

#[test]
fn quotes_client_values_only_up_to_a_bound() {
    let draft = AlertDraft {
        country: "X".repeat(17_000),
        ..valid_draft()
    };
    let found = fields(draft);
    assert_eq!(found.len(), 1);
    assert!(found[0].len() < 120, "{}", found[0]);
    assert!(found[0].contains("…"));
}

#[test]
fn lists_at_most_a_bounded_number_of_violations() {
    let labels = (0..40)
        .map(|i| (format!("bad key {i} {}", "x".repeat(300)), "v".to_owned()))
        .collect();
    let draft = AlertDraft {
        labels,
        ..valid_draft()
    };
    let found = fields(draft);
    assert_eq!(found.len(), limits::LISTED_VIOLATIONS);
    assert!(
        found
            .last()
            .unwrap()
            .starts_with("alert: 30 more violations")
    );
    assert!(found.iter().map(String::len).sum::<usize>() < 2_000);
}

#[test]
fn refuses_bidi_overrides_and_invisible_titles_but_welcomes_right_to_left_text() {
    for title in [
        "Gate \u{202E}lanigiro",
        "a\u{2066}b",
        "\u{200B}\u{2060}",
        "\u{3164}",
    ] {
        let draft = AlertDraft {
            title: title.into(),
            ..valid_draft()
        };
        assert!(fields(draft)[0].starts_with("title: "), "{title:?}");
    }
    let draft = AlertDraft {
        description: "ok\u{202D}".into(),
        ..valid_draft()
    };
    assert!(fields(draft)[0].starts_with("description: must not contain bidirectional"));
    let arabic = AlertDraft {
        title: "رجال مسلحون عند البوابة".into(),
        description: "שני רכבים. הצוות בחדר המוגן.".into(),
        ..valid_draft()
    };
    assert!(arabic.validate(NOW, fresh()).is_ok());
}

#[test]
fn an_occurred_at_beyond_the_calendar_has_its_own_message() {
    let draft = AlertDraft {
        occurred_at: None,
        occurred_at_out_of_range: true,
        ..valid_draft()
    };
    assert_eq!(
        fields(draft),
        ["occurred_at: is outside the years 0001-9999; check the office's clock"]
    );
}

proptest::proptest! {
    #[test]
    fn never_panics_and_accepts_only_within_limits(
        title in ".{0,300}",
        country in "[A-Za-z]{0,3}",
        latitude in proptest::num::f64::ANY,
        skew in -1_000_000_000i64..1_000_000_000,
    ) {
        let draft = AlertDraft {
            title: title.clone(),
            country,
            coordinates: Some(Coordinates { latitude, longitude: 0.0 }),
            occurred_at: Some(NOW.saturating_add_millis(skew)),
            ..valid_draft()
        };
        if let Ok(alert) = draft.validate(NOW, fresh()) {
            proptest::prop_assert!(alert.title.chars().count() <= limits::TITLE_CHARS);
            proptest::prop_assert!((-90.0..=90.0).contains(&latitude));
            proptest::prop_assert!(alert.occurred_at.as_unix_millis()
                <= NOW.as_unix_millis() + limits::FUTURE_SKEW_MILLIS);
            proptest::prop_assert!(alert.country_name().is_some());
        }
    }
}
