//! Heap bytes per open escalation, the dispatcher's dominant per-alert cost, counted exactly
//! with dhat's allocator: N alerts opened with the shipped example policy and their step-1
//! notifications reported delivered (the state a dispatcher holds while waiting for step 2).
//!
//! `cargo run --release -p wk-core --example memory -- 10000`
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use wk_core::alert::{Alert, AlertId, Category, Severity};
use wk_core::escalation::{Action, Escalation, Outcome};
use wk_core::time::Timestamp;

#[path = "../benches/support/mod.rs"]
mod support;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let count: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(10_000);
    let policy = support::example_policy();
    let now = Timestamp::from_unix_millis(1_790_000_000_000);
    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().curr_bytes;
    let mut open = Vec::with_capacity(count);
    let reserved = dhat::HeapStats::get().curr_bytes - before;
    for index in 0..count {
        let key = format!("memory-{index}");
        let alert = Alert {
            id: AlertId::for_dedup_key("ng-maiduguri", &key),
            office_id: "ng-maiduguri".into(),
            severity: Severity::Critical,
            category: Category::SecurityIncident,
            title: "Armed group reported near the compound".into(),
            description: "Gunfire heard 2 km east of the compound at 14:05. Staff are \
                          sheltering in place; the road to the airstrip is closed."
                .into(),
            country: "NG".into(),
            place: "Maiduguri".into(),
            coordinates: None,
            occurred_at: now,
            staff_affected: 12,
            dedup_key: Some(key),
            labels: [("team".to_owned(), "security".to_owned())]
                .into_iter()
                .collect(),
            origin: None,
        };
        let mut escalation = Escalation::route(alert, &policy, now);
        let mut sent = Vec::new();
        while let Some(Action::Deliver(notification)) = escalation.poll_action() {
            sent.push(notification.id);
        }
        for id in sent {
            escalation.handle_delivery(&id, Outcome::Delivered, &policy.directory, now);
        }
        open.push(escalation);
    }
    let held = dhat::HeapStats::get().curr_bytes - before - reserved;
    // Where the bytes are: the heap each part of one escalation takes, measured by cloning it.
    let sample = open[0].snapshot();
    let heap_of = |clone: &dyn Fn() -> Box<dyn std::any::Any>| {
        let start = dhat::HeapStats::get().curr_bytes;
        let kept = clone();
        let bytes = dhat::HeapStats::get().curr_bytes - start;
        drop(kept);
        bytes
    };
    let parts = [
        ("alert", heap_of(&|| Box::new(sample.alert.clone()))),
        (
            "alert.labels",
            heap_of(&|| Box::new(sample.alert.labels.clone())),
        ),
        ("chain", heap_of(&|| Box::new(sample.chain.clone()))),
        ("timeline", heap_of(&|| Box::new(sample.timeline.clone()))),
        (
            "deliveries",
            heap_of(&|| Box::new(sample.deliveries.clone())),
        ),
        ("route", heap_of(&|| Box::new(sample.route.clone()))),
    ];
    println!("heap bytes by part (each includes its Box): {parts:?}");
    {
        use std::mem::size_of;
        use wk_core::escalation::{DeliveryRecord, Entry, Purpose};
        println!(
            "inline sizes: Alert {}, Entry {}, DeliveryRecord {}, Purpose {}",
            size_of::<Alert>(),
            size_of::<Entry>(),
            size_of::<DeliveryRecord>(),
            size_of::<Purpose>(),
        );
    }
    let inline = std::mem::size_of::<Escalation>();
    let per = held as f64 / count as f64;
    println!(
        "{count} open escalations: {per:.0} heap bytes each + {inline} inline = {:.0} bytes; timeline entries {}, deliveries {}",
        per + inline as f64,
        open[0].timeline().len(),
        open[0].deliveries().len(),
    );
}
