//! A large headcount's page (600 people in two parts, through the whole router): it lists the
//! 500 most urgent, those who need help first, then the unaccounted, and says that the CSV export has everyone;
//! the export does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/common.rs"]
mod common;

use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

async fn get(router: &axum::Router, cookie: &str, path: &str) -> String {
    let reply = router
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(reply.status(), 200, "{path}");
    String::from_utf8(
        reply
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_headcount_s_page_lists_the_500_most_urgent_and_the_export_has_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roster.csv");
    std::fs::write(&path, common::roster(600)).unwrap();
    let console = common::console_with(Some(&path));
    let service = console.headcounts.clone().expect("headcounts");
    let offices = ["ng-maiduguri".to_owned()].into();
    let roster =
        wk_core::headcount::Roster::parse_csv(&std::fs::read_to_string(&path).unwrap(), &offices)
            .unwrap();
    let (states, _) = common::headcount_parts(&roster);
    assert_eq!(states.len(), 2);
    for state in states {
        service.observe(state);
    }
    let cookie = common::sign_in(&console.router).await;
    let page = get(
        &console.router,
        &cookie,
        "/console/headcounts/019ad2c0-bench",
    )
    .await;
    let rows: Vec<&str> = page.split("<tr data-person=").skip(1).collect();
    assert_eq!(rows.len(), 500);
    // Those who need help come first, then the unaccounted.
    let all = service.view_of("019ad2c0-bench").unwrap().all.unwrap();
    let (help, unaccounted) = (all.need_help as usize, all.unaccounted as usize);
    assert!(help > 0 && help + unaccounted < 500, "{all:?}");
    assert!(
        rows[..help]
            .iter()
            .all(|row| row.contains("standing-need-help"))
    );
    assert!(
        rows[help..help + unaccounted]
            .iter()
            .all(|row| row.contains("standing-unaccounted"))
    );
    assert!(!rows[help + unaccounted].contains("standing-unaccounted"));
    assert!(
        page.contains("The 500 most urgent of 600 people are listed"),
        "{page}"
    );
    let csv = get(
        &console.router,
        &cookie,
        "/console/headcounts/019ad2c0-bench/export.csv",
    )
    .await;
    assert_eq!(csv.lines().count(), 601, "a header and everyone");
}
