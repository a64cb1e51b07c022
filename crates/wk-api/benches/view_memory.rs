//! The api's read view fed 1,000,000 alerts, each raised and later resolved, 1,000 open at a
//! time, with the default limits (resolved alerts kept 30 days, 50,000 at most) but the places
//! of only the last 200,000 let go kept: the heap it holds (dhat) every 100,000 alerts. Flat
//! once both ceilings are reached.
//!
//! `cargo bench -p wk-api --bench view_memory` (or `deploy/bench/run`).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::cast_possible_wrap)]

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

use wk_api::view::{Limits, Row, StateView};
use wk_core::alert::AlertId;
use wk_proto::v1 as pb;

const ALERTS: u64 = 1_000_000;
const OPEN: u64 = 1_000;
const NOW_S: i64 = 1_790_000_000;

/// A realistic alert's state as the dispatcher writes it (notification ids left out, the
/// timeline naming notifications by place and its times after first seen): the example's
/// three-step chain, 10 timeline entries (raised, step fired, 4 notified, 4 delivered), 4
/// notifications, a label, a description.
fn state(n: u64, resolved: bool) -> (AlertId, pb::EscalationState) {
    let id = AlertId::for_dedup_key("ng-maiduguri", &format!("bench-{n}"));
    let at = |s: i64| {
        Some(prost_types::Timestamp {
            seconds: s,
            nanos: 0,
        })
    };
    let first = NOW_S - 86_400 + (n as i64 % 86_400);
    let state = pb::EscalationState {
        alert_id: id.to_string(),
        incident: 1,
        status: if resolved { 3 } else { 1 },
        first_seen: at(first),
        last_seen: at(first),
        status_at: at(first + 600),
        route: "default".into(),
        chain: Some(pb::Chain {
            id: "security".into(),
            steps: [
                &["console:manila", "schedule:centre-duty"][..],
                &["console:panama", "schedule:regional-security"],
                &["contact:hq-crisis"],
            ]
            .iter()
            .map(|targets| pb::ChainStep {
                timeout_ms: 600_000,
                targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            })
            .collect(),
            repeat: 1,
            ..Default::default()
        }),
        notifications: (0..4)
            .map(|i| pb::Notification {
                recipient: Some(pb::notification::Recipient::EmailAddress(format!(
                    "duty.officer{i}@example.org"
                ))),
                purpose: 1,
                status: 2,
                ..Default::default()
            })
            .collect(),
        timeline: (0..10)
            .map(|i| pb::TimelineEntry {
                at: None,
                since_first_seen_ms: Some(i * 1_000 + 37),
                event: Some(match i {
                    0 => pb::timeline_entry::Event::Raised(pb::timeline_entry::Raised {
                        route: "default".into(),
                        chain: "security".into(),
                    }),
                    1 => pb::timeline_entry::Event::StepFired(Default::default()),
                    2..=5 => pb::timeline_entry::Event::NotifiedIndex(i as u32 - 2),
                    _ => pb::timeline_entry::Event::DeliveredIndex(i as u32 - 6),
                }),
            })
            .collect(),
        alert: Some(pb::Alert {
            office_id: "ng-maiduguri".into(),
            severity: 3,
            category: 1,
            title: format!("Checkpoint closed on the A3 near km {n}"),
            // Text that does not repeat itself: compression must not gain from the bench.
            description: format!(
                "Two vehicles blocking the road at km {n}; staff turned back to the compound. \
                 Police at the junction say it reopens after the market; no injuries, the \
                 convoy of {} waits at the depot for the all-clear from the office.",
                n % 97
            ),
            country: "NG".into(),
            place: "Maiduguri".into(),
            labels: [("team".to_owned(), "wash".to_owned())]
                .into_iter()
                .collect(),
            ..Default::default()
        }),
        ..Default::default()
    };
    (id, state)
}

/// The heap `make` allocates and keeps.
fn heap_of<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let start = dhat::HeapStats::get().curr_bytes;
    let kept = make();
    (kept, dhat::HeapStats::get().curr_bytes - start)
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    {
        use prost::Message as _;
        let (_, full) = state(7, true);
        let (_, decoded) = heap_of(|| Box::new(full.clone()));
        let (_, encoded) = heap_of(|| full.encode_to_vec().into_boxed_slice());
        let (_, packed) = heap_of(|| {
            lz4_flex::block::compress_prepend_size(&full.encode_to_vec()).into_boxed_slice()
        });
        let (_, row) = heap_of(|| Box::new(Row::of(&full)));
        let (_, alert) = heap_of(|| Box::new(full.alert.clone()));
        let (_, chain) = heap_of(|| Box::new(full.chain.clone()));
        println!(
            "one alert's state: decoded {decoded} B (of which alert {alert}, chain {chain}); \
             its list row {row} B (its office and country shared in the view); encoded {encoded} B, \
             compressed as the view keeps it {packed} B"
        );
    }
    // The places of the last 200,000 let go are kept (6.4 MB), the rest searched for.
    let view = StateView::with_limits(Limits {
        max_located: 200_000,
        ..Limits::default()
    });
    let now_ms = NOW_S * 1000;
    println!(
        "| alerts through | in memory | let go, place kept | let go, searched for | heap held | per alert in memory |"
    );
    println!("|---|---|---|---|---|---|");
    let mut offset = 0;
    for n in 0..ALERTS + OPEN {
        if n < ALERTS {
            let (id, raised) = state(n, false);
            view.observe_at(id, raised, Some((0, offset)), now_ms);
            offset += 1;
        }
        if n >= OPEN {
            let (id, resolved) = state(n - OPEN, true);
            view.observe_at(id, resolved, Some((0, offset)), now_ms);
            offset += 1;
        }
        if n > 0 && n % 100_000 == 0 {
            let heap = dhat::HeapStats::get().curr_bytes;
            let (held, located, unlocated) = view.sizes();
            println!(
                "| {n} | {held} | {located} | {unlocated} | {:.1} MB | {} B |",
                heap as f64 / 1e6,
                heap / held.max(1)
            );
        }
    }
}
