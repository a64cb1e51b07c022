//! Scripted traces for every transition of an office watch, and property tests for its
//! invariants. No sleeps: time is an argument.

use std::time::Duration;

use jiff::tz::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::validate::AlertDraft;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
/// 2026-03-02T00:00:00Z, a Monday.
const MONDAY: i64 = 1_772_409_600_000;

fn at(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(millis)
}

fn config(every: Every, zone: &str) -> WatchConfig {
    let time_zone = TimeZone::get(zone).unwrap();
    let grace = CheckInSchedule::default_grace(&every, &time_zone);
    WatchConfig {
        office: "ng-maiduguri".into(),
        name: "Maiduguri sub-office".into(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        schedule: CheckInSchedule {
            every,
            grace,
            time_zone,
        },
        severity: Severity::Critical,
    }
}

fn every_6h() -> WatchConfig {
    config(
        Every::Interval(Duration::from_secs(6 * 3600)),
        "Africa/Lagos",
    )
}

fn check_in(millis: i64, channel: Channel) -> CheckIn {
    CheckIn {
        at: at(millis),
        channel,
        status: None,
        coordinates: None,
    }
}

fn watch() -> OfficeWatch {
    OfficeWatch::new(OfficeKey("ng-maiduguri".into()))
}

fn pause(reason: &str, from: i64, until: Option<i64>) -> Pause {
    Pause {
        reason: reason.into(),
        until: until.map(at),
        by: Responder {
            actor: "maria.santos".into(),
            channel: "console".into(),
        },
        at: at(from),
    }
}

fn actions(watch: &mut OfficeWatch) -> Vec<Action> {
    std::iter::from_fn(|| watch.poll_action()).collect()
}

/// Fires the watch's timer whenever it is due up to `until`, as the driver does.
fn run_until(watch: &mut OfficeWatch, config: &WatchConfig, until: i64) -> Vec<Action> {
    let mut out = Vec::new();
    for _ in 0..100 {
        match watch.poll_timeout() {
            Some(due) if due.as_unix_millis() <= until => {
                watch.handle_timeout(config, due);
                out.extend(actions(watch));
            }
            _ => break,
        }
    }
    out
}

fn raised(actions: &[Action]) -> Vec<&Alert> {
    actions
        .iter()
        .filter_map(|Action::Publish(owed)| match &owed.publication {
            Publication::Raise { alert, .. } => Some(alert),
            Publication::Resolve { .. } => None,
        })
        .collect()
}

#[test]
fn a_new_office_raises_nothing_until_its_first_check_in() {
    let config = every_6h();
    let mut watch = watch();
    assert_eq!(watch.status(), Status::New);
    assert_eq!(watch.poll_timeout(), None);
    watch.handle_timeout(&config, at(MONDAY + 1_000 * HOUR));
    assert_eq!(watch.status(), Status::New);
    assert!(actions(&mut watch).is_empty());
}

#[test]
fn an_interval_office_goes_late_then_down_with_one_alert() {
    let config = every_6h();
    // Grace: a quarter of six hours.
    assert_eq!(config.schedule.grace, Duration::from_secs(90 * 60));
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    assert_eq!(watch.status(), Status::Up);
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 6 * HOUR)));

    watch.handle_timeout(&config, at(MONDAY + 6 * HOUR));
    assert_eq!(watch.status(), Status::Late);
    assert!(actions(&mut watch).is_empty(), "late is shown, not paged");
    assert_eq!(
        watch.poll_timeout(),
        Some(at(MONDAY + 7 * HOUR + 30 * MINUTE))
    );

    watch.handle_timeout(&config, at(MONDAY + 7 * HOUR + 30 * MINUTE));
    assert_eq!(watch.status(), Status::Down);
    let decided = actions(&mut watch);
    let alerts = raised(&decided);
    assert_eq!(alerts.len(), 1);
    let alert = alerts[0];
    assert_eq!(alert.category, Category::OfficeSilent);
    assert_eq!(
        (alert.country.as_str(), alert.office_id.as_str()),
        ("NG", "ng-maiduguri")
    );
    assert!(
        alert
            .description
            .contains("Last check-in: 2026-03-02T00:00:00Z via http")
    );
    // Its id is the office's and the due time's: a restart decides the same one.
    assert_eq!(
        alert.id,
        AlertId::for_dedup_key(
            "ng-maiduguri",
            &format!("office-silent/{}", MONDAY + 6 * HOUR)
        )
    );
    assert_eq!(watch.state().silence_alert, Some(alert.id));
    // Down raises once: no timer, nothing more however long it stays silent.
    assert_eq!(watch.poll_timeout(), None);
    watch.handle_timeout(&config, at(MONDAY + 100 * HOUR));
    assert!(actions(&mut watch).is_empty());
}

