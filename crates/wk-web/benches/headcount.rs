//! A headcount of 10,000 people (the organisation has about 9,000 staff), in the parts the api
//! splits it into, two thirds of them answered: the console's page of it (every part merged,
//! counted by office and zone, each person's row rendered) through the whole router, and the
//! merged view alone (what GetHeadcount answers). Prints the page's size and the state
//! records' bytes per person.
//!
//! `cargo bench -p wk-web --bench headcount` (or `deploy/bench/run`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use prost::Message as _;
use tower::ServiceExt as _;
use wk_core::Timestamp;
use wk_core::headcount::{Answer, Headcount, HeadcountId, Reply, Roster, Scope, Start, Via, split};
use wk_proto::v1 as pb;

const PEOPLE: usize = 10_000;

fn roster() -> String {
    let mut text = String::from("id,name,office,country,zone,emails,warden,from,until\n");
    for n in 0..PEOPLE {
        let warden = if n % 100 == 0 { "yes" } else { "" };
        text.push_str(&format!(
            "p-{n:05},Staff Member {n:05},ng-maiduguri,NG,zone-{:03},staff-{n:05}@staff.test,{warden},,\n",
            n / 100
        ));
    }
    text
}

/// The parts' state records as the api's follower gets them; their total bytes.
fn parts(roster: &Roster) -> (Vec<pb::HeadcountState>, usize) {
    let at = Timestamp::from_unix_millis(1_795_000_000_000);
    let day: jiff::civil::Date = "2026-12-01".parse().unwrap();
    let start = Start {
        id: HeadcountId("019ad2c0-bench".into()),
        started_by: common::OFFICER.into(),
        drill: false,
        alert: None,
        scope: "country NG".into(),
        cycle_ms: 15 * 60_000,
        cycles: 4,
        members: roster.select(&Scope::Country("NG".into()), day),
        part: 0,
        parts: 1,
        contacts: Vec::new(),
    };
    let mut bytes = 0;
    let states = split(start)
        .into_iter()
        .map(|part| {
            let members: Vec<String> = part.members.iter().map(|m| m.id.clone()).collect();
            let mut headcount = Headcount::start(part, at);
            while headcount.poll_action().is_some() {}
            for (n, person) in members.iter().enumerate() {
                let reply = match n % 30 {
                    0 => Reply::NeedHelp,
                    1 | 2 => Reply::NotInArea,
                    3..=19 => Reply::Safe,
                    _ => continue,
                };
                let answer = Answer {
                    reply,
                    at: at.saturating_add_millis(60_000),
                    via: Via::Link,
                    text: String::new(),
                    place: String::new(),
                    late: false,
                };
                headcount.handle_answer(person, answer);
            }
            let record = wk_bus::headcount_codec::encode_headcount(&headcount.snapshot(), 1);
            bytes += record.len();
            match pb::StateRecord::decode(&record[..]).unwrap().machine {
                Some(pb::state_record::Machine::Headcount(state)) => state,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    (states, bytes)
}

fn headcount(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("wk-bench-headcount-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("roster.csv");
    std::fs::write(&path, roster()).unwrap();
    let console = common::console_with(Some(&path));
    let service = console.headcounts.clone().expect("headcounts");
    let offices = ["ng-maiduguri".to_owned()].into();
    let roster = Roster::parse_csv(&std::fs::read_to_string(&path).unwrap(), &offices).unwrap();
    let (states, bytes) = parts(&roster);
    println!(
        "{PEOPLE} people in {} parts: {} state-record bytes per person",
        states.len(),
        bytes / PEOPLE
    );
    for state in states {
        service.observe(state);
    }
    let cookie = runtime.block_on(common::sign_in(&console.router));
    let page = || {
        let router = console.router.clone();
        let cookie = cookie.clone();
        async move {
            let reply = router
                .oneshot(
                    Request::get("/console/headcounts/019ad2c0-bench")
                        .header(header::COOKIE, cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
            reply.into_body().collect().await.unwrap().to_bytes().len()
        }
    };
    let size = runtime.block_on(page());
    println!("the page is {} KB", size / 1000);
    let view = service.view_of("019ad2c0-bench").expect("merged");
    assert_eq!(view.state.as_ref().map(|s| s.people.len()), Some(PEOPLE));
    let mut group = c.benchmark_group("headcount");
    group.sample_size(20);
    group.bench_function("page_10k_people", |b| b.to_async(&runtime).iter(page));
    group.bench_function("merged_view_10k_people", |b| {
        b.iter(|| service.view_of("019ad2c0-bench").expect("merged"))
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, headcount);
criterion_main!(benches);
