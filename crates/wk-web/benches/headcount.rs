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
use tower::ServiceExt as _;
use wk_core::headcount::Roster;

const PEOPLE: usize = 10_000;

fn headcount(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = std::env::temp_dir().join(format!("wk-bench-headcount-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("roster.csv");
    std::fs::write(&path, common::roster(PEOPLE)).unwrap();
    let console = common::console_with(Some(&path));
    let service = console.headcounts.clone().expect("headcounts");
    let offices = ["ng-maiduguri".to_owned()].into();
    let roster = Roster::parse_csv(&std::fs::read_to_string(&path).unwrap(), &offices).unwrap();
    let (states, bytes) = common::headcount_parts(&roster);
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