#[test]
fn the_silence_alert_is_a_valid_alert() {
    let config = every_6h();
    let mut watch = watch();
    let mut last = check_in(MONDAY, Channel::Grpc);
    last.status = Some("generator down".into());
    last.coordinates = Some(Coordinates {
        latitude: 11.83,
        longitude: 13.15,
    });
    watch.handle_check_in(last, &config);
    let decided = run_until(&mut watch, &config, MONDAY + 24 * HOUR);
    let alert = raised(&decided)[0].clone();
    let draft = AlertDraft {
        office_id: alert.office_id.clone(),
        severity: Some(alert.severity),
        category: Some(alert.category),
        title: alert.title.clone(),
        description: alert.description.clone(),
        country: alert.country.clone(),
        place: alert.place.clone(),
        coordinates: alert.coordinates,
        occurred_at: Some(alert.occurred_at),
        staff_affected: alert.staff_affected,
        dedup_key: alert.dedup_key.clone().unwrap_or_default(),
        labels: alert.labels.clone().into_iter().collect(),
        occurred_at_out_of_range: false,
        origin: None,
    };
    let Action::Publish(Owed {
        publication: Publication::Raise { at: raised_at, .. },
        ..
    }) = &decided[0]
    else {
        panic!("{decided:?}")
    };
    assert_eq!(draft.validate(*raised_at, alert.id), Ok(alert));
}

#[test]
fn a_check_in_while_late_is_up_again_and_raises_nothing() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    watch.handle_timeout(&config, at(MONDAY + 6 * HOUR));
    assert_eq!(watch.status(), Status::Late);
    watch.handle_check_in(check_in(MONDAY + 7 * HOUR, Channel::Alert), &config);
    assert_eq!(watch.status(), Status::Up);
    assert!(actions(&mut watch).is_empty());
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 13 * HOUR)));
}

#[test]
fn a_check_in_while_down_resolves_the_alert_saying_how() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    let decided = run_until(&mut watch, &config, MONDAY + 8 * HOUR);
    let id = raised(&decided)[0].id;
    watch.handle_check_in(check_in(MONDAY + 9 * HOUR, Channel::Http), &config);
    assert_eq!(watch.status(), Status::Up);
    let decided = actions(&mut watch);
    let [
        Action::Publish(Owed {
            publication: Publication::Resolve {
                alert_id, note, by, ..
            },
            ..
        }),
    ] = decided.as_slice()
    else {
        panic!("{decided:?}")
    };
    assert_eq!(*alert_id, id);
    assert_eq!(note, "office checked in at 2026-03-02T09:00:00Z via http");
    assert_eq!(
        (by.actor.as_str(), by.channel.as_str()),
        ("ng-maiduguri", "check-in")
    );
    assert_eq!(watch.state().silence_alert, None);
    // A second check-in resolves nothing more.
    watch.handle_check_in(check_in(MONDAY + 10 * HOUR, Channel::Http), &config);
    assert!(actions(&mut watch).is_empty());
}

#[test]
fn an_older_check_in_read_late_changes_nothing() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY + HOUR, Channel::Http), &config);
    assert!(!watch.handle_check_in(check_in(MONDAY, Channel::Alert), &config));
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 7 * HOUR)));
}

