//! Matching (every operator, anchoring, labels, regions), validation with fields named, the
//! schedule of maintenance windows, and the book's verdicts.

use std::time::Duration;

use jiff::tz::TimeZone;

use super::*;
use crate::alert::{AlertId, Category, Severity};

const HOUR: i64 = 3_600_000;

fn alert(severity: Severity, category: Category) -> Alert {
    Alert {
        id: AlertId::for_dedup_key("ss-juba", "generator"),
        office_id: "ss-juba".into(),
        severity,
        category,
        title: "Generator test".into(),
        description: String::new(),
        country: "SS".into(),
        place: "Juba".into(),
        coordinates: None,
        occurred_at: Timestamp::from_unix_millis(0),
        staff_affected: 0,
        dedup_key: None,
        labels: [("site".to_owned(), "compound-2".to_owned())]
            .into_iter()
            .collect(),
        origin: None,
    }
}

fn juba() -> Alert {
    alert(Severity::Warning, Category::Infrastructure)
}

fn matches(text: &str, alert: &Alert) -> bool {
    Matcher::parse(text)
        .unwrap_or_else(|error| panic!("{text}: {error}"))
        .matches(alert, Some("eha"))
}

#[test]
fn every_operator_matches_as_alertmanager_does() {
    let alert = juba();
    assert!(matches(r#"office="ss-juba""#, &alert));
    assert!(!matches(r#"office="ss-malakal""#, &alert));
    assert!(matches(r#"office!="ss-malakal""#, &alert));
    assert!(!matches(r#"office!="ss-juba""#, &alert));
    assert!(matches(r#"severity=~"warning|info""#, &alert));
    assert!(!matches(r#"severity!~"warning|info""#, &alert));
    assert!(matches(r#"category!~"medical|crime""#, &alert));
    assert!(matches(r#"country="SS""#, &alert));
    assert!(matches(r#"region="eha""#, &alert));
    assert!(matches(r#"site="compound-2""#, &alert));
    assert!(matches("site=compound-2", &alert), "a bare value");
    assert!(matches(r#" office = "ss-juba" "#, &alert), "spaces around");
}

#[test]
fn regular_expressions_are_fully_anchored() {
    let alert = juba();
    assert!(!matches(r#"severity=~"warn""#, &alert), "no partial match");
    assert!(!matches(r#"office=~"juba""#, &alert));
    assert!(matches(r#"office=~"ss-.*""#, &alert));
    assert!(matches(r#"office!~"juba""#, &alert), "anchored for !~ too");
    // An alternation is anchored as a whole, not only its first branch.
    assert!(!matches(r#"severity=~"info|warn""#, &alert));
}

#[test]
fn a_missing_label_or_region_is_the_empty_string() {
    let alert = juba();
    let matcher = Matcher::parse(r#"team="""#).unwrap();
    assert!(matcher.matches(&alert, None));
    assert!(
        Matcher::parse(r#"team!="x""#)
            .unwrap()
            .matches(&alert, None)
    );
    let region = Matcher::parse(r#"region="eha""#).unwrap();
    assert!(!region.matches(&alert, None), "a country in no region");
}

#[test]
fn bad_matchers_are_refused_with_a_reason() {
    for (text, says) in [
        (r#"severity=~"(warning""#, "not a regular expression"),
        (r#"severity="critcal""#, "is not one of"),
        (r#"category="hostage""#, "is not one of"),
        (r#"country="ss""#, "country code"),
        (r#"office"#, "no operator"),
        (r#"office=~"x"#, "not closed"),
        (r#"9lives="x""#, "not a field"),
    ] {
        let error = Matcher::parse(text).expect_err(text);
        assert!(error.contains(says), "{text}: {error}");
    }
}

#[test]
fn matchers_print_in_the_form_they_are_read() {
    for text in [
        r#"office="ss-juba""#,
        r#"severity!~"info|warning""#,
        r#"site="a \"b\"""#,
    ] {
        let matcher = Matcher::parse(text).unwrap();
        assert_eq!(matcher.to_string(), text);
        assert_eq!(Matcher::parse(&matcher.to_string()).unwrap(), matcher);
    }
}

fn at(hours: i64) -> Timestamp {
    Timestamp::from_unix_millis(hours * HOUR)
}

fn draft(matchers: &[&str]) -> Draft {
    Draft {
        matchers: matchers.iter().map(|m| (*m).to_owned()).collect(),
        duration: Some(Duration::from_secs(2 * 3600)),
        comment: "generator test".into(),
        created_by: "maria.santos".into(),
        ..Draft::default()
    }
}

fn no_offices(_: &str) -> Option<TimeZone> {
    None
}

fn juba_office(office: &str) -> Option<TimeZone> {
    (office == "ss-juba").then(|| TimeZone::get("Africa/Juba").unwrap())
}

fn fields(result: Result<Silence, Vec<FieldError>>) -> Vec<String> {
    result
        .expect_err("refused")
        .into_iter()
        .map(|error| error.field)
        .collect()
}

#[test]
fn a_silence_is_validated_with_every_field_named() {
    let limits = Limits::default();
    let ok = draft(&[r#"office="ss-juba""#]).validate("s1".into(), at(10), &limits, &no_offices);
    let silence = ok.expect("valid");
    assert_eq!((silence.starts_at, silence.ends_at), (at(10), at(12)));

    let bad = draft(&[r#"office="ss-juba""#, r#"severity=~"(""#]);
    assert_eq!(
        fields(bad.validate("s".into(), at(0), &limits, &no_offices)),
        ["matchers[1]"]
    );
    let mut forever = draft(&[r#"office="ss-juba""#]);
    forever.duration = None;
    assert_eq!(
        fields(forever.validate("s".into(), at(0), &limits, &no_offices)),
        ["ends_at"]
    );
    let mut long = draft(&[r#"office="ss-juba""#]);
    long.duration = Some(Duration::from_secs(25 * 3600));
    assert_eq!(
        fields(long.validate("s".into(), at(0), &limits, &no_offices)),
        ["duration"]
    );
    let mut silent = draft(&[r#"office="ss-juba""#]);
    silent.comment = "  ".into();
    assert_eq!(
        fields(silent.validate("s".into(), at(0), &limits, &no_offices)),
        ["comment"]
    );
    assert_eq!(
        fields(draft(&[]).validate("s".into(), at(0), &limits, &no_offices)),
        ["matchers"]
    );
    assert_eq!(
        fields(draft(&[r#"office=~".*""#]).validate("s".into(), at(0), &limits, &no_offices)),
        ["matchers"],
        "a silence of everything"
    );
    let mut backwards = draft(&[r#"office="ss-juba""#]);
    backwards.duration = None;
    backwards.ends_at = Some(at(5));
    assert_eq!(
        fields(backwards.validate("s".into(), at(6), &limits, &no_offices)),
        ["ends_at"]
    );
}

#[test]
fn a_start_in_the_past_is_now() {
    let mut past = draft(&[r#"office="ss-juba""#]);
    past.starts_at = Some(at(1));
    let silence = past
        .validate("s".into(), at(5), &Limits::default(), &no_offices)
        .unwrap();
    assert_eq!(silence.starts_at, at(5));
}

fn sunday_window() -> WindowDraft {
    WindowDraft {
        office: Some("ss-juba".into()),
        cron: Some("0 2 * * Sun".into()),
        every_for: Some(Duration::from_secs(2 * 3600)),
        ..WindowDraft::default()
    }
}

/// 2026-11-29 is a Sunday. Juba is UTC+2.
fn utc(text: &str) -> Timestamp {
    let at: jiff::Timestamp = text.parse().unwrap();
    Timestamp::from_unix_millis(at.as_millisecond())
}

fn weekly() -> Silence {
    let mut window = draft(&[]);
    window.window = Some(sunday_window());
    window.duration = None;
    window.ends_at = Some(utc("2027-01-31T00:00:00Z"));
    window
        .validate(
            "w".into(),
            utc("2026-11-25T00:00:00Z"),
            &Limits::default(),
            &juba_office,
        )
        .expect("a weekly window")
}

#[test]
fn a_recurring_window_silences_each_occurrence_in_the_office_zone() {
    let window = weekly();
    assert_eq!(window.matchers[0].to_string(), r#"office="ss-juba""#);
    // Sunday 02:00–04:00 in Juba is 00:00–02:00 UTC.
    assert_eq!(window.active_until(utc("2026-11-28T23:59:00Z")), None);
    assert_eq!(
        window.active_until(utc("2026-11-29T00:00:00Z")),
        Some(utc("2026-11-29T02:00:00Z"))
    );
    assert_eq!(
        window.active_until(utc("2026-11-29T01:30:00Z")),
        Some(utc("2026-11-29T02:00:00Z"))
    );
    assert_eq!(window.active_until(utc("2026-11-29T02:00:00Z")), None);
    assert_eq!(window.state(utc("2026-11-30T12:00:00Z")), State::Waiting);
    assert_eq!(
        window.next_change(utc("2026-11-29T01:00:00Z")),
        Some(utc("2026-11-29T02:00:00Z"))
    );
    assert_eq!(
        window.next_change(utc("2026-11-30T12:00:00Z")),
        Some(utc("2026-12-06T00:00:00Z"))
    );
    assert!(window.covers_office("ss-juba", "SS"));
    assert!(!window.covers_office("ss-malakal", "SS"));
}

#[test]
fn windows_are_validated_with_their_fields_named() {
    let limits = Limits::default();
    let now = utc("2026-11-25T00:00:00Z");
    let with = |change: &dyn Fn(&mut WindowDraft), ends: Option<Timestamp>| {
        let mut window = sunday_window();
        change(&mut window);
        let mut silence = draft(&[]);
        silence.window = Some(window);
        silence.duration = None;
        silence.ends_at = ends.or(Some(utc("2027-01-31T00:00:00Z")));
        fields(silence.validate("w".into(), now, &limits, &juba_office))
    };
    assert_eq!(
        with(&|w| w.office = Some("xx".into()), None),
        ["maintenance.office"]
    );
    assert_eq!(
        with(&|w| w.cron = Some("0 2 * *".into()), None),
        ["maintenance.cron"]
    );
    assert_eq!(
        with(
            &|w| w.every_for = Some(Duration::from_secs(30 * 3600)),
            None
        ),
        ["maintenance.duration"]
    );
    assert_eq!(
        with(
            &|w| {
                w.office = None;
                w.country = Some("SS".into());
            },
            None
        ),
        ["maintenance.time_zone"]
    );
    assert_eq!(
        with(&|w| w.time_zone = Some("Mars/Olympus".into()), None),
        ["maintenance.time_zone"]
    );
    assert_eq!(
        with(&|_| {}, Some(utc("2027-12-31T00:00:00Z"))),
        ["ends_at"],
        "a series longer than silences.max_series"
    );
}

fn silence(id: &str, matcher: &str, from: i64, to: i64) -> Silence {
    Silence {
        id: id.into(),
        matchers: vec![Matcher::parse(matcher).unwrap()],
        starts_at: at(from),
        ends_at: at(to),
        created_by: "maria.santos".into(),
        created_at: at(from),
        comment: format!("{id} comment"),
        expired: None,
        window: None,
    }
}

#[test]
fn the_verdict_is_the_matching_silence_that_lasts_longest() {
    let mut book = SilenceBook::default();
    book.insert(silence("short", r#"office="ss-juba""#, 0, 2));
    book.insert(silence("long", r#"country="SS""#, 0, 5));
    book.insert(silence("other", r#"office="ss-malakal""#, 0, 9));
    book.insert(silence("later", r#"office="ss-juba""#, 6, 9));
    let verdict = book.verdict_in(&juba(), None, at(1)).unwrap();
    assert_eq!((verdict.silence.as_str(), verdict.until), ("long", at(5)));
    assert!(verdict.holds());
    assert_eq!(
        book.verdict_in(&juba(), None, at(5)),
        None,
        "ends are exclusive"
    );
    assert_eq!(
        book.verdict_in(&juba(), None, at(7)).unwrap().silence,
        "later"
    );
    assert_eq!(book.next_change(at(1)), Some(at(2)));
    assert_eq!(book.next_change(at(5)), Some(at(6)));
    assert_eq!(book.active(at(1)), 3);
}

#[test]
fn the_classes_never_silenced_are_marked_exempt() {
    let mut book = SilenceBook::default();
    book.insert(silence("all-juba", r#"office="ss-juba""#, 0, 5));
    for (alert, exemption) in [
        (
            alert(Severity::Emergency, Category::Infrastructure),
            Exemption::Emergency,
        ),
        (
            alert(Severity::Warning, Category::Abduction),
            Exemption::Abduction,
        ),
        (
            alert(Severity::Critical, Category::OfficeSilent),
            Exemption::OfficeSilent,
        ),
    ] {
        let verdict = book.verdict_in(&alert, None, at(1)).unwrap();
        assert_eq!(verdict.exempt, Some(exemption));
        assert!(!verdict.holds());
    }
}

#[test]
fn an_expired_silence_silences_nothing_and_a_window_pauses_its_offices() {
    let mut book = SilenceBook::default();
    let mut expired = silence("gone", r#"office="ss-juba""#, 0, 5);
    expired.ends_at = at(1);
    expired.expired = Some(Expiry {
        by: "jose.reyes".into(),
        at: at(1),
    });
    book.insert(expired);
    assert_eq!(book.verdict_in(&juba(), None, at(2)), None);
    // Pruned, it is no longer looked at, and still listed.
    book.prune(at(2));
    assert_eq!(book.len(), 1);
    assert_eq!(book.next_change(at(0)), None);
    let mut window = silence("window", r#"country="SS""#, 0, 5);
    window.window = Some(Window {
        scope: Scope::Country("SS".into()),
        recurrence: None,
    });
    book.insert(window);
    assert_eq!(
        book.maintenance("ss-juba", "SS", at(1)).unwrap().silence,
        "window"
    );
    assert_eq!(book.maintenance("ke-nairobi", "KE", at(1)), None);
    assert_eq!(book.maintenance("ss-juba", "SS", at(6)), None);
}
