//! Headcounts in the loop, on paused time: a started headcount's questions go to the
//! executor, a delivered one is not sent again, reminders follow the cycle, "I need help" is
//! published as an alert, and a restored headcount re-sends only what was not delivered.

use std::collections::BTreeSet;
use std::time::Duration;

use wk_bus::headcount_codec::{
    encode_answered, encode_headcount, encode_started, headcount_record_key,
};
use wk_bus::state_codec::{State, decode_state};
use wk_core::headcount::{Answer, HeadcountId, PartKey, Reply, Roster, Scope, Start, Via};

use super::*;

const ROSTER: &str = "\
id,name,office,country,zone,emails,warden,from,until
p1,Amina Bello,ng-maiduguri,NG,north,amina@example.org,yes,,
p2,Musa Ibrahim,ng-maiduguri,NG,north,musa@example.org,,,
p3,Grace Okafor,ng-maiduguri,NG,south,grace@example.org,,,
";

fn id() -> HeadcountId {
    HeadcountId("hc-1".into())
}

fn record(partition: i32, offset: i64, payload: Vec<u8>) -> Record {
    Record {
        partition,
        offset,
        key: Some(headcount_record_key("hc-1").into_bytes()),
        payload: Some(payload),
        trace: Default::default(),
    }
}

fn whole() -> Start {
    let offices: BTreeSet<String> = ["ng-maiduguri".to_owned()].into();
    let roster = Roster::parse_csv(ROSTER, &offices).unwrap();
    let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
    Start {
        id: id(),
        started_by: "maria.santos".into(),
        drill: false,
        alert: None,
        scope: "office ng-maiduguri".into(),
        cycle_ms: 15 * 60_000,
        cycles: 3,
        members: roster.select(&Scope::Country("NG".into()), day),
        part: 0,
        parts: 1,
        contacts: Vec::new(),
    }
}

fn started(offset: i64) -> Record {
    record(0, offset, encode_started(&whole(), START))
}

fn answered(offset: i64, person: &str, reply: Reply, minutes: i64) -> Record {
    let answer = Answer {
        reply,
        at: START.saturating_add_millis(minutes * 60_000),
        via: Via::Link,
        text: "Hurt".into(),
        place: "Gate".into(),
        late: false,
    };
    record(0, offset, encode_answered(&id(), person, &answer))
}

fn delivered(harness: &Harness, mail: &str) {
    harness
        .reports
        .send(Report {
            partition: 0,
            subject: crate::held::Subject::Headcount(PartKey { id: id(), part: 0 }),
            notification_id: mail.to_owned(),
            outcome: Outcome::Delivered,
        })
        .unwrap();
}

fn last_state(changelog: &FakeChangelog) -> wk_core::headcount::Snapshot {
    state_of(changelog, "headcount:hc-1").expect("written")
}