#[test]
fn a_paused_office_raises_nothing_and_resumes_by_itself_at_the_end() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    watch.handle_pause(pause(
        "generator test",
        MONDAY + HOUR,
        Some(MONDAY + 30 * HOUR),
    ));
    assert_eq!(watch.status(), Status::Paused);
    // Its timer is the pause's end; nothing fires before.
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 30 * HOUR)));
    watch.handle_timeout(&config, at(MONDAY + 20 * HOUR));
    assert_eq!(watch.status(), Status::Paused);
    let decided = run_until(&mut watch, &config, MONDAY + 30 * HOUR);
    assert!(decided.is_empty());
    // Resumed at its end, with a full interval from then.
    assert_eq!(watch.status(), Status::Up);
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 36 * HOUR)));
    assert_eq!(watch.state().pause, None);
}

#[test]
fn a_pause_without_an_end_holds_until_resumed_or_a_check_in() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    watch.handle_pause(pause("office closed", MONDAY + HOUR, None));
    assert_eq!(watch.poll_timeout(), None);
    assert!(run_until(&mut watch, &config, MONDAY + 1_000 * HOUR).is_empty());
    assert!(watch.handle_resume(&config, at(MONDAY + 50 * HOUR)));
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 56 * HOUR)));
    assert!(
        !watch.handle_resume(&config, at(MONDAY + 51 * HOUR)),
        "not paused"
    );

    watch.handle_pause(pause("blackout", MONDAY + 52 * HOUR, None));
    watch.handle_check_in(check_in(MONDAY + 53 * HOUR, Channel::Grpc), &config);
    assert_eq!(
        watch.status(),
        Status::Up,
        "a check-in shows it is talking again"
    );
}

#[test]
fn a_pause_while_down_keeps_the_alert_for_the_next_check_in_to_resolve() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    let id = raised(&run_until(&mut watch, &config, MONDAY + 8 * HOUR))[0].id;
    watch.handle_pause(pause("line cut, known", MONDAY + 8 * HOUR, None));
    watch.handle_check_in(check_in(MONDAY + 20 * HOUR, Channel::Http), &config);
    let decided = actions(&mut watch);
    assert!(matches!(
        decided.as_slice(),
        [Action::Publish(Owed { publication: Publication::Resolve { alert_id, .. }, .. })] if *alert_id == id
    ));
}

#[test]
fn resumed_while_still_silent_is_down_under_the_alert_already_open() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    assert_eq!(
        raised(&run_until(&mut watch, &config, MONDAY + 8 * HOUR)).len(),
        1
    );
    watch.handle_pause(pause(
        "checking by phone",
        MONDAY + 8 * HOUR,
        Some(MONDAY + 9 * HOUR),
    ));
    assert!(run_until(&mut watch, &config, MONDAY + 100 * HOUR).is_empty());
    assert_eq!(watch.status(), Status::Down);
}

#[test]
fn a_clock_that_jumps_past_the_grace_raises_once() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    // The timer fires late (a suspended machine, a clock stepped forward): straight to down.
    watch.handle_timeout(&config, at(MONDAY + 50 * HOUR));
    assert_eq!(watch.status(), Status::Down);
    assert_eq!(raised(&actions(&mut watch)).len(), 1);
    // A clock stepped back changes nothing.
    watch.handle_timeout(&config, at(MONDAY));
    assert_eq!(watch.status(), Status::Down);
    assert!(actions(&mut watch).is_empty());
}

#[test]
fn cron_times_are_read_in_the_office_zone() {
    // 08:00 and 18:00 in Lagos (UTC+1), weekdays.
    let config = config(Every::cron("0 8,18 * * Mon-Fri").unwrap(), "Africa/Lagos");
    // Grace: a quarter of the shortest gap (10 h), 2.5 h.
    assert_eq!(config.schedule.grace, Duration::from_secs(150 * 60));
    let mut watch = watch();
    // Monday 07:50 Lagos counts for 08:00: next due 18:00 Lagos (17:00 UTC).
    watch.handle_check_in(
        check_in(MONDAY + 6 * HOUR + 50 * MINUTE, Channel::Http),
        &config,
    );
    assert_eq!(watch.poll_timeout(), Some(at(MONDAY + 17 * HOUR)));
    // Friday 18:05 Lagos: next due Monday 08:00 Lagos, over the weekend.
    let friday_evening = MONDAY + 4 * 24 * HOUR + 17 * HOUR + 5 * MINUTE;
    watch.handle_check_in(check_in(friday_evening, Channel::Http), &config);
    assert_eq!(
        watch.poll_timeout(),
        Some(at(MONDAY + 7 * 24 * HOUR + 7 * HOUR))
    );
}

