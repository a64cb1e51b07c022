//! Headcount traces with time passed in: answers and changes of answer, reminders on the
//! cycle and never to someone who answered, the wardens' lists after the second cycle, proxy
//! answers, "I need help" raising one alert, closing and late answers, the roster frozen at
//! start, a restore that repeats nothing; the roster's validation; and a property.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::alert::{Category, Severity};

const MINUTE: i64 = 60_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_795_000_000_000 + minutes * MINUTE)
}

const ROSTER: &str = "\
id,name,office,country,zone,emails,warden,from,until
p1,Amina Bello,ng-maiduguri,NG,north,amina@example.org,yes,,
p2,Musa Ibrahim,ng-maiduguri,NG,north,musa@example.org;musa@home.example,,,
p3,Grace Okafor,ng-maiduguri,NG,south,grace@example.org,,,
p4,Chinedu Obi,ng-maiduguri,NG,south,,,,
p5,Fatima Yusuf,ng-maiduguri,NG,south,fatima@example.org,yes,,
v1,Jean Dupont,ng-maiduguri,NG,north,jean@example.org,,2026-11-20,2026-12-10
v2,Ana Lima,ng-maiduguri,NG,north,ana@example.org,,2026-12-20,2026-12-31
s1,Hodan Ali,so-mogadishu,SO,mogadishu,hodan@example.org,yes,,
";

fn offices() -> BTreeSet<String> {
    ["ng-maiduguri".to_owned(), "so-mogadishu".to_owned()].into()
}

fn roster() -> Roster {
    Roster::parse_csv(ROSTER, &offices()).unwrap()
}

fn start(cycles: u32) -> Headcount {
    let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
    let members = roster().select(&Scope::Offices(["ng-maiduguri".to_owned()].into()), day);
    Headcount::start(
        Start {
            id: HeadcountId("hc-7".into()),
            started_by: "maria.santos".into(),
            drill: false,
            alert: None,
            scope: "office ng-maiduguri".into(),
            cycle_ms: 15 * MINUTE,
            cycles,
            members,
            part: 0,
            parts: 1,
            contacts: Vec::new(),
        },
        at(0),
    )
}

fn answer(reply: Reply, minute: i64) -> Answer {
    Answer {
        reply,
        at: at(minute),
        via: Via::Link,
        text: String::new(),
        place: String::new(),
        late: false,
    }
}

/// What the driver is handed, each as `ask PERSON cN ADDRESS`, `wardens ZONE WARDEN [PEOPLE]`
/// or `help ALERT-TITLE`, reported done at once.
fn drain(headcount: &mut Headcount) -> Vec<String> {
    let mut lines = Vec::new();
    while let Some(Action::Do(owed)) = headcount.poll_action() {
        lines.push(match &owed {
            Owed::Mail {
                address,
                mail: Mail::Ask { person, cycle },
                ..
            } => format!("ask {person} c{cycle} {address}"),
            Owed::Mail {
                mail:
                    Mail::Wardens {
                        zone,
                        warden,
                        people,
                    },
                address,
                ..
            } => format!("wardens {zone} {warden} {address} {people:?}"),
            Owed::Help { alert, .. } => format!("help {}", alert.title),
        });
        headcount.handle_done(owed.id());
    }
    lines
}

#[test]
fn everyone_with_an_address_is_asked_and_the_roster_is_frozen_at_start() {
    let mut headcount = start(4);
    let asked = drain(&mut headcount);
    assert_eq!(
        asked,
        [
            "ask p1 c0 amina@example.org",
            "ask p2 c0 musa@example.org",
            "ask p2 c0 musa@home.example",
            "ask p3 c0 grace@example.org",
            "ask p5 c0 fatima@example.org",
            "ask v1 c0 jean@example.org",
        ],
        "p4 has no address; v2 is not there yet; s1 is of another office"
    );
    let (all, offices, zones) = headcount.counts();
    assert_eq!(all.of(Standing::Unaccounted), 5);
    assert_eq!(all.of(Standing::Unreachable), 1);
    assert_eq!(offices["ng-maiduguri"].of(Standing::Unaccounted), 5);
    assert_eq!(zones["south"].of(Standing::Unreachable), 1);
    // A person added to the roster later is not part of it.
    assert!(!headcount.handle_answer("v2", answer(Reply::Safe, 1)));
    assert!(!headcount.handle_answer("s1", answer(Reply::Safe, 1)));
}