fn state_of(changelog: &FakeChangelog, key: &str) -> Option<wk_core::headcount::Snapshot> {
    let log = changelog.0.lock().unwrap();
    let bytes = log.last.get(key)?;
    match decode_state(bytes).unwrap().0 {
        State::Headcount(snapshot) => Some(*snapshot),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_headcount_asks_reminds_raises_a_call_for_help_and_survives_a_restart() {
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    harness.send(started(1));
    wait(Duration::from_millis(50)).await;
    let asked = harness.notifier.sent();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(
        asked
            .iter()
            .all(|id| id.starts_with("hc.hc-1.") && id.contains(".c0."))
    );
    assert_eq!(harness.stored(), [(0, 1)]);
    // Two of the three questions were taken by the SMTP server.
    delivered(&harness, &asked[0]);
    delivered(&harness, &asked[1]);
    wait(Duration::from_millis(50)).await;
    assert_eq!(last_state(&changelog).owed.len(), 1);

    // p2 needs help: one alert on the alerts topic, never silenced.
    harness.send(answered(2, "p2", Reply::NeedHelp, 5));
    wait(Duration::from_millis(50)).await;
    let raised = published(&changelog);
    let [(key, Fact::Raised { alert, .. })] = raised.as_slice() else {
        panic!("{raised:?}")
    };
    assert_eq!(alert.category, Category::StaffHelp);
    assert_eq!(*key, alert.id.to_string());

    // The first cycle ends: a reminder to whoever has not answered (p1, p3), not to p2.
    wait(Duration::from_secs(15 * 60)).await;
    let reminders: Vec<String> = harness
        .notifier
        .sent()
        .into_iter()
        .filter(|id| id.contains(".c1."))
        .collect();
    assert_eq!(reminders.len(), 2, "{reminders:?}");
    assert!(reminders.iter().all(|id| !id.contains(".p2.")));
    let written = last_state(&changelog);
    harness.stop().await;

    // A new dispatcher restores it: only what was never delivered is sent again, same ids.
    changelog.0.lock().unwrap().restores.insert(
        0,
        vec![Record {
            partition: 0,
            offset: 0,
            key: Some(b"headcount:hc-1".to_vec()),
            payload: Some(encode_headcount(&written, 2)),
            trace: Default::default(),
        }],
    );
    let again = Harness::start(changelog.clone());
    again.assign(&[0]);
    wait(Duration::from_millis(50)).await;
    let resent = again.notifier.sent();
    let owed: Vec<String> = written
        .owed
        .iter()
        .filter(|owed| matches!(owed, wk_core::headcount::Owed::Mail { .. }))
        .map(|owed| owed.id().to_owned())
        .collect();
    assert_eq!(resent, owed);
    assert!(!resent.contains(&asked[0]) && !resent.contains(&asked[1]));
    again.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_headcount_in_parts_routes_answers_to_the_part_holding_the_person_and_closes_every_part()
{
    let changelog = FakeChangelog::default();
    let harness = Harness::start(changelog.clone());
    harness.assign(&[0]);
    let parts = wk_core::headcount::split(whole());
    assert_eq!(parts.len(), 1, "three people fit one part");
    // By hand, the zones as two parts: north (p1, p2) and south (p3).
    let mut north = whole();
    north.parts = 2;
    let mut south = north.clone();
    north.members.retain(|m| m.zone == "north");
    south.members.retain(|m| m.zone == "south");
    south.part = 1;
    harness.send(record(0, 1, encode_started(&north, START)));
    harness.send(record(0, 2, encode_started(&south, START)));
    wait(Duration::from_millis(50)).await;
    assert_eq!(harness.notifier.sent().len(), 3);
    assert_eq!(
        state_of(&changelog, "headcount:hc-1").unwrap().people.len(),
        2
    );
    assert_eq!(
        state_of(&changelog, "headcount:hc-1/1")
            .unwrap()
            .people
            .len(),
        1
    );

    harness.send(answered(3, "p3", Reply::Safe, 2));
    wait(Duration::from_millis(50)).await;
    assert_eq!(
        state_of(&changelog, "headcount:hc-1/1").unwrap().people[0]
            .answers
            .len(),
        1
    );
    assert!(
        state_of(&changelog, "headcount:hc-1")
            .unwrap()
            .people
            .iter()
            .all(|p| p.answers.is_empty())
    );
    assert_eq!(harness.stored().last(), Some(&(0, 3)));

    let close = wk_bus::headcount_codec::encode_closed(&id(), "maria.santos", "done", START);
    harness.send(record(0, 4, close));
    wait(Duration::from_millis(50)).await;
    let north = state_of(&changelog, "headcount:hc-1").unwrap();
    let south = state_of(&changelog, "headcount:hc-1/1").unwrap();
    assert_eq!(north.closed.unwrap().unaccounted, ["p1", "p2"]);
    assert!(south.closed.unwrap().unaccounted.is_empty());
    assert_eq!(
        harness.stored().last(),
        Some(&(0, 4)),
        "the close's offset after both writes"
    );
    harness.stop().await;
}
