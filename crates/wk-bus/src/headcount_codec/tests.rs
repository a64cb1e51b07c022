//! Headcount facts and states survive the wire unchanged: a started headcount with its frozen
//! roster (a visitor included), answers of every kind, a close, and a snapshot mid-headcount
//! with mails and a help alert still owed.

use super::*;
use crate::codec::{Fact, decode_event};
use crate::state_codec::{State, decode_state};
use wk_core::headcount::{Headcount, Roster, Scope};

const ROSTER: &str = "\
id,name,office,country,zone,emails,warden,from,until
p1,Amina Bello,ng-maiduguri,NG,north,amina@example.org,yes,,
p2,Musa Ibrahim,ng-maiduguri,NG,north,musa@example.org;musa@home.example,,,
p3,Chinedu Obi,ng-maiduguri,NG,south,,,,
v1,Jean Dupont,ng-maiduguri,NG,north,jean@example.org,,2026-11-20,2026-12-10
";

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_795_000_000_000 + minutes * 60_000)
}

fn start() -> Start {
    let offices = ["ng-maiduguri".to_owned()].into();
    let roster = Roster::parse_csv(ROSTER, &offices).unwrap();
    let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
    Start {
        id: HeadcountId("019ad2c0-hc".into()),
        started_by: "maria.santos".into(),
        drill: true,
        alert: Some(AlertId::for_dedup_key("ng-maiduguri", "gate")),
        scope: "office ng-maiduguri".into(),
        cycle_ms: 15 * 60_000,
        cycles: 4,
        members: roster.select(&Scope::Country("NG".into()), day),
        // A part other than the first, with a warden of another part as its contact.
        part: 1,
        parts: 3,
        contacts: roster.members()[..1].to_vec(),
    }
}

fn decoded_fact(bytes: &[u8]) -> (HeadcountId, HeadcountFact, Timestamp) {
    match decode_event(bytes).unwrap() {
        Fact::Headcount { id, fact, at } => (id, fact, at),
        other => panic!("{other:?}"),
    }
}

#[test]
fn facts_round_trip() {
    let start = start();
    assert_eq!(start.members.len(), 4);
    let (id, fact, when) = decoded_fact(&encode_started(&start, at(0)));
    assert_eq!(id, start.id);
    assert_eq!(when, at(0));
    assert_eq!(fact, HeadcountFact::Started(Box::new(start.clone())));

    for answer in [
        Answer {
            reply: Reply::NeedHelp,
            at: at(3),
            via: Via::Link,
            text: "Injured".into(),
            place: "Storeroom".into(),
            late: false,
        },
        Answer {
            reply: Reply::Safe,
            at: at(4),
            via: Via::Warden {
                warden: "p1".into(),
                method: "reached by phone".into(),
            },
            text: String::new(),
            place: String::new(),
            late: true,
        },
        Answer {
            reply: Reply::NotInArea,
            at: at(5),
            via: Via::Officer {
                officer: "maria.santos".into(),
                method: "console".into(),
            },
            text: String::new(),
            place: String::new(),
            late: false,
        },
    ] {
        let (_, fact, when) = decoded_fact(&encode_answered(&start.id, "p2", &answer));
        assert_eq!(when, answer.at);
        assert_eq!(
            fact,
            HeadcountFact::Answered {
                person: "p2".into(),
                answer
            }
        );
    }
    let (_, fact, _) = decoded_fact(&encode_closed(
        &start.id,
        "jose.reyes",
        "All reached",
        at(9),
    ));
    assert_eq!(
        fact,
        HeadcountFact::Closed {
            by: "jose.reyes".into(),
            summary: "All reached".into()
        }
    );
    assert_eq!(headcount_record_key("h1"), "headcount:h1");
}

#[test]
fn a_snapshot_mid_headcount_round_trips_with_what_is_still_owed() {
    let mut headcount = Headcount::start(start(), at(0));
    // One mail done, the rest still owed; a call for help owed; the wardens' lists owed.
    let first = headcount.poll_action().unwrap();
    let wk_core::headcount::Action::Do(first) = first;
    headcount.handle_done(first.id());
    headcount.handle_answer(
        "p2",
        Answer {
            reply: Reply::NeedHelp,
            at: at(2),
            via: Via::Link,
            text: "Hiding".into(),
            place: "Compound B".into(),
            late: false,
        },
    );
    headcount.handle_timeout(at(30));
    let mut snapshot = headcount.snapshot();
    snapshot.people[0].earlier = 2; // answers given before the kept ones
    assert!(
        snapshot
            .owed
            .iter()
            .any(|owed| matches!(owed, Owed::Help { .. }))
    );
    assert!(snapshot.owed.iter().any(|owed| matches!(
        owed,
        Owed::Mail {
            mail: Mail::Wardens { .. },
            ..
        }
    )));
    let (state, offset) = decode_state(&encode_headcount(&snapshot, 77)).unwrap();
    assert_eq!(offset, 77);
    assert_eq!(state, State::Headcount(Box::new(snapshot.clone())));

    headcount.handle_close("maria.santos".into(), "Closed for the night".into(), at(40));
    let closed = headcount.snapshot();
    let (state, _) = decode_state(&encode_headcount(&closed, 78)).unwrap();
    assert_eq!(state, State::Headcount(Box::new(closed)));
}

#[test]
fn malformed_facts_are_refused() {
    let mut event =
        pb::AlertEvent::decode(&encode_closed(&HeadcountId("h1".into()), "a", "b", at(0))[..])
            .unwrap();
    let Some(pb::alert_event::Event::Headcount(fact)) = &mut event.event else {
        panic!()
    };
    fact.headcount_id = "has spaces in it".into();
    assert!(decode_event(&event.encode_to_vec()).is_err());
    let bad_answer = pb::AlertEvent {
        at: Some(timestamp_to_pb(at(0))),
        event: Some(pb::alert_event::Event::Headcount(pb::HeadcountFact {
            headcount_id: "h1".into(),
            fact: Some(pb::headcount_fact::Fact::Answered(pb::HeadcountAnswered {
                person: "p1".into(),
                answer: Some(pb::HeadcountAnswer {
                    reply: 99,
                    ..Default::default()
                }),
            })),
        })),
        ..Default::default()
    };
    assert!(decode_event(&bad_answer.encode_to_vec()).is_err());
}