#[test]
fn reminders_go_every_cycle_only_to_whoever_has_not_answered() {
    let mut headcount = start(3);
    drain(&mut headcount);
    assert!(headcount.handle_answer("p1", answer(Reply::Safe, 3)));
    assert!(headcount.handle_answer("p2", answer(Reply::NotInArea, 5)));
    assert_eq!(headcount.poll_timeout(), Some(at(15)));
    headcount.handle_timeout(at(15));
    assert_eq!(
        drain(&mut headcount),
        [
            "ask p3 c1 grace@example.org",
            "ask p5 c1 fatima@example.org",
            "ask v1 c1 jean@example.org",
        ]
    );
    assert!(headcount.handle_answer("p3", answer(Reply::Safe, 20)));
    // A call before the end of the cycle changes nothing.
    headcount.handle_timeout(at(29));
    assert_eq!(drain(&mut headcount), Vec::<String>::new());
    headcount.handle_timeout(at(30));
    let second = drain(&mut headcount);
    assert_eq!(
        &second[..2],
        ["ask p5 c2 fatima@example.org", "ask v1 c2 jean@example.org"]
    );
    // Three cycles in all: no more reminders, and nothing left to time.
    assert_eq!(headcount.poll_timeout(), None);
}

#[test]
fn after_the_second_cycle_each_warden_gets_the_unaccounted_of_their_zone() {
    let mut headcount = start(2);
    drain(&mut headcount);
    headcount.handle_answer("p2", answer(Reply::Safe, 2));
    headcount.handle_timeout(at(15));
    assert_eq!(drain(&mut headcount).len(), 4, "the reminders of cycle 1");
    headcount.handle_timeout(at(30));
    assert_eq!(
        drain(&mut headcount),
        [
            r#"wardens north p1 amina@example.org ["p1", "v1"]"#,
            r#"wardens south p5 fatima@example.org ["p3", "p4", "p5"]"#,
        ],
        "two cycles only: no third ask, but the wardens' lists (p4 is unreachable)"
    );
    // A warden answers on behalf of a person reached by phone.
    let by_phone = Answer {
        via: Via::Warden {
            warden: "p5".into(),
            method: "reached by phone".into(),
        },
        ..answer(Reply::Safe, 33)
    };
    assert!(headcount.handle_answer("p4", by_phone.clone()));
    let p4 = &headcount.state().people[3];
    assert_eq!(p4.standing(), Standing::Safe);
    assert_eq!(p4.latest(), Some(&by_phone));
    assert_eq!(headcount.poll_timeout(), None);
}

#[test]
fn a_later_answer_replaces_the_earlier_one_and_all_are_kept() {
    let mut headcount = start(4);
    drain(&mut headcount);
    headcount.handle_answer("p3", answer(Reply::NotInArea, 2));
    headcount.handle_answer("p3", answer(Reply::Safe, 9));
    let p3 = &headcount.state().people[2];
    assert_eq!(p3.answers.len(), 2);
    assert_eq!(p3.standing(), Standing::Safe);
    let (all, ..) = headcount.counts();
    assert_eq!(all.of(Standing::Safe), 1);
    assert_eq!(all.of(Standing::NotInArea), 0);
}