#[test]
fn cron_schedules_follow_a_daylight_saving_change() {
    // 08:00 in New York, daily. On 2026-03-08 clocks go from UTC-5 to UTC-4.
    let config = config(Every::cron("0 8 * * *").unwrap(), "America/New_York");
    let mut watch = watch();
    // Saturday 2026-03-07 08:00 EST = 13:00 UTC.
    let saturday = MONDAY + 5 * 24 * HOUR + 13 * HOUR;
    watch.handle_check_in(check_in(saturday, Channel::Http), &config);
    // Sunday 08:00 EST would be 13:00 UTC; after the change it is 08:00 EDT = 12:00 UTC.
    assert_eq!(watch.poll_timeout(), Some(at(saturday + 23 * HOUR)));
    // And a time skipped by the change (02:30 on 2026-03-08 does not exist there) is still
    // a due time on the days it exists.
    let skipped = config_at("30 2 * * *", "America/New_York");
    let due = skipped
        .schedule
        .due_from(at(MONDAY + 6 * 24 * HOUR))
        .unwrap();
    assert!(due > at(MONDAY + 6 * 24 * HOUR));
}

fn config_at(expression: &str, zone: &str) -> WatchConfig {
    config(Every::cron(expression).unwrap(), zone)
}

#[test]
fn cron_expressions_are_checked() {
    assert!(Every::cron("0 8 * *").unwrap_err().contains("five"));
    assert!(
        Every::cron("0 25 * * *")
            .unwrap_err()
            .contains("not a cron expression")
    );
    assert!(Every::cron("*/15 * * * *").is_ok());
}

#[test]
fn a_restored_watch_decides_again_what_the_broker_did_not_acknowledge() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Http), &config);
    let decided = run_until(&mut watch, &config, MONDAY + 8 * HOUR);
    let mut restored = OfficeWatch::restore(watch.snapshot());
    assert_eq!(actions(&mut restored), decided, "same alert, same id");
    let Action::Publish(owed) = &decided[0];
    restored.handle_published(owed.seq);
    let mut again = OfficeWatch::restore(restored.snapshot());
    assert!(actions(&mut again).is_empty());
    assert_eq!(again.status(), Status::Down);
}

#[derive(Clone, Debug)]
enum Input {
    CheckIn(i64),
    Pause(Option<i64>),
    Resume,
    Published,
    Restore,
}

fn input() -> impl Strategy<Value = (i64, Input)> {
    (
        0..20 * HOUR,
        prop_oneof![
            4 => (0..HOUR).prop_map(Input::CheckIn),
            1 => proptest::option::of(0..10 * HOUR).prop_map(Input::Pause),
            1 => Just(Input::Resume),
            2 => Just(Input::Published),
            1 => Just(Input::Restore),
        ],
    )
}

