//! The changelog codec round-trips an escalation in every state.
use super::*;
use wk_core::Timestamp;
use wk_core::escalation::Purpose;
use wk_core::escalation::{Escalation, Outcome, Responder};
use wk_core::policy::{ConsoleContact, Directory, Matcher, Policy, Route};
use wk_core::validate::AlertDraft;

fn policy() -> Policy {
    let console = |name: &str, failover: Option<&str>| {
        (
            name.to_owned(),
            ConsoleContact {
                name: name.into(),
                emails: vec![format!("duty.{name}@example.org")],
                failover: failover.map(str::to_owned),
            },
        )
    };
    let standard: std::sync::Arc<Chain> = Chain {
        id: "standard".into(),
        steps: vec![
            Step {
                timeout_ms: 300_000,
                targets: vec![TargetRef::Console("manila".into())],
            },
            Step {
                timeout_ms: 600_000,
                targets: vec![
                    TargetRef::Email("hq@example.org".into()),
                    TargetRef::RegionalSecurityOfficer,
                ],
            },
        ],
        repeat: 2,
        ack_timeout_ms: Some(3_600_000),
        on_exhausted: vec![TargetRef::Console("panama".into())],
    }
    .into();
    Policy {
        directory: Directory {
            consoles: [console("manila", Some("panama")), console("panama", None)].into(),
            ..Directory::default()
        },
        chains: [("standard".to_owned(), standard.clone())].into(),
        routes: vec![Route {
            name: "all".into(),
            matcher: Matcher::default(),
            chain: standard.clone(),
        }],
        default_chain: standard,
    }
}

fn alert(now: Timestamp) -> wk_core::Alert {
    AlertDraft {
        office_id: "ng-maiduguri".into(),
        severity: Some(wk_core::Severity::Critical),
        category: Some(wk_core::Category::Crime),
        title: "t".into(),
        country: "NG".into(),
        place: "p".into(),
        occurred_at: Some(now),
        dedup_key: "k".into(),
        ..AlertDraft::default()
    }
    .validate(now, wk_core::AlertId::fresh(now, [0; 10]))
    .unwrap()
}

#[test]
fn an_escalation_survives_the_changelog_in_every_state() {
    let now = Timestamp::from_unix_millis(1_795_000_000_000);
    let alert = alert(now);
    let policy = policy();
    let mut escalation = Escalation::route(alert, &policy, now);
    check(&escalation, 1);
    let webhook = escalation.deliveries()[0].notification.id.clone();
    let attempt = Outcome::AttemptFailed {
        attempt: 1,
        reason: "HTTP 503".into(),
    };
    escalation.handle_delivery(&webhook, attempt, &policy.directory, now);
    escalation.handle_delivery(
        &webhook,
        Outcome::GivenUp {
            reason: "HTTP 503".into(),
        },
        &policy.directory,
        now,
    );
    // Panama's failover parked, the duty mailbox refused: every new state and purpose.
    let failover = escalation
        .deliveries()
        .iter()
        .find(|record| record.notification.id.contains("failover.webhook"))
        .unwrap()
        .notification
        .id
        .clone();
    let parked = Outcome::Parked {
        reason: "circuit open".into(),
    };
    escalation.handle_delivery(&failover, parked, &policy.directory, now);
    let mailbox = escalation.deliveries()[1].notification.id.clone();
    let refused = Outcome::GivenUp {
        reason: "550 no such mailbox".into(),
    };
    escalation.handle_delivery(&mailbox, refused, &policy.directory, now);
    assert!(
        escalation
            .deliveries()
            .iter()
            .any(|record| record.notification.id.contains("undeliverable"))
    );
    let worse = wk_core::Alert {
        severity: wk_core::Severity::Emergency,
        title: "worse".into(),
        ..escalation.alert().clone()
    };
    escalation.handle_trigger(worse, &policy, now.saturating_add_millis(1_000));
    escalation.handle_timeout(&policy.directory, now.saturating_add_millis(300_000));
    check(&escalation, 2);
    let by = Responder {
        actor: "maria".into(),
        channel: "api".into(),
    };
    escalation.handle_ack(
        by.clone(),
        Some(7),
        &policy.directory,
        now.saturating_add_millis(390_000),
    );
    escalation.handle_ack(
        by.clone(),
        None,
        &policy.directory,
        now.saturating_add_millis(400_000),
    );
    escalation.handle_note(
        by.clone(),
        "called the office".into(),
        now.saturating_add_millis(450_000),
    );
    check(&escalation, 3);
    escalation.handle_timeout(&policy.directory, now.saturating_add_millis(4_000_000));
    escalation.handle_trigger(
        escalation.alert().clone(),
        &policy,
        now.saturating_add_millis(4_100_000),
    );
    escalation.handle_resolve(
        by,
        None,
        &policy.directory,
        now.saturating_add_millis(5_000_000),
    );
    check(&escalation, 4);
    assert!(decode(b"\x08\x01garbage").is_err());
}