#[test]
fn i_need_help_raises_one_critical_alert_that_no_silence_holds_back() {
    let mut headcount = start(4);
    drain(&mut headcount);
    let help = Answer {
        text: "Injured, hiding in the storeroom".into(),
        place: "Compound B, storeroom".into(),
        ..answer(Reply::NeedHelp, 4)
    };
    headcount.handle_answer("p3", help.clone());
    let raised: Vec<Owed> = std::iter::from_fn(|| headcount.poll_action())
        .map(|Action::Do(owed)| owed)
        .collect();
    let [Owed::Help { alert, id }] = &raised[..] else {
        panic!("{raised:?}")
    };
    assert_eq!(id, "hc.hc-7.p3.help.1");
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.category, Category::StaffHelp);
    assert_eq!(alert.office_id, "ng-maiduguri");
    assert_eq!(alert.place, "Compound B, storeroom");
    assert!(alert.title.contains("Grace Okafor"));
    assert!(
        alert
            .description
            .contains("Injured, hiding in the storeroom")
    );
    assert_eq!(
        alert.labels.get("headcount").map(String::as_str),
        Some("hc-7")
    );
    assert_eq!(
        crate::silence::exemption(alert),
        Some(crate::silence::Exemption::StaffHelp)
    );
    // The same person calling again is the same alert (it folds in or updates).
    headcount.handle_answer(
        "p3",
        Answer {
            place: "Gate".into(),
            ..help
        },
    );
    let Some(Action::Do(Owed::Help { alert: again, .. })) = headcount.poll_action() else {
        panic!("a second call for help is published too")
    };
    assert_eq!(again.id, alert.id);
    assert_eq!(headcount.counts().0.of(Standing::NeedHelp), 1);
    // It is an alert valid as any other.
    let draft = crate::validate::AlertDraft {
        office_id: again.office_id.clone(),
        severity: Some(again.severity),
        category: Some(again.category),
        title: again.title.clone(),
        description: again.description.clone(),
        country: again.country.clone(),
        place: again.place.clone(),
        occurred_at: Some(again.occurred_at),
        staff_affected: again.staff_affected,
        dedup_key: again.dedup_key.clone().unwrap_or_default(),
        labels: again.labels.clone().into_iter().collect(),
        ..Default::default()
    };
    assert_eq!(draft.validate(at(5), again.id).unwrap().id, again.id);
}

#[test]
fn closing_lists_the_unaccounted_and_later_answers_are_kept_late() {
    let mut headcount = start(4);
    drain(&mut headcount);
    headcount.handle_answer("p1", answer(Reply::Safe, 1));
    headcount.handle_answer("p2", answer(Reply::Safe, 1));
    assert!(headcount.handle_close("maria.santos".into(), "All but 4 reached".into(), at(10)));
    assert!(!headcount.handle_close("jose.reyes".into(), "again".into(), at(11)));
    let closed = headcount.state().closed.clone().unwrap();
    assert_eq!(closed.unaccounted, ["p3", "p4", "p5", "v1"]);
    assert_eq!(closed.by, "maria.santos");
    // No reminder after closing.
    assert_eq!(headcount.poll_timeout(), None);
    headcount.handle_timeout(at(60));
    assert_eq!(drain(&mut headcount), Vec::<String>::new());
    // A late answer is kept, marked late; a late call for help still raises its alert.
    headcount.handle_answer("p3", answer(Reply::Safe, 70));
    headcount.handle_answer("p5", answer(Reply::NeedHelp, 71));
    let people = &headcount.state().people;
    assert!(people[2].latest().unwrap().late);
    assert_eq!(
        drain(&mut headcount),
        ["help Staff member asking for help: Fatima Yusuf"]
    );
}

#[test]
fn a_restore_hands_out_again_only_what_was_not_done_under_the_same_ids() {
    let mut headcount = start(4);
    let first: Vec<Owed> = std::iter::from_fn(|| headcount.poll_action())
        .map(|Action::Do(owed)| owed)
        .collect();
    // Two mails went out before the crash.
    headcount.handle_done(first[0].id());
    headcount.handle_done(first[1].id());
    let mut restored = Headcount::restore(headcount.snapshot());
    let again: Vec<Owed> = std::iter::from_fn(|| restored.poll_action())
        .map(|Action::Do(owed)| owed)
        .collect();
    assert_eq!(again, first[2..]);
    for owed in &again {
        restored.handle_done(owed.id());
    }
    // The cycle end after the restore asks nobody twice for cycle 0.
    restored.handle_timeout(at(15));
    assert!(
        drain(&mut restored)
            .iter()
            .all(|line| line.contains(" c1 "))
    );
}

