//! The board's first page with 10,000 open alerts: server time per request (select the 500
//! worst and newest, count the tiles, render), for a duty officer, through the whole router
//! (session lookup, security headers). And the same page's live-row render alone.
//!
//! `cargo bench -p wk-web --bench board` (or `deploy/bench/run`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

const OPEN: u64 = 10_000;

fn board(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let console = common::console();
    let now_s = 1_790_000_000;
    for n in 0..OPEN {
        let (id, state) = common::state(n, now_s);
        console.view.observe(id, state);
    }
    let cookie = runtime.block_on(common::sign_in(&console.router));
    let mut group = c.benchmark_group("console");
    group.sample_size(30);
    let request = |path: &str| {
        Request::get(path)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    group.bench_function("board_first_page_10k_open", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = console
                .router
                .clone()
                .oneshot(request("/console/"))
                .await
                .unwrap();
            assert!(response.status().is_success());
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .len()
        });
    });
    group.bench_function("board_filtered_critical_text_10k_open", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = console
                .router
                .clone()
                .oneshot(request("/console/?min=critical&q=km+99"))
                .await
                .unwrap();
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .len()
        });
    });
    group.finish();
}

criterion_group!(benches, board);
criterion_main!(benches);
