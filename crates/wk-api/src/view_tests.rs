//! The read view's index and bounds: ListAlerts newest first with its cursor, resolved alerts
//! let go of past the ceiling or the retention (oldest resolution first) and still found by
//! id, open alerts and alerts from nowhere never let go of, and memory flat over many alerts.

use std::time::Duration;

use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

use super::{Filter, Limits, Place, Row, StateView};

const DAY_MS: i64 = 86_400_000;

fn state(
    n: u64,
    first_seen_ms: i64,
    resolved_at_ms: Option<i64>,
) -> (AlertId, pb::EscalationState) {
    let id = AlertId::for_dedup_key("ng-maiduguri", &format!("k{n}"));
    let at = |ms: i64| {
        Some(prost_types::Timestamp {
            seconds: ms.div_euclid(1000),
            nanos: 0,
        })
    };
    let state = pb::EscalationState {
        alert_id: id.to_string(),
        status: if resolved_at_ms.is_some() {
            pb::AlertStatus::Resolved as i32
        } else {
            pb::AlertStatus::Open as i32
        },
        first_seen: at(first_seen_ms),
        status_at: resolved_at_ms.and_then(at),
        alert: Some(pb::Alert {
            office_id: "ng-maiduguri".into(),
            severity: 3,
            title: format!("alert {n}"),
            ..Default::default()
        }),
        ..Default::default()
    };
    (id, state)
}

fn ids(states: &[pb::EscalationState]) -> Vec<String> {
    states.iter().map(|s| s.alert_id.clone()).collect()
}

