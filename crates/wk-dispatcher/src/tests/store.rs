//! The store's packing, alone: which machines it packs and when, and that a packed one comes
//! back exactly as it was, its timer and its place in the changelog kept.

use crate::held::{Held, Subject};
use crate::pipeline::Key;
use crate::store::{IDLE_SWEEPS, REST_SWEEPS, Store, Tracked};

use super::*;

fn store_with(key: &Key, escalation: Escalation) -> Store {
    let mut store = Store::new(policy().chains.clone());
    store.insert(
        key.clone(),
        Tracked::new(Held::Escalation(escalation), 7, Default::default()),
    );
    store
}

fn key(name: &str) -> Key {
    (0, Subject::Alert(alert(name).id))
}

fn snapshot(store: &mut Store, key: &Key) -> wk_core::escalation::Snapshot {
    match &store.get_mut(key).expect("held").machine {
        Held::Escalation(escalation) => escalation.snapshot(),
        _ => panic!("an escalation"),
    }
}

#[test]
fn a_settled_escalation_is_packed_after_it_is_left_alone_and_comes_back_as_it_was() {
    let k = key("a");
    let mut opened = Escalation::route(alert("a"), &policy(), START);
    while opened.poll_action().is_some() {}
    let expected = opened.snapshot();
    let mut store = store_with(&k, opened);
    let written = store.encode(&k).expect("held");
    for _ in 1..IDLE_SWEEPS {
        assert_eq!(
            store.sweep(100, |_| false),
            0,
            "not yet left alone long enough"
        );
    }
    assert_eq!(store.sweep(100, |_| false), 1);
    assert_eq!(store.census(), (0, 1, 0));
    assert_eq!(
        store.encode(&k),
        Some(written),
        "what the changelog takes, unchanged"
    );
    // Judged without a change: it stays packed.
    assert_eq!(store.judge(&k, |_| false), Some(false));
    assert_eq!(store.census(), (0, 1, 0));
    let tracked = store.get_mut(&k).expect("held");
    assert_eq!(tracked.input_offset, 7);
    assert_eq!(snapshot(&mut store, &k), expected);
    assert_eq!(store.census(), (1, 0, 0), "unpacked when touched");
}

#[test]
fn an_escalation_with_actions_to_take_or_a_write_waiting_is_not_packed() {
    let (a, b) = (key("a"), key("b"));
    // Its first step's notifications not taken yet.
    let mut store = store_with(&a, Escalation::route(alert("a"), &policy(), START));
    let mut settled = Escalation::route(alert("b"), &policy(), START);
    while settled.poll_action().is_some() {}
    store.insert(
        b.clone(),
        Tracked::new(Held::Escalation(settled), 3, Default::default()),
    );
    for _ in 0..IDLE_SWEEPS * 3 {
        store.sweep(100, |key| *key == b);
    }
    assert_eq!(store.census(), (2, 0, 0));
    assert!(!store.pack(&a, false), "actions to take");
    assert!(!store.pack(&b, true), "a write waiting");
    // Once written, the sweep packs it (it was looked at again, not forgotten).
    for _ in 0..IDLE_SWEEPS {
        store.sweep(100, |_| false);
    }
    assert_eq!(store.census(), (1, 1, 0));
}

#[test]
fn a_packed_escalation_keeps_its_timer() {
    let k = key("a");
    let mut opened = Escalation::route(alert("a"), &policy(), START);
    while opened.poll_action().is_some() {}
    let due = opened.poll_timeout().expect("step 2 armed");
    let mut store = store_with(&k, opened);
    store.rearm(&k, Some(due));
    assert!(store.pack(&k, false));
    assert_eq!(store.next_deadline(), Some(due));
    assert_eq!(store.pop_due(due), Some(k.clone()));
    // Disarmed by the pop: re-arming it later replaces nothing.
    store.rearm(&k, Some(due));
    assert_eq!(store.armed_timers(), 1);
    assert!(store.drop_partition(0));
    assert_eq!((store.armed_timers(), store.census()), (0, (0, 0, 0)));
}