#[test]
fn state_records_carry_their_kind_and_bare_records_from_before_still_decode() {
    use prost::Message as _;
    let now = Timestamp::from_unix_millis(1_795_000_000_000);
    let alert = alert(now);
    let snapshot = Escalation::route(alert, &policy(), now).snapshot();
    let bytes = encode_escalation(&snapshot, 9);
    let envelope = pb::StateRecord::decode(bytes.as_slice()).unwrap();
    let Some(pb::state_record::Machine::Escalation(state)) = envelope.machine else {
        panic!("an escalation record is tagged as one");
    };
    // The same state written bare, as before the envelope, decodes to the same snapshot.
    let bare = state.encode_to_vec();
    assert_eq!(decode(&bare).unwrap(), (snapshot.clone(), 9));
    assert_eq!(decode(&bytes).unwrap(), (snapshot, 9));
}

fn decode(bytes: &[u8]) -> Result<(Snapshot, i64), DecodeError> {
    match crate::state_codec::decode_state(bytes)? {
        (crate::state_codec::State::Escalation(snapshot), offset) => Ok((snapshot, offset)),
        (other, _) => panic!("not an escalation: {other:?}"),
    }
}

#[test]
fn a_silenced_escalation_and_its_release_survive_the_changelog() {
    use wk_core::silence::{Expiry, Matcher as SilenceMatcher, Silence, SilenceBook};
    let now = Timestamp::from_unix_millis(1_795_000_000_000);
    let alert = alert(now);
    let mut silence = Silence {
        id: "s-1".into(),
        matchers: vec![SilenceMatcher::parse(&format!("office=\"{}\"", alert.office_id)).unwrap()],
        starts_at: now,
        ends_at: now.saturating_add_millis(3_600_000),
        created_by: "maria.santos".into(),
        created_at: now,
        comment: "generator test".into(),
        expired: None,
        window: None,
    };
    let mut book = SilenceBook::default();
    book.insert(silence.clone());
    let policy = policy();
    let mut escalation = Escalation::route_under(alert, &policy, &book, now);
    assert!(escalation.is_held());
    check(&escalation, 5);
    let later = now.saturating_add_millis(60_000);
    silence.ends_at = later;
    silence.expired = Some(Expiry {
        by: "jose.reyes".into(),
        at: later,
    });
    book.insert(silence);
    escalation.handle_silences(&book, &policy.directory, later);
    assert!(!escalation.is_held());
    check(&escalation, 6);
}

