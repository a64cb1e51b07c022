//! The pure core's hot paths, with the shipped example policy (people, follow-the-sun
//! schedules, regions, chains): routing through 1,000 routes, applying events to an
//! escalation, and the dispatcher's timer queue holding 100,000 open alerts.
//!
//! `cargo bench -p wk-core --bench core` (or `deploy/bench/run`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use wk_core::alert::{Alert, AlertId, Category, Severity};
use wk_core::escalation::{Escalation, Outcome, Responder, TimerQueue};
use wk_core::policy::{Matcher, Policy, Route};
use wk_core::time::Timestamp;

mod support;

use support::example_policy;

const NOW: i64 = 1_790_000_000_000;

/// The example policy with `count` routes in front of its own, each for another office, so an
/// alert from `ng-maiduguri` is checked against every one of them.
fn policy_with_routes(count: usize) -> Policy {
    let mut policy = example_policy();
    let chain = policy.default_chain.clone();
    let extra = (0..count).map(|index| Route {
        name: format!("office-{index}"),
        matcher: Matcher {
            offices: vec![format!("office-{index}")],
            categories: vec![Category::SecurityIncident, Category::CivilUnrest],
            min_severity: Some(Severity::Warning),
            ..Matcher::default()
        },
        chain: chain.clone(),
    });
    let own = std::mem::take(&mut policy.routes);
    policy.routes = extra.chain(own).collect();
    policy
}

fn alert(key: &str) -> Alert {
    Alert {
        id: AlertId::for_dedup_key("ng-maiduguri", key),
        office_id: "ng-maiduguri".into(),
        severity: Severity::Critical,
        category: Category::SecurityIncident,
        title: "Armed group reported 5 km from the compound".into(),
        description: "Staff are sheltering in place; the road to the airstrip is closed.".into(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: None,
        occurred_at: Timestamp::from_unix_millis(NOW - 60_000),
        staff_affected: 12,
        dedup_key: Some(key.into()),
        labels: [("team".to_owned(), "security".to_owned())]
            .into_iter()
            .collect(),
        origin: None,
    }
}

fn routing(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    let policy = policy_with_routes(1_000);
    let subject = alert("route");
    group.bench_function("1000_routes_none_match", |b| {
        b.iter(|| black_box(policy.route(black_box(&subject))));
    });
    let example = example_policy();
    group.bench_function("example_policy", |b| {
        b.iter(|| black_box(example.route(black_box(&subject))));
    });
    group.finish();
}

fn escalation(c: &mut Criterion) {
    let mut group = c.benchmark_group("escalation");
    let policy = example_policy();
    let now = Timestamp::from_unix_millis(NOW);
    let subject = alert("escalation");
    group.bench_function("open", |b| {
        b.iter_batched(
            || subject.clone(),
            |alert| black_box(Escalation::route(alert, &policy, now)),
            BatchSize::SmallInput,
        );
    });
    let mut opened = Escalation::route(subject.clone(), &policy, now);
    let mut first = None;
    while let Some(wk_core::escalation::Action::Deliver(notification)) = opened.poll_action() {
        first.get_or_insert(notification.id);
    }
    let first = first.unwrap();
    let officer = Responder {
        actor: "maria.santos".into(),
        channel: "api".into(),
    };
    group.bench_function("acknowledge", |b| {
        b.iter_batched(
            || opened.clone(),
            |mut escalation| {
                black_box(escalation.handle_ack(officer.clone(), None, &policy.directory, now))
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("delivery_report", |b| {
        b.iter_batched(
            || opened.clone(),
            |mut escalation| {
                escalation.handle_delivery(&first, Outcome::Delivered, &policy.directory, now);
                escalation
            },
            BatchSize::SmallInput,
        );
    });
    let due = opened.poll_timeout().unwrap();
    group.bench_function("step_timeout", |b| {
        b.iter_batched(
            || opened.clone(),
            |mut escalation| {
                escalation.handle_timeout(&policy.directory, due);
                escalation
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("repeat_trigger", |b| {
        b.iter_batched(
            || (opened.clone(), subject.clone()),
            |(mut escalation, alert)| {
                escalation.handle_trigger(alert, &policy, now);
                escalation
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("snapshot", |b| b.iter(|| black_box(opened.snapshot())));
    group.finish();
}

fn timer_queue(c: &mut Criterion) {
    const OPEN: u32 = 100_000;
    let mut group = c.benchmark_group("timer_queue");
    // Deadlines spread over an hour, as step timeouts of alerts raised over time would be.
    let deadline =
        |index: u32| Timestamp::from_unix_millis(NOW + i64::from(index * 7919 % 3_600_000));
    let full = || {
        let mut queue = TimerQueue::new();
        for index in 0..OPEN {
            queue.rearm((0, index), None, Some(deadline(index)));
        }
        queue
    };
    group.throughput(Throughput::Elements(u64::from(OPEN)));
    group.bench_function("insert_100k", |b| b.iter(|| black_box(full())));
    group.throughput(Throughput::Elements(1));
    let mut queue = full();
    group.bench_function("next_deadline_at_100k", |b| {
        b.iter(|| black_box(queue.next_deadline()));
    });
    // Steady state: the earliest fires and its alert re-arms for its next step an hour later.
    let mut clock = NOW;
    group.bench_function("fire_and_rearm_at_100k", |b| {
        b.iter(|| {
            let at = queue.next_deadline().unwrap();
            clock = clock.max(at.as_unix_millis());
            let key = queue.pop_due(at).unwrap();
            let next = Timestamp::from_unix_millis(clock + 3_600_000);
            black_box(queue.rearm(key, None, Some(next)));
        });
    });
    group.bench_function("rearm_one_at_100k", |b| {
        let mut armed = Some(deadline(42));
        let mut shift = 0;
        b.iter(|| {
            shift = (shift + 1) % 1_000;
            let next = Some(Timestamp::from_unix_millis(NOW + 1_800_000 + shift));
            armed = queue.rearm((0, 42), armed, next);
        });
    });
    group.finish();
}

/// Judging one alert under a book of 20 silences in force and 5,000 ended ones (years of
/// them: nothing is deleted), pruned as the binary's follower keeps it, and not.
fn silences(c: &mut Criterion) {
    use wk_core::silence::{Matcher, Silence, SilenceBook};
    let now = Timestamp::from_unix_millis(1_790_000_000_000);
    let silence = |index: usize, ended: bool| Silence {
        id: format!("s-{index:05}"),
        matchers: vec![Matcher::parse(&format!("office=~\"office-{index}|other\"")).unwrap()],
        starts_at: now.saturating_add_millis(-86_400_000),
        ends_at: now.saturating_add_millis(if ended { -1_000 } else { 3_600_000 }),
        created_by: "maria.santos".into(),
        created_at: now.saturating_add_millis(-86_400_000),
        comment: "bench".into(),
        expired: None,
        window: None,
    };
    let mut book = SilenceBook::default();
    for index in 0..5_000 {
        book.insert(silence(index, true));
    }
    for index in 5_000..5_020 {
        book.insert(silence(index, false));
    }
    let subject = alert("bench");
    let mut group = c.benchmark_group("silences");
    group.bench_function("verdict_5000_ended_unpruned", |b| {
        b.iter(|| black_box(book.verdict_in(&subject, None, now)))
    });
    let mut pruned = book.clone();
    pruned.prune(now);
    group.bench_function("verdict_5000_ended_pruned", |b| {
        b.iter(|| black_box(pruned.verdict_in(&subject, None, now)))
    });
    group.finish();
}

criterion_group!(benches, routing, escalation, timer_queue, silences);
criterion_main!(benches);