#[test]
fn a_silence_change_looks_at_every_machine_but_the_packed_resolved_ones() {
    let policy = policy();
    let settled = |name: &str| {
        let mut escalation = Escalation::route(alert(name), &policy, START);
        while escalation.poll_action().is_some() {}
        escalation
    };
    let (live, packed_open, packed_resolved) = (key("live"), key("open"), key("resolved"));
    let mut store = store_with(&live, settled("live"));
    let mut resolved = settled("resolved");
    let by = wk_core::escalation::Responder {
        actor: "maria.santos".into(),
        channel: "console".into(),
    };
    resolved.handle_resolve(by, None, &policy.directory, START);
    while resolved.poll_action().is_some() {}
    // A resolved escalation is left as it is by any silence: what lets the change pass it by.
    assert_eq!(
        resolved.handle_silences(
            &wk_core::silence::SilenceBook::default(),
            &policy.directory,
            START
        ),
        wk_core::escalation::SilenceEffect::Unchanged
    );
    for (key, escalation) in [
        (&packed_open, settled("open")),
        (&packed_resolved, resolved),
    ] {
        store.insert(
            key.clone(),
            Tracked::new(Held::Escalation(escalation), 3, Default::default()),
        );
        assert!(store.pack(key, false));
    }
    assert_eq!(store.census(), (1, 2, 0));
    let mut judged = store.keys_where(crate::silences::may_change);
    judged.sort_by_key(|(_, subject)| subject.to_string());
    let mut expected = vec![live, packed_open];
    expected.sort_by_key(|(_, subject)| subject.to_string());
    assert_eq!(judged, expected);
    assert_eq!(
        store.census(),
        (1, 2, 0),
        "nothing unpacked to be looked at"
    );
}

#[test]
fn a_done_escalation_is_let_go_only_once_its_latest_write_is_acknowledged() {
    let k = key("a");
    let mut store = store_with(&k, super::let_go::done(&alert("a")));
    let mut pipeline = crate::pipeline::WriteBehind::default();
    let older = pipeline.queue_write(k.clone());
    store.queued(&k, older);
    let latest = pipeline.queue_write(k.clone());
    store.queued(&k, latest);
    let rest = |store: &mut Store| {
        for _ in 0..REST_SWEEPS {
            store.sweep(100, |_| false);
        }
    };
    for _ in 0..IDLE_SWEEPS {
        store.sweep(100, |_| false);
    }
    assert_eq!(store.census(), (0, 1, 0), "packed");
    rest(&mut store);
    assert_eq!(store.away(&k), None, "its latest write is not acknowledged");
    store.acknowledged(&k, older, 10);
    rest(&mut store);
    assert_eq!(
        store.away(&k),
        None,
        "an older write's acknowledgement does not hold its current state"
    );
    store.acknowledged(&k, latest, 11);
    assert_eq!(store.census(), (0, 1, 0), "still resting");
    rest(&mut store);
    let away = store.away(&k).expect("let go");
    assert_eq!((away.offset, away.input_offset, away.incident), (11, 7, 1));
    assert_eq!(store.census(), (0, 0, 1));
    assert!(store.get_mut(&k).is_none() && store.encode(&k).is_none());
    assert_eq!(
        store.keys_where(|seen| !matches!(
            seen,
            crate::store::Seen::Packed(crate::store::Standing::Resolved)
        )),
        Vec::<Key>::new(),
        "a silence change passes it over"
    );
}

#[test]
fn an_open_escalation_is_never_let_go() {
    let k = key("a");
    let mut opened = Escalation::route(alert("a"), &policy(), START);
    while opened.poll_action().is_some() {}
    let mut store = store_with(&k, opened);
    let mut pipeline = crate::pipeline::WriteBehind::default();
    let ticket = pipeline.queue_write(k.clone());
    store.queued(&k, ticket);
    store.acknowledged(&k, ticket, 3);
    for _ in 0..(IDLE_SWEEPS + 2 * REST_SWEEPS) {
        store.sweep(100, |_| false);
    }
    assert_eq!(store.census(), (0, 1, 0));
    assert!(!store.let_go(&k, false));
}
