//! A headcount in parts: the split keeps every person once, zones whole where they fit, each
//! part within its bounds, and a straddling zone's wardens as contacts; a part's state stays
//! bounded whatever is answered.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::parts::{ANSWER_BUDGET, KEPT_ANSWERS, NOT_KEPT, PART_MEMBER_BYTES, PART_PEOPLE};
use super::*;

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_795_000_000_000 + minutes * 60_000)
}

fn member(id: usize, zone: &str, warden: bool) -> Member {
    Member {
        id: format!("p{id:05}"),
        name: format!("Person {id}"),
        office: "ng-maiduguri".into(),
        country: "NG".into(),
        zone: zone.into(),
        emails: vec![format!("p{id}@example.org")],
        warden,
        visit: None,
    }
}

fn start(members: Vec<Member>) -> Start {
    Start {
        id: HeadcountId("hc-big".into()),
        started_by: "maria.santos".into(),
        drill: false,
        alert: None,
        scope: "country NG".into(),
        cycle_ms: 15 * 60_000,
        cycles: 4,
        members,
        part: 0,
        parts: 1,
        contacts: Vec::new(),
    }
}

/// Zone `a` 300 people, `b` 300, `c` 600 (its warden first): `a` alone, `b` with the start of
/// `c`, and the rest of `c` with its warden as a contact.
fn three_zones() -> Vec<Start> {
    let mut members = Vec::new();
    members.extend((0..300).map(|n| member(n, "a", n == 0)));
    members.extend((300..600).map(|n| member(n, "b", n == 300)));
    members.extend((600..1200).map(|n| member(n, "c", n == 600)));
    split(start(members))
}

#[test]
fn a_small_headcount_is_one_part() {
    let parts = split(start((0..40).map(|n| member(n, "a", n == 0)).collect()));
    assert_eq!(parts.len(), 1);
    assert_eq!((parts[0].part, parts[0].parts), (0, 1));
    assert_eq!(parts[0].members.len(), 40);
    assert!(parts[0].contacts.is_empty());
}

#[test]
fn zones_stay_whole_where_they_fit_and_a_straddling_zone_s_warden_is_a_contact() {
    let parts = three_zones();
    let sizes: Vec<(u32, u32, usize)> = parts
        .iter()
        .map(|p| (p.part, p.parts, p.members.len()))
        .collect();
    assert_eq!(sizes, [(0, 3, 300), (1, 3, 500), (2, 3, 400)]);
    let zones = |p: &Start| {
        p.members
            .iter()
            .map(|m| m.zone.clone())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(zones(&parts[0]), ["a".to_owned()].into());
    assert_eq!(zones(&parts[1]), ["b".to_owned(), "c".to_owned()].into());
    assert_eq!(zones(&parts[2]), ["c".to_owned()].into());
    let contacts: Vec<&str> = parts[2].contacts.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(contacts, ["p00600"], "c's warden is in part 1");
    assert!(parts[0].contacts.is_empty() && parts[1].contacts.is_empty());
    assert!(parts.iter().all(|p| p.id == HeadcountId("hc-big".into())));
}

#[test]
fn a_warden_gets_the_list_of_each_part_holding_their_zone_under_distinct_ids() {
    let mut lists = Vec::new();
    for part in three_zones().into_iter().skip(1) {
        let mut headcount = Headcount::start(part, at(0));
        headcount.handle_timeout(at(30));
        while let Some(Action::Do(owed)) = headcount.poll_action() {
            if let Owed::Mail {
                id,
                mail: Mail::Wardens { zone, people, .. },
                address,
            } = owed
                && zone == "c"
            {
                lists.push((id, address, people.len()));
            }
        }
    }
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(
        lists
            .iter()
            .all(|(_, address, _)| address == "p600@example.org")
    );
    assert_eq!(
        lists[0].2 + lists[1].2,
        600,
        "every unaccounted person of c once"
    );
    assert!(lists[0].0.starts_with("hc.hc-big.p1.") && lists[1].0.starts_with("hc.hc-big.p2."));
}

#[test]
fn a_part_keeps_the_latest_answers_and_stops_keeping_words_past_its_budget() {
    let mut headcount = Headcount::start(
        start((0..200).map(|n| member(n, "a", false)).collect()),
        at(0),
    );
    while headcount.poll_action().is_some() {}
    let words = "w".repeat(999);
    let mut helps = BTreeSet::new();
    for round in 0..8 {
        for n in 0..200 {
            let answer = Answer {
                reply: Reply::NeedHelp,
                at: at(round),
                via: Via::Link,
                text: words.clone(),
                place: "by the gate".into(),
                late: false,
            };
            assert!(headcount.handle_answer(&format!("p{n:05}"), answer));
        }
        while let Some(Action::Do(owed)) = headcount.poll_action() {
            if let Owed::Help { id, alert } = &owed {
                assert!(
                    alert.description.contains(&words),
                    "the alert has every word"
                );
                assert!(helps.insert(id.clone()), "help ids stay distinct: {id}");
            }
        }
    }
    assert_eq!(helps.len(), 8 * 200);
    let state = headcount.state();
    let kept: usize = state
        .people
        .iter()
        .flat_map(|p| &p.answers)
        .map(parts::answer_words)
        .sum();
    assert!(kept <= ANSWER_BUDGET, "{kept}");
    let person = &state.people[199];
    assert_eq!(person.answers.len(), KEPT_ANSWERS);
    assert_eq!(person.earlier as usize, 8 - KEPT_ANSWERS);
    assert_eq!(person.latest().map(|a| a.text.as_str()), Some(NOT_KEPT));
    assert_eq!(
        person.standing(),
        Standing::NeedHelp,
        "an answer whose words are cut still counts"
    );
}

proptest! {
    /// Every person is in exactly one part, no part is over its bounds, parts are numbered
    /// 0..n, and a zone that fits a part is never split.
    #[test]
    fn every_person_is_in_exactly_one_part_within_its_bounds(
        zones in proptest::collection::vec((1usize..900, any::<bool>()), 1..12),
    ) {
        let mut members = Vec::new();
        for (zone, (size, warden)) in zones.iter().enumerate() {
            let first = members.len();
            members.extend((first..first + size).map(|n| member(n, &format!("z{zone}"), *warden && n == first)));
        }
        let everyone: BTreeSet<String> = members.iter().map(|m| m.id.clone()).collect();
        let parts = split(start(members));
        let mut seen = BTreeSet::new();
        for (index, part) in parts.iter().enumerate() {
            prop_assert_eq!(part.part as usize, index);
            prop_assert_eq!(part.parts as usize, parts.len());
            prop_assert!(!part.members.is_empty());
            prop_assert!(part.members.len() <= PART_PEOPLE);
            prop_assert!(part.members.iter().map(parts::member_bytes).sum::<usize>() <= PART_MEMBER_BYTES);
            for m in &part.members {
                prop_assert!(seen.insert(m.id.clone()), "{} twice", m.id);
            }
        }
        prop_assert_eq!(seen, everyone);
        for (zone, (size, _)) in zones.iter().enumerate() {
            let holding = parts.iter().filter(|p| p.members.iter().any(|m| m.zone == format!("z{zone}"))).count();
            if *size <= PART_PEOPLE {
                prop_assert_eq!(holding, 1, "zone z{} of {} split", zone, size);
            }
        }
    }
}