#[test]
fn list_walks_newest_first_and_pages_by_its_cursor() {
    let view = StateView::default();
    let mut expected = Vec::new();
    for n in 0..7 {
        let (id, state) = state(n, 1_000_000 + (n as i64 % 3) * 1000, None);
        view.observe(id, state);
        expected.push((1_000_000 + (n as i64 % 3) * 1000, id));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
    let (first, cursor) = view.list(&Filter::default(), None, 3);
    let (second, cursor) = view.list(&Filter::default(), cursor, 3);
    let (third, end) = view.list(&Filter::default(), cursor, 3);
    assert_eq!([ids(&first), ids(&second), ids(&third)].concat(), expected);
    assert!(end.is_none());
    let filter = Filter {
        statuses: vec![pb::AlertStatus::Resolved as i32],
        ..Default::default()
    };
    assert!(view.list(&filter, None, 10).0.is_empty());
}

#[test]
fn resolved_alerts_past_the_ceiling_are_let_go_oldest_first_and_still_located() {
    let view = StateView::with_limits(Limits {
        retention: Duration::from_secs(30 * 86_400),
        max_resolved: 2,
        ..Limits::default()
    });
    let now = 100 * DAY_MS;
    let (open, open_state) = state(0, now - 5 * DAY_MS, None);
    view.observe_at(open, open_state, Some((0, 1)), now);
    let mut resolved = Vec::new();
    for n in 1..=3 {
        let (id, s) = state(n, now - DAY_MS, Some(now - DAY_MS + n as i64 * 1000));
        view.observe_at(id, s, Some((0, 10 + n as i64)), now);
        resolved.push(id);
    }
    assert_eq!(
        view.sizes(),
        (3, 1, 0),
        "the open one and the two latest resolved"
    );
    assert!(view.get(resolved[0]).is_none());
    assert_eq!(view.locate(resolved[0]), Some((0, 11)));
    assert!(view.is_known(resolved[0]));
    assert!(view.get(open).is_some() && view.locate(open).is_none());
    let listed = ids(&view.list(&Filter::default(), None, 10).0);
    assert!(!listed.contains(&resolved[0].to_string()));
    assert_eq!(listed.len(), 3);
    // Raised again: back in memory, as an open alert.
    let (id, again) = state(1, now, None);
    view.observe_at(id, again, Some((0, 20)), now);
    assert!(view.get(resolved[0]).is_some() && view.locate(resolved[0]).is_none());
}

#[test]
fn resolved_alerts_older_than_the_retention_are_let_go_and_alerts_from_nowhere_are_kept() {
    let view = StateView::with_limits(Limits {
        retention: Duration::from_secs(30 * 86_400),
        max_resolved: 100,
        ..Limits::default()
    });
    let now = 100 * DAY_MS;
    let (old, old_state) = state(1, now - 40 * DAY_MS, Some(now - 31 * DAY_MS));
    view.observe_at(old, old_state, Some((1, 5)), now);
    let (recent, recent_state) = state(2, now - 40 * DAY_MS, Some(now - 29 * DAY_MS));
    view.observe_at(recent, recent_state, Some((1, 6)), now);
    // Accepted here and observed without a place on the state topic: never let go of.
    let (local, local_state) = state(3, now - 40 * DAY_MS, Some(now - 60 * DAY_MS));
    view.observe(local, local_state);
    let (trigger, trigger_state) = state(4, now, None);
    view.observe_at(trigger, trigger_state, Some((1, 7)), now);
    assert_eq!(view.locate(old), Some((1, 5)));
    assert!(view.get(recent).is_some());
    assert!(view.get(local).is_some());
}

#[test]
fn memory_stays_flat_however_many_alerts_pass_through() {
    let view = StateView::with_limits(Limits {
        retention: Duration::from_secs(30 * 86_400),
        max_resolved: 1_000,
        ..Limits::default()
    });
    let now = 100 * DAY_MS;
    for n in 0..50_000u64 {
        let (id, s) = state(n, now - DAY_MS, None);
        view.observe_at(id, s, Some((0, 2 * n as i64)), now);
        let (id, s) = state(n, now - DAY_MS, Some(now - DAY_MS + n as i64));
        view.observe_at(id, s, Some((0, 2 * n as i64 + 1)), now);
    }
    assert_eq!(view.sizes(), (1_000, 49_000, 0));
}

#[test]
fn past_the_located_ceiling_the_first_let_go_are_searched_for_and_unknown_ids_are_not() {
    let view = StateView::with_limits(Limits {
        max_resolved: 1,
        max_located: 2,
        ..Limits::default()
    });
    let now = 100 * DAY_MS;
    let mut resolved = Vec::new();
    for n in 1..=4 {
        let (id, s) = state(n, now - DAY_MS, Some(now - DAY_MS + n as i64 * 1000));
        view.observe_at(id, s, Some((0, n as i64)), now);
        resolved.push(id);
    }
    // In memory the last; the places of the two before it; the first only on the topic.
    assert_eq!(view.sizes(), (1, 2, 1));
    assert_eq!(view.place(resolved[0]), Place::Unlocated);
    assert_eq!(view.place(resolved[1]), Place::At(0, 2));
    assert_eq!(view.place(resolved[2]), Place::At(0, 3));
    assert!(view.get(resolved[3]).is_some());
    // An id never seen could be one whose place went: only the topic can say.
    let (stranger, _) = state(99, now, None);
    assert_eq!(view.place(stranger), Place::Unlocated);
    // The second raised again and resolved again: its old place is stale, not a second entry
    // that would push out another alert's place.
    let (id, again) = state(2, now, None);
    view.observe_at(id, again, Some((0, 10)), now);
    let (id, resolved_again) = state(2, now, Some(now + 1000));
    view.observe_at(id, resolved_again, Some((0, 11)), now + 1000);
    assert!(view.get(resolved[1]).is_some());
    assert_eq!(view.place(resolved[3]), Place::At(0, 4));
    assert_eq!(view.place(resolved[2]), Place::At(0, 3));
    assert_eq!(view.sizes(), (1, 2, 1));
}

#[test]
fn before_any_place_is_dropped_an_unseen_id_is_unknown() {
    let view = StateView::with_limits(Limits {
        max_resolved: 0,
        ..Limits::default()
    });
    let now = 100 * DAY_MS;
    let (id, s) = state(1, now - DAY_MS, Some(now - DAY_MS));
    view.observe_at(id, s, Some((0, 1)), now);
    assert_eq!(view.place(id), Place::At(0, 1));
    let (stranger, _) = state(2, now, None);
    assert_eq!(view.place(stranger), Place::Unknown);
}

#[test]
fn a_record_that_leaves_ids_and_times_out_is_given_to_clients_whole() {
    use pb::timeline_entry::Event;
    let view = StateView::default();
    let (id, mut compact) = state(1, 1_000, None);
    compact.incident = 1;
    compact.notifications = vec![pb::Notification {
        recipient: Some(pb::notification::Recipient::WebhookConsole("manila".into())),
        purpose: pb::NotificationPurpose::Step as i32,
        status: pb::DeliveryStatus::Delivered as i32,
        ..Default::default()
    }];
    let held = pb::Silencing {
        silence: "s-1".into(),
        ..Default::default()
    };
    let events = |made: Option<&str>| {
        [
            made.map_or(Event::NotifiedIndex(0), |id| Event::Notified(id.into())),
            made.map_or(Event::DeliveredIndex(0), |id| Event::Delivered(id.into())),
            Event::Silenced(held.clone()),
        ]
    };
    // As the dispatcher writes it: ids left out, times after first seen (1 s).
    compact.timeline = events(None)
        .into_iter()
        .zip([20, 35, 5_000])
        .map(|(event, since)| pb::TimelineEntry {
            at: None,
            since_first_seen_ms: Some(since),
            event: Some(event),
        })
        .collect();
    view.observe(id, compact.clone());
    let made = format!("{id}.i1.r0.s0.webhook-manila");
    let mut whole = compact.clone();
    whole.notifications[0].id = made.clone();
    whole.timeline = events(Some(&made))
        .into_iter()
        .zip([1_020, 1_035, 6_000])
        .map(|(event, ms)| pb::TimelineEntry {
            at: Some(prost_types::Timestamp {
                seconds: ms / 1000,
                nanos: (ms % 1000) as i32 * 1_000_000,
            }),
            since_first_seen_ms: None,
            event: Some(event),
        })
        .collect();
    assert_eq!(view.get(id), Some(whole.clone()));
    assert_eq!(view.list(&Filter::default(), None, 10).0, [whole]);
    assert_eq!(view.silences_seen().get("s-1"), Some(&6_000));
}

#[test]
fn rows_hold_what_lists_filter_on_and_get_list_and_select_return_whole_states() {
    let view = StateView::default();
    let (id, mut whole) = state(1, 1_000, None);
    whole.timeline = vec![pb::TimelineEntry {
        since_first_seen_ms: None,
        at: whole.first_seen,
        event: Some(pb::timeline_entry::Event::Notified(format!(
            "{id}.i1.r0.s0.webhook-manila"
        ))),
    }];
    whole.notifications = vec![pb::Notification {
        id: format!("{id}.i1.r0.s0.webhook-manila"),
        ..Default::default()
    }];
    whole.chain = Some(pb::Chain {
        id: "security".into(),
        steps: vec![pb::ChainStep {
            timeout_ms: 600_000,
            targets: vec!["console:manila".into()],
        }],
        repeat: 1,
        ..Default::default()
    });
    if let Some(alert) = whole.alert.as_mut() {
        alert.country = "NG".into();
        alert.place = "Maiduguri".into();
        alert.description = "Checkpoint closed on the A3".into();
        alert.labels = [("road".to_owned(), "A3".to_owned())].into();
    }
    whole.silence = Some(pb::Silencing {
        silence: "s-1".into(),
        exempt: "abduction".into(),
        ..Default::default()
    });
    view.observe(id, whole.clone());
    assert_eq!(view.get(id), Some(whole.clone()));
    assert_eq!(view.list(&Filter::default(), None, 10).0, [whole.clone()]);
    let (selected, total) = view.select(|_| true, |row| row.id, 10);
    assert_eq!((selected, total), (vec![whole.clone()], 1));
    let mut rows = Vec::new();
    view.for_each(|row| rows.push(row.clone()));
    assert_eq!(rows, [Row::of(&whole)]);
    let row = &rows[0];
    assert_eq!(
        (row.id, row.status, row.severity, row.first_seen_ms),
        (id, pb::AlertStatus::Open as i32, 3, 1_000)
    );
    assert_eq!((&*row.office, &*row.country), ("ng-maiduguri", "NG"));
    assert_eq!(
        row.silence,
        Some(("s-1".into(), false)),
        "exempt: shown, not obeyed"
    );
    assert!(!row.is_silenced());
    for words in [
        &["a3"][..],
        &["maiduguri", "closed"],
        &["road"],
        &["ng-maid"],
    ] {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        assert!(super::has_words(&whole, &words), "{words:?}");
    }
    assert!(!super::has_words(&whole, &["juba".to_owned()]));
    // A search reads whole states: the words are not in the rows.
    let search = |words: &[&str]| {
        let words: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
        view.select_where(
            |_| true,
            |state| super::has_words(state, &words),
            |row| row.id,
            10,
        )
    };
    assert_eq!(search(&["checkpoint"]), (vec![whole.clone()], 1));
    assert_eq!(search(&["juba"]), (vec![], 0));
    // What a row can give back if ever a record did not decode: every field it holds.
    assert_eq!(Row::of(&row.to_state()), *row);
    let mut whole_states = Vec::new();
    view.for_each_whole(Row::is_open, |state| whole_states.push(state));
    assert_eq!(whole_states, [whole]);
}

#[test]
fn rows_share_their_office_and_country_names() {
    let view = StateView::default();
    for n in 0..3 {
        let (id, state) = state(n, 1_000, None);
        view.observe(id, state);
    }
    let mut offices = Vec::new();
    view.for_each(|row| offices.push(row.office.clone()));
    assert_eq!(offices.len(), 3);
    assert!(
        offices
            .windows(2)
            .all(|w| std::sync::Arc::ptr_eq(&w[0], &w[1]))
    );
}