#[test]
fn a_drill_says_so_in_its_help_alert() {
    let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
    let mut headcount = Headcount::start(
        Start {
            drill: true,
            members: roster().select(&Scope::Zones(["mogadishu".to_owned()].into()), day),
            ..start_args()
        },
        at(0),
    );
    drain(&mut headcount);
    headcount.handle_answer("s1", answer(Reply::NeedHelp, 1));
    assert_eq!(
        drain(&mut headcount),
        ["help [DRILL] Staff member asking for help: Hodan Ali"]
    );
}

fn start_args() -> Start {
    Start {
        id: HeadcountId("hc-8".into()),
        started_by: "jose.reyes".into(),
        drill: false,
        alert: None,
        scope: "zone mogadishu".into(),
        cycle_ms: 15 * MINUTE,
        cycles: 4,
        members: Vec::new(),
        part: 0,
        parts: 1,
        contacts: Vec::new(),
    }
}

#[test]
fn roster_problems_name_their_line_and_field() {
    let text = "\
id,name,office,country,zone,emails,warden,from,until
p1,Amina Bello,ng-maiduguri,NG,north,amina@example.org,yes,,
p1,Again,ng-maiduguri,NG,north,,,,
p3,,xx-nowhere,ng,,not-an-address,maybe,2026-12-10,2026-12-01
p4,Visitor,ng-maiduguri,NG,north,v@example.org,,2026-12-01,
";
    let errors = Roster::parse_csv(text, &offices()).unwrap_err();
    let named: Vec<String> = errors
        .iter()
        .map(|error| format!("{}:{}", error.line, error.field))
        .collect();
    assert_eq!(
        named,
        [
            "3:id",
            "4:name",
            "4:office",
            "4:country",
            "4:zone",
            "4:emails[0]",
            "4:warden",
            "4:until",
            "5:until",
        ]
    );
    assert!(errors[0].to_string().starts_with("line 3, id: "));
    let header = Roster::parse_csv("id,name,office\np1,A,ng-maiduguri\n", &offices()).unwrap_err();
    assert_eq!(header[0].field, "country");
    let unknown =
        Roster::parse_csv("id,name,office,country,zone,emails,phone\n", &offices()).unwrap_err();
    assert_eq!(unknown[0].field, "phone");
}

proptest! {
    /// Whatever the answers and however late the timeouts come, nobody who has answered is
    /// asked again, no mail id is handed out twice, and every id is a pure function of what
    /// happened (a restore at any point hands out the same ids).
    #[test]
    fn nobody_who_answered_is_asked_again_and_no_id_is_handed_out_twice(
        events in proptest::collection::vec((0usize..7, 0u8..4, 1i64..40), 0..40),
        restore_at in 0usize..40,
    ) {
        let people = ["p1", "p2", "p3", "p4", "p5", "v1", "nobody"];
        let mut headcount = start(4);
        let mut handed = BTreeSet::new();
        let mut answered = BTreeSet::new();
        let mut now = 0;
        for (index, (person, kind, step)) in events.into_iter().enumerate() {
            if index == restore_at {
                headcount = Headcount::restore(headcount.snapshot());
            }
            while let Some(Action::Do(owed)) = headcount.poll_action() {
                if let Owed::Mail { mail: Mail::Ask { person, .. }, .. } = &owed {
                    prop_assert!(!answered.contains(person.as_str()), "{person} asked after answering");
                }
                // A restore may hand out again what was not reported done; nothing else.
                prop_assert!(handed.insert(owed.id().to_owned()) || index == restore_at);
                headcount.handle_done(owed.id());
            }
            now += step;
            headcount.handle_timeout(at(now));
            let reply = match kind {
                0 => None,
                1 => Some(Reply::Safe),
                2 => Some(Reply::NotInArea),
                _ => Some(Reply::NeedHelp),
            };
            if let Some(reply) = reply
                && headcount.handle_answer(people[person], answer(reply, now))
            {
                answered.insert(people[person]);
            }
        }
    }
}