/// The escalation survives its record, the record leaves out what it can make again, the
/// api's expansion gives every id back, and the whole form (as records were before ids were
/// left out) decodes to the same escalation.
fn check(escalation: &Escalation, offset: i64) {
    use prost::Message as _;
    use wk_core::escalation::Event;
    let snapshot = escalation.snapshot();
    let bytes = encode_escalation(&snapshot, offset);
    let (decoded, decoded_offset) = decode(&bytes).unwrap();
    assert_eq!(decoded, snapshot);
    assert_eq!(decoded_offset, offset);

    let Some(pb::state_record::Machine::Escalation(mut state)) =
        pb::StateRecord::decode(bytes.as_slice()).unwrap().machine
    else {
        panic!("an escalation record is tagged as one");
    };
    for (kept, record) in state.notifications.iter().zip(&snapshot.deliveries) {
        let made_again = !matches!(
            record.notification.purpose,
            Purpose::Exhausted | Purpose::ExhaustedFailover { .. }
        );
        assert_eq!(kept.id.is_empty(), made_again, "{}", record.notification.id);
    }
    let by_id = |event: &Option<tl::Event>| {
        matches!(
            event,
            Some(tl::Event::Notified(_) | tl::Event::Delivered(_))
        )
    };
    assert!(!state.timeline.iter().any(|entry| by_id(&entry.event)));
    assert!(
        state
            .timeline
            .iter()
            .all(|entry| entry.at.is_none() && entry.since_first_seen_ms.is_some())
    );

    expand(&mut state).unwrap();
    let ids: Vec<&str> = state.notifications.iter().map(|n| n.id.as_str()).collect();
    let expected: Vec<&str> = snapshot
        .deliveries
        .iter()
        .map(|record| &*record.notification.id)
        .collect();
    assert_eq!(ids, expected);
    assert_eq!(state.timeline.len(), snapshot.timeline.len());
    for (entry, original) in state.timeline.iter().zip(&snapshot.timeline) {
        assert_eq!(entry.at, Some(timestamp_to_pb(original.at)));
        assert_eq!(entry.since_first_seen_ms, None);
        match (&entry.event, &original.event) {
            (Some(tl::Event::Notified(id)), Event::Notified { id: was })
            | (Some(tl::Event::Delivered(id)), Event::Delivered { id: was }) => {
                assert_eq!(id.as_str(), &**was);
            }
            (Some(tl::Event::NotifiedIndex(_) | tl::Event::DeliveredIndex(_)), _) => {
                panic!("expanded by place")
            }
            _ => {}
        }
    }
    let mut whole = state.clone();
    expand(&mut whole).unwrap();
    assert_eq!(whole, state, "expanding twice changes nothing");
    let whole = pb::StateRecord {
        machine: Some(pb::state_record::Machine::Escalation(whole)),
    }
    .encode_to_vec();
    assert!(whole.len() > bytes.len() || snapshot.deliveries.is_empty());
    assert_eq!(decode(&whole).unwrap(), (snapshot, offset));
}

#[test]
fn a_record_that_names_a_missing_notification_is_refused() {
    use prost::Message as _;
    let now = Timestamp::from_unix_millis(1_795_000_000_000);
    let snapshot = Escalation::route(alert(now), &policy(), now).snapshot();
    let bytes = encode_escalation(&snapshot, 1);
    let Some(pb::state_record::Machine::Escalation(state)) =
        pb::StateRecord::decode(bytes.as_slice()).unwrap().machine
    else {
        panic!("an escalation record is tagged as one");
    };
    let mut beyond = state.clone();
    beyond.timeline.push(pb::TimelineEntry {
        since_first_seen_ms: None,
        at: beyond.timeline[0].at,
        event: Some(tl::Event::DeliveredIndex(99)),
    });
    let mut unmade = state.clone();
    unmade.notifications[0].purpose = pb::NotificationPurpose::Exhausted as i32;
    let mut timeless = state.clone();
    timeless.timeline[0].since_first_seen_ms = None;
    let mut out_of_range = state.clone();
    out_of_range.timeline[0].since_first_seen_ms = Some(i64::MAX);
    for bad in [beyond, unmade, timeless, out_of_range] {
        let record = pb::StateRecord {
            machine: Some(pb::state_record::Machine::Escalation(bad.clone())),
        }
        .encode_to_vec();
        assert!(decode(&record).is_err());
        assert!(expand(&mut bad.clone()).is_err());
    }
}

#[test]
fn a_decoded_escalation_holds_each_notification_id_once() {
    use wk_core::escalation::Event;
    let now = Timestamp::from_unix_millis(1_795_000_000_000);
    let policy = policy();
    let mut escalation = Escalation::route(alert(now), &policy, now);
    let webhook = escalation.deliveries()[0].notification.id.clone();
    escalation.handle_delivery(&webhook, Outcome::Delivered, &policy.directory, now);
    let (decoded, _) = decode(&encode_escalation(&escalation.snapshot(), 3)).unwrap();
    let record = &decoded.deliveries[0].notification.id;
    let named: Vec<_> = decoded
        .timeline
        .iter()
        .filter_map(|entry| match &entry.event {
            Event::Notified { id } | Event::Delivered { id } if id == record => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(named.len(), 2, "notified and delivered");
    for id in named {
        assert!(std::sync::Arc::ptr_eq(id, record), "shared, not copied");
    }
}