proptest! {
    /// Whatever happens, in whatever order: never more than one open silence alert; no alert
    /// before the first check-in; none raised while paused; every raise has a distinct id;
    /// the next timeout is never in the past.
    #[test]
    fn invariants_hold(inputs in proptest::collection::vec(input(), 0..40)) {
        let config = every_6h();
        let mut watch = watch();
        let mut now = MONDAY;
        let mut open: Option<AlertId> = None;
        let mut ids = std::collections::BTreeSet::new();
        let mut seen: Vec<Owed> = Vec::new();
        for (advance, input) in inputs {
            // Time passes, with the timer fired as the driver fires it.
            let until = now + advance;
            for _ in 0..100 {
                let Some(due) = watch.poll_timeout().filter(|due| due.as_unix_millis() <= until)
                else {
                    break;
                };
                let before = watch.status();
                watch.handle_timeout(&config, due);
                for Action::Publish(owed) in actions(&mut watch) {
                    if let Publication::Raise { alert, .. } = &owed.publication {
                        prop_assert!(watch.state().last.is_some(), "alert before any check-in");
                        prop_assert_ne!(before, Status::Paused, "an alert while paused");
                        prop_assert!(open.is_none(), "a second open silence alert");
                        prop_assert!(ids.insert(alert.id), "an id raised twice");
                        open = Some(alert.id);
                    }
                    seen.push(owed);
                }
            }
            now = until;
            match input {
                Input::CheckIn(earlier) => {
                    watch.handle_check_in(check_in(now - earlier, Channel::Http), &config);
                }
                Input::Pause(until) => {
                    watch.handle_pause(pause("test", now, until.map(|until| now + until + 1)));
                }
                Input::Resume => {
                    watch.handle_resume(&config, at(now));
                }
                Input::Published => {
                    if let Some(owed) = watch.state().owed.first().cloned() {
                        watch.handle_published(owed.seq);
                    }
                }
                Input::Restore => {
                    watch = OfficeWatch::restore(watch.snapshot());
                    // What it decides again, it decided before, under the same seq.
                    for Action::Publish(owed) in actions(&mut watch) {
                        prop_assert!(seen.contains(&owed));
                    }
                }
            }
            for Action::Publish(owed) in actions(&mut watch) {
                if let Publication::Resolve { alert_id, .. } = &owed.publication {
                    prop_assert_eq!(Some(*alert_id), open.take());
                }
                seen.push(owed);
            }
            if watch.status() == Status::Paused {
                prop_assert!(watch.state().due.is_none());
            }
            if let Some(next) = watch.poll_timeout() {
                prop_assert!(next > at(now), "a timeout in the past");
            }
        }
    }
}

fn window(until: i64) -> crate::silence::Silencing {
    crate::silence::Silencing {
        silence: "w1".into(),
        by: "maria.santos".into(),
        until: at(until),
        comment: "generator test".into(),
        exempt: None,
    }
}

#[test]
fn a_maintenance_window_pauses_the_watch_and_its_end_resumes_it_with_a_full_interval() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Grpc), &config);
    // The window starts an hour later and lasts past the due time: nothing goes late or down.
    assert!(watch.handle_maintenance(Some(&window(MONDAY + 9 * HOUR)), &config, at(MONDAY + HOUR)));
    assert_eq!(watch.status(), Status::Paused);
    assert!(watch.paused_by_window());
    assert_eq!(
        watch.state().pause.as_ref().unwrap().by.channel,
        "maintenance"
    );
    assert!(
        !watch.handle_maintenance(
            Some(&window(MONDAY + 9 * HOUR)),
            &config,
            at(MONDAY + 2 * HOUR)
        ),
        "the same window again changes nothing"
    );
    watch.handle_timeout(&config, at(MONDAY + 7 * HOUR));
    assert_eq!(watch.status(), Status::Paused);
    assert!(watch.poll_action().is_none());
    // The window ends: a full interval from its end.
    assert!(watch.handle_maintenance(None, &config, at(MONDAY + 9 * HOUR)));
    assert_eq!(watch.status(), Status::Up);
    assert_eq!(watch.state().due, Some(at(MONDAY + 15 * HOUR)));
}

#[test]
fn a_maintenance_window_never_overrides_or_ends_a_person_s_pause() {
    let config = every_6h();
    let mut watch = watch();
    watch.handle_check_in(check_in(MONDAY, Channel::Grpc), &config);
    watch.handle_pause(pause("road closed", MONDAY + HOUR, None));
    assert!(!watch.handle_maintenance(
        Some(&window(MONDAY + 9 * HOUR)),
        &config,
        at(MONDAY + 2 * HOUR)
    ));
    assert!(!watch.handle_maintenance(None, &config, at(MONDAY + 9 * HOUR)));
    assert_eq!(watch.state().pause.as_ref().unwrap().reason, "road closed");
}
