//! Scripted traces (explicit times in, actions out) for every escalation rule, and property
//! tests for the invariants. No sleeps: time is an argument.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::alert::{AlertId, Category, Severity};
use crate::policy::{ConsoleContact, Matcher, Person, Region, Route, Step};
use crate::schedule::{Layer, Schedule};

const MINUTE: i64 = 60_000;

mod expiry;
mod silenced;

fn alert() -> Alert {
    Alert {
        id: AlertId::for_dedup_key("ng-maiduguri", "gate"),
        office_id: "ng-maiduguri".into(),
        severity: Severity::Critical,
        category: Category::SecurityIncident,
        title: "t".into(),
        description: String::new(),
        country: "NG".into(),
        place: "Maiduguri".into(),
        coordinates: None,
        occurred_at: Timestamp::from_unix_millis(0),
        staff_affected: 0,
        dedup_key: Some("gate".into()),
        labels: Default::default(),
        origin: None,
    }
}

fn all_day(person: &str) -> Schedule {
    Schedule {
        id: person.into(),
        layers: vec![Layer {
            name: "all".into(),
            time_zone: jiff::tz::TimeZone::UTC,
            window: None,
            people: vec![person.into()],
            handover: "2026-01-01T00:00".parse().unwrap(),
            shift_days: 1,
        }],
        overrides: vec![],
    }
}

fn directory() -> Directory {
    let person = |id: &str| {
        (
            id.to_owned(),
            Person {
                id: id.into(),
                name: id.into(),
                email: format!("{id}@example.org"),
                time_zone: None,
            },
        )
    };
    Directory {
        focal_points: BTreeMap::new(),
        consoles: [
            (
                "manila".to_owned(),
                ConsoleContact {
                    name: "manila".into(),
                    emails: vec!["duty.manila@example.org".into()],
                    failover: Some("panama".into()),
                },
            ),
            (
                "panama".to_owned(),
                ConsoleContact {
                    name: "panama".into(),
                    emails: vec!["duty.panama@example.org".into()],
                    failover: None,
                },
            ),
        ]
        .into(),
        people: [person("maria"), person("amadou"), person("hq")].into(),
        schedules: [
            ("centre".to_owned(), all_day("maria")),
            ("rso-dakar".to_owned(), all_day("amadou")),
        ]
        .into(),
        regions: vec![Region {
            id: "wca".into(),
            name: "West and Central Africa".into(),
            countries: ["NG".to_owned()].into(),
            security_officer_schedule: "rso-dakar".into(),
        }],
        operators: vec!["ops@example.org".into()],
    }
}

fn chain(repeat: u32, ack_timeout_ms: Option<i64>) -> Chain {
    Chain {
        id: "standard".into(),
        steps: vec![
            Step {
                timeout_ms: 5 * MINUTE,
                targets: vec![TargetRef::Console("manila".into())],
            },
            Step {
                timeout_ms: 10 * MINUTE,
                targets: vec![
                    TargetRef::Schedule("centre".into()),
                    TargetRef::RegionalSecurityOfficer,
                ],
            },
            Step {
                timeout_ms: 15 * MINUTE,
                targets: vec![TargetRef::Person("hq".into())],
            },
        ],
        repeat,
        ack_timeout_ms,
        on_exhausted: vec![TargetRef::Console("panama".into())],
    }
}

fn policy(repeat: u32, ack_timeout_ms: Option<i64>) -> Policy {
    policy_with(chain(repeat, ack_timeout_ms))
}

/// A policy whose every route leads to `standard`.
fn policy_with(standard: Chain) -> Policy {
    let standard: std::sync::Arc<Chain> = standard.into();
    Policy {
        directory: directory(),
        chains: [("standard".to_owned(), standard.clone())].into(),
        routes: vec![Route {
            name: "all".into(),
            matcher: Matcher::default(),
            chain: standard.clone(),
        }],
        default_chain: standard,
    }
}

fn minutes(text: &str) -> Timestamp {
    let minutes: i64 = text.trim_end_matches('m').parse().unwrap();
    Timestamp::from_unix_millis(minutes * MINUTE)
}

fn show_time(at: Timestamp) -> String {
    let millis = at.as_unix_millis();
    if millis % MINUTE == 0 {
        format!("{}m", millis / MINUTE)
    } else {
        format!("{millis}ms")
    }
}

/// Short names for recipients so traces read well.
fn short(id: &str, alert: &Alert) -> String {
    let mut id = id.replace(&alert.id.to_string(), "A");
    for name in ["duty.manila", "duty.panama", "maria", "amadou", "hq"] {
        let key = Recipient::Email {
            address: format!("{name}@example.org"),
        }
        .key();
        id = id.replace(&key, &format!("mail-{name}"));
    }
    id
}

/// Runs `script` (one command per line: `5m timeout`, `6m ack`, `7m resolve`, `8m trigger`,
/// `9m delivered SUFFIX`, `9m failed SUFFIX`) from an alert opened at 0m, and returns what
/// happened: each notification sent and the next timeout after each command.
fn trace(policy: &Policy, script: &str) -> Vec<String> {
    let mut escalation = Escalation::route(alert(), policy, minutes("0m"));
    let mut lines = vec![];
    let drain = |escalation: &mut Escalation, lines: &mut Vec<String>| {
        while let Some(Action::Deliver(notification)) = escalation.poll_action() {
            lines.push(format!("  send {}", short(&notification.id, &alert())));
        }
        if let Some(at) = escalation.poll_timeout() {
            lines.push(format!("  next {}", show_time(at)));
        }
    };
    lines.push("0m open".to_owned());
    drain(&mut escalation, &mut lines);
    let by = Responder {
        actor: "maria".into(),
        channel: "api".into(),
    };
    for command in script
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        lines.push(command.to_owned());
        let mut words = command.split_whitespace();
        let now = minutes(words.next().unwrap());
        match words.next().unwrap() {
            "timeout" => escalation.handle_timeout(&policy.directory, now),
            "ack" => {
                if let AckEffect::AlreadyAcknowledged(first) =
                    escalation.handle_ack(by.clone(), None, &policy.directory, now)
                {
                    lines.push(format!("  already acknowledged by {}", first.actor));
                }
            }
            "resolve" => {
                escalation.handle_resolve(by.clone(), None, &policy.directory, now);
            }
            "trigger" => escalation.handle_trigger(alert(), policy, now),
            "worse" => {
                let worse = Alert {
                    severity: Severity::Emergency,
                    title: "Shots fired, staff trapped".into(),
                    ..alert()
                };
                escalation.handle_trigger(worse, policy, now);
            }
            "ack-for" => {
                let incident = words.next().unwrap().parse().unwrap();
                if let AckEffect::WrongIncident { issued_for } =
                    escalation.handle_ack(by.clone(), Some(incident), &policy.directory, now)
                {
                    lines.push(format!("  refused: issued for incident {issued_for}"));
                }
            }
            verb @ ("delivered" | "failed" | "parked") => {
                let suffix = words.next().unwrap();
                let id = escalation
                    .deliveries()
                    .iter()
                    .map(|record| record.notification.id.clone())
                    .find(|id| short(id, &alert()).ends_with(suffix))
                    .unwrap_or_else(|| panic!("no delivery ending {suffix}"));
                let outcome = match verb {
                    "delivered" => Outcome::Delivered,
                    "parked" => Outcome::Parked {
                        reason: "circuit open".into(),
                    },
                    _ => Outcome::GivenUp {
                        reason: "connection refused".into(),
                    },
                };
                escalation.handle_delivery(&id, outcome, &policy.directory, now);
            }
            other => panic!("unknown command {other}"),
        }
        drain(&mut escalation, &mut lines);
    }
    lines
}

#[test]
fn the_office_s_focal_points_learn_who_acknowledged_and_resolved_but_not_of_its_own_check_in() {
    let mut policy = policy(0, None);
    policy
        .directory
        .focal_points
        .insert("ng-maiduguri".into(), vec!["focal@example.org".into()]);
    let now = Timestamp::from_unix_millis(0);
    let informed = |escalation: &mut Escalation| -> Vec<Notification> {
        std::iter::from_fn(|| escalation.poll_action())
            .map(|Action::Deliver(notification)| notification)
            .filter(|notification| matches!(notification.purpose, Purpose::Informed { .. }))
            .collect()
    };
    let officer = Responder {
        actor: "maria.santos".into(),
        channel: "console".into(),
    };
    let mut escalation = Escalation::route(alert(), &policy, now);
    assert!(
        informed(&mut escalation).is_empty(),
        "nothing told on opening"
    );
    let later = now.saturating_add_millis(MINUTE);
    escalation.handle_ack(officer.clone(), None, &policy.directory, later);
    let told = informed(&mut escalation);
    assert_eq!(told.len(), 1);
    assert_eq!(
        told[0].recipient,
        Recipient::Email {
            address: "focal@example.org".into()
        }
    );
    assert_eq!(
        told[0].purpose,
        Purpose::Informed {
            resolved: false,
            by: "maria.santos".into(),
            at: later
        }
    );
    // The address itself never appears in an id (nor in logs).
    assert!(
        told[0]
            .id
            .starts_with(&format!("{}.i1.acknowledged.email-", alert().id)),
        "{}",
        told[0].id
    );
    assert!(!told[0].id.contains('@'));
    // A repeated acknowledgement tells nothing more; the resolution is told once.
    escalation.handle_ack(officer.clone(), None, &policy.directory, later);
    assert!(informed(&mut escalation).is_empty());
    escalation.handle_resolve(officer, None, &policy.directory, later);
    assert!(matches!(
        informed(&mut escalation).as_slice(),
        [Notification {
            purpose: Purpose::Informed { resolved: true, .. },
            ..
        }]
    ));
    // Resolved by the office's own check-in: it knows, nobody is told.
    let mut silent = Escalation::route(alert(), &policy, now);
    let office = Responder {
        actor: "ng-maiduguri".into(),
        channel: CHECK_IN_CHANNEL.into(),
    };
    silent.handle_resolve(office, None, &policy.directory, later);
    assert!(informed(&mut silent).is_empty());
}

#[test]
fn without_ack_every_step_fires_in_order_then_the_chain_repeats_and_is_exhausted() {
    let lines = trace(
        &policy(1, None),
        "5m timeout\n15m timeout\n30m timeout\n35m timeout\n45m timeout\n60m timeout\n61m timeout",
    );
    assert_eq!(
        lines,
        [
            "0m open",
            "  send A.i1.r0.s0.webhook-manila",
            "  send A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "5m timeout",
            "  send A.i1.r0.s1.mail-maria",
            "  send A.i1.r0.s1.mail-amadou",
            "  next 15m",
            "15m timeout",
            "  send A.i1.r0.s2.mail-hq",
            "  next 30m",
            "30m timeout",
            "  send A.i1.r1.s0.webhook-manila",
            "  send A.i1.r1.s0.mail-duty.manila",
            "  next 35m",
            "35m timeout",
            "  send A.i1.r1.s1.mail-maria",
            "  send A.i1.r1.s1.mail-amadou",
            "  next 45m",
            "45m timeout",
            "  send A.i1.r1.s2.mail-hq",
            "  next 60m",
            "60m timeout",
            "  send A.i1.r1.exhausted.webhook-panama",
            "  send A.i1.r1.exhausted.mail-duty.panama",
            "61m timeout",
        ]
    );
}

#[test]
fn an_ack_after_the_first_step_stops_everything() {
    let lines = trace(&policy(1, None), "4m ack\n5m timeout\n90m timeout\n91m ack");
    assert_eq!(
        lines,
        [
            "0m open",
            "  send A.i1.r0.s0.webhook-manila",
            "  send A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "4m ack",
            "5m timeout",
            "90m timeout",
            "91m ack",
            "  already acknowledged by maria",
        ]
    );
}

#[test]
fn an_ack_not_resolved_in_time_returns_to_triggered_and_escalation_resumes() {
    let lines = trace(
        &policy(0, Some(60 * MINUTE)),
        "4m ack\n64m timeout\n70m ack\n80m resolve\n200m timeout",
    );
    assert_eq!(
        lines,
        [
            "0m open",
            "  send A.i1.r0.s0.webhook-manila",
            "  send A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "4m ack",
            "  next 64m",
            "64m timeout",
            "  send A.i1.r1.s0.webhook-manila",
            "  send A.i1.r1.s0.mail-duty.manila",
            "  next 69m",
            "70m ack",
            "  next 130m",
            "80m resolve",
            "200m timeout",
        ]
    );
}

#[test]
fn a_repeat_folds_in_and_a_trigger_after_resolve_opens_a_new_incident() {
    let lines = trace(
        &policy(0, None),
        "1m trigger\n2m trigger\n3m resolve\n4m trigger\n9m timeout",
    );
    assert_eq!(
        lines,
        [
            "0m open",
            "  send A.i1.r0.s0.webhook-manila",
            "  send A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "1m trigger",
            "  next 5m",
            "2m trigger",
            "  next 5m",
            "3m resolve",
            "4m trigger",
            "  send A.i2.r0.s0.webhook-manila",
            "  send A.i2.r0.s0.mail-duty.manila",
            "  next 9m",
            "9m timeout",
            "  send A.i2.r0.s1.mail-maria",
            "  send A.i2.r0.s1.mail-amadou",
            "  next 19m",
        ]
    );
}

#[test]
fn done_only_once_resolved_with_nothing_owed_and_a_repeat_needs_only_its_number() {
    let policy = policy(0, None);
    let by = Responder {
        actor: "maria".into(),
        channel: "console".into(),
    };
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    let sent: Vec<String> = std::iter::from_fn(|| escalation.poll_action())
        .map(|Action::Deliver(notification)| notification.id.to_string())
        .collect();
    assert!(!escalation.is_done(), "open");
    escalation.handle_resolve(by, None, &policy.directory, minutes("1m"));
    while escalation.poll_action().is_some() {}
    assert!(
        !escalation.is_done(),
        "resolved, its notifications not reported yet"
    );
    for id in &sent {
        escalation.handle_delivery(id, Outcome::Delivered, &policy.directory, minutes("2m"));
    }
    while escalation.poll_action().is_some() {}
    assert!(escalation.is_done());
    // What a repeat makes of the resolved escalation, from its incident number alone.
    let mut repeated = escalation.clone();
    repeated.handle_trigger(alert(), &policy, minutes("3m"));
    let opened = Escalation::open_incident(
        alert(),
        escalation.incident() + 1,
        &policy,
        &SilenceBook::default(),
        minutes("3m"),
    );
    assert_eq!(repeated.snapshot(), opened.snapshot());
}

#[test]
fn a_console_given_up_fails_over_at_once_and_the_timeline_says_why() {
    let policy = policy(0, None);
    let lines = trace(
        &policy,
        "1m failed s0.webhook-manila\n1m failed s0.webhook-manila\n2m delivered failover.webhook-panama\n5m timeout",
    );
    assert_eq!(
        lines,
        [
            "0m open",
            "  send A.i1.r0.s0.webhook-manila",
            "  send A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "1m failed s0.webhook-manila",
            "  send A.i1.r0.s0.failover.webhook-panama",
            "  send A.i1.r0.s0.failover.mail-duty.panama",
            "  next 5m",
            "1m failed s0.webhook-manila",
            "  next 5m",
            "2m delivered failover.webhook-panama",
            "  next 5m",
            "5m timeout",
            "  send A.i1.r0.s1.mail-maria",
            "  send A.i1.r0.s1.mail-amadou",
            "  next 15m",
        ]
    );
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    let manila = escalation.deliveries()[0].notification.id.clone();
    escalation.handle_delivery(
        &manila,
        Outcome::GivenUp {
            reason: "HTTP 503".into(),
        },
        &policy.directory,
        minutes("1m"),
    );
    assert!(escalation.timeline().contains(&Entry {
        at: minutes("1m"),
        event: Event::FailedOver(Box::new(Failover {
            from: "manila".into(),
            to: "panama".into(),
            reason: "HTTP 503".into()
        })),
    }));
}

#[test]
fn failed_attempts_are_recorded_without_changing_anything() {
    let policy = policy(0, None);
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    while escalation.poll_action().is_some() {}
    let manila = escalation.deliveries()[0].notification.id.clone();
    let before = escalation.snapshot();
    let attempt = Outcome::AttemptFailed {
        attempt: 1,
        reason: "HTTP 503".into(),
    };
    escalation.handle_delivery(&manila, attempt, &policy.directory, minutes("1m"));
    assert_eq!(escalation.poll_action(), None);
    assert_eq!(escalation.deliveries(), before.deliveries);
    assert_eq!(
        escalation.timeline().last().map(|entry| &entry.event),
        Some(&Event::AttemptFailed {
            id: manila,
            attempt: 1,
            reason: "HTTP 503".into()
        })
    );
}

#[test]
fn no_failover_once_acknowledged_or_from_a_failover() {
    let lines = trace(&policy(0, None), "1m ack\n2m failed s0.webhook-manila");
    assert!(
        !lines.iter().any(|line| line.contains("failover")),
        "{lines:?}"
    );
    let mut policy = policy(0, None);
    policy
        .directory
        .consoles
        .get_mut("panama")
        .unwrap()
        .failover = Some("manila".into());
    let lines = trace(
        &policy,
        "1m failed s0.webhook-manila\n2m failed failover.webhook-panama",
    );
    // Panama's failover is not failed over back to Manila; that it could not be reached is
    // told to the next step instead.
    assert_eq!(
        lines
            .iter()
            .filter(|line| line.starts_with("  send") && line.ends_with("failover.webhook-manila"))
            .count(),
        0,
        "{lines:?}"
    );
    assert_eq!(
        &lines[8..],
        [
            "2m failed failover.webhook-panama",
            "  send A.i1.r0.s0.failover.webhook-panama.undeliverable.mail-maria",
            "  send A.i1.r0.s0.failover.webhook-panama.undeliverable.mail-amadou",
            "  next 5m",
        ]
    );
}

#[test]
fn a_parked_console_fails_over_at_once_and_its_own_notification_still_arrives() {
    let lines = trace(
        &policy(0, None),
        "1m parked s0.webhook-manila\n1m parked s0.webhook-manila\n3m delivered s0.webhook-manila",
    );
    assert_eq!(
        lines,
        [
            "0m open",
            "  send A.i1.r0.s0.webhook-manila",
            "  send A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "1m parked s0.webhook-manila",
            "  send A.i1.r0.s0.failover.webhook-panama",
            "  send A.i1.r0.s0.failover.mail-duty.panama",
            "  next 5m",
            // Reported parked again (after a restart): nothing new.
            "1m parked s0.webhook-manila",
            "  next 5m",
            "3m delivered s0.webhook-manila",
            "  next 5m",
        ]
    );
}

#[test]
fn a_parked_notification_survives_a_restore_and_is_sent_again() {
    let policy = policy(0, None);
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    while escalation.poll_action().is_some() {}
    let manila = format!("{}.i1.r0.s0.webhook-manila", alert().id);
    let parked = Outcome::Parked {
        reason: "circuit open".into(),
    };
    escalation.handle_delivery(&manila, parked, &policy.directory, minutes("1m"));
    let mut restored = Escalation::restore(escalation.snapshot());
    let resent: Vec<String> = std::iter::from_fn(|| restored.poll_action())
        .map(|Action::Deliver(notification)| notification.id.to_string())
        .collect();
    assert!(resent.contains(&manila), "{resent:?}");
    let record = restored
        .deliveries()
        .iter()
        .find(|record| *record.notification.id == *manila)
        .unwrap();
    assert_eq!(
        record.state,
        DeliveryState::Parked {
            since: minutes("1m")
        }
    );
}

#[test]
fn a_notification_given_up_with_no_failover_is_told_to_the_next_reachable_step() {
    // Step 2 (maria, amadou) fails for maria permanently: step 3 (hq) learns it.
    let lines = trace(
        &policy(0, None),
        "5m timeout\n6m failed s1.mail-maria\n15m timeout\n16m failed s2.mail-hq",
    );
    assert_eq!(
        &lines[8..],
        [
            "6m failed s1.mail-maria",
            "  send A.i1.r0.s1.mail-maria.undeliverable.mail-hq",
            "  next 15m",
            "15m timeout",
            "  send A.i1.r0.s2.mail-hq",
            "  next 30m",
            "16m failed s2.mail-hq",
            "  send A.i1.r0.s2.mail-hq.undeliverable.webhook-panama",
            "  send A.i1.r0.s2.mail-hq.undeliverable.mail-duty.panama",
            "  next 30m",
        ],
        "{lines:?}"
    );
}

#[test]
fn with_nobody_left_every_console_mailbox_and_the_operators_learn_it() {
    let mut escalation = Escalation::route(alert(), &policy(0, None), minutes("0m"));
    let directory = directory();
    for at in ["5m", "15m", "30m"] {
        escalation.handle_timeout(&directory, minutes(at));
    }
    while escalation.poll_action().is_some() {}
    let exhausted_panama = format!("{}.i1.r0.exhausted.webhook-panama", alert().id);
    let given_up = Outcome::GivenUp {
        reason: "HTTP 404".into(),
    };
    escalation.handle_delivery(&exhausted_panama, given_up, &directory, minutes("31m"));
    let sent: Vec<String> = std::iter::from_fn(|| escalation.poll_action())
        .map(|Action::Deliver(notification)| short(&notification.id, &alert()))
        .collect();
    let ops = Recipient::Email {
        address: "ops@example.org".into(),
    }
    .key();
    assert_eq!(
        sent,
        [
            "A.i1.r0.exhausted.webhook-panama.undeliverable.mail-duty.manila".to_owned(),
            "A.i1.r0.exhausted.webhook-panama.undeliverable.mail-duty.panama".to_owned(),
            format!("A.i1.r0.exhausted.webhook-panama.undeliverable.{ops}"),
        ]
    );
}

#[test]
fn the_exhaustion_notice_fails_over_like_a_step() {
    let policy = policy_with(Chain {
        on_exhausted: vec![TargetRef::Console("manila".into())],
        ..chain(0, None)
    });
    let lines = trace(
        &policy,
        "5m timeout\n15m timeout\n30m timeout\n31m parked exhausted.webhook-manila",
    );
    assert_eq!(
        &lines[lines.len() - 3..],
        [
            "31m parked exhausted.webhook-manila",
            "  send A.i1.r0.exhausted.failover.webhook-panama",
            "  send A.i1.r0.exhausted.failover.mail-duty.panama",
        ]
    );
}

#[test]
fn an_action_issued_for_another_incident_is_refused_and_recorded() {
    let lines = trace(
        &policy(0, None),
        "1m resolve\n2m trigger\n3m ack-for 1\n6m timeout\n7m ack-for 2\n20m timeout",
    );
    assert_eq!(
        &lines[4..],
        [
            "1m resolve",
            "2m trigger",
            "  send A.i2.r0.s0.webhook-manila",
            "  send A.i2.r0.s0.mail-duty.manila",
            "  next 7m",
            "3m ack-for 1",
            "  refused: issued for incident 1",
            "  next 7m",
            "6m timeout",
            "  next 7m",
            "7m ack-for 2",
            "20m timeout",
        ]
    );
}

#[test]
fn a_worsening_repeat_updates_the_alert_and_is_notified_at_once_under_new_ids() {
    let lines = trace(
        &policy(0, None),
        "1m trigger\n2m worse\n3m worse\n5m timeout",
    );
    assert_eq!(
        &lines[4..],
        [
            "1m trigger",
            "  next 5m",
            "2m worse",
            "  send A.i1.u1.r0.s0.webhook-manila",
            "  send A.i1.u1.r0.s0.mail-duty.manila",
            "  next 5m",
            // The same update again is a plain repeat.
            "3m worse",
            "  next 5m",
            "5m timeout",
            "  send A.i1.r0.s1.mail-maria",
            "  send A.i1.r0.s1.mail-amadou",
            "  next 15m",
        ]
    );
    let policy = policy(0, None);
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    let worse = Alert {
        severity: Severity::Emergency,
        title: "Shots fired, staff trapped".into(),
        ..alert()
    };
    escalation.handle_trigger(worse, &policy, minutes("2m"));
    assert_eq!(escalation.alert().severity, Severity::Emergency);
    assert_eq!(escalation.alert().title, "Shots fired, staff trapped");
    let updated = escalation
        .timeline()
        .iter()
        .find_map(|entry| match &entry.event {
            Event::Updated {
                previous, current, ..
            } => Some((previous.clone(), current.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(updated.0.title, "t");
    assert_eq!(updated.1.severity, Severity::Emergency);
    // A lower severity alone is a plain repeat, and never lowers the alert.
    let calmer = Alert {
        severity: Severity::Info,
        title: "Shots fired, staff trapped".into(),
        ..alert()
    };
    escalation.handle_trigger(calmer, &policy, minutes("3m"));
    assert_eq!(escalation.alert().severity, Severity::Emergency);
    assert!(matches!(
        escalation.timeline().last().unwrap().event,
        Event::Repeated { occurrences: 3 }
    ));
}

#[test]
fn an_update_that_routes_elsewhere_starts_the_other_chain() {
    let mut policy = policy(0, None);
    let crisis = Chain {
        id: "crisis".into(),
        steps: vec![Step {
            timeout_ms: 2 * MINUTE,
            targets: vec![TargetRef::Person("hq".into())],
        }],
        repeat: 0,
        ack_timeout_ms: None,
        on_exhausted: vec![],
    };
    let crisis: std::sync::Arc<_> = crisis.into();
    policy.chains.insert("crisis".into(), crisis.clone());
    policy.routes.insert(
        0,
        Route {
            name: "emergencies".into(),
            matcher: Matcher {
                min_severity: Some(Severity::Emergency),
                ..Matcher::default()
            },
            chain: crisis,
        },
    );
    let lines = trace(&policy, "2m worse\n4m timeout");
    assert_eq!(
        &lines[4..],
        [
            "2m worse",
            "  send A.i1.u1.r1.s0.mail-hq",
            "  next 4m",
            "4m timeout",
            "  send A.i1.r1.exhausted.mail-hq",
        ]
    );
}

#[test]
fn a_late_timeout_fires_one_step_and_never_skips() {
    // The dispatcher was down from 1m to 40m: at 40m only step 1 fires, the next waits its full
    // timeout from now.
    let lines = trace(&policy(0, None), "40m timeout");
    assert_eq!(
        &lines[4..],
        [
            "40m timeout",
            "  send A.i1.r0.s1.mail-maria",
            "  send A.i1.r0.s1.mail-amadou",
            "  next 50m"
        ]
    );
}

#[test]
fn restore_reissues_only_pending_notifications_under_the_same_ids() {
    let policy = policy(0, None);
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    let sent: Vec<String> = std::iter::from_fn(|| escalation.poll_action())
        .map(|Action::Deliver(n)| n.id.to_string())
        .collect();
    escalation.handle_delivery(
        &sent[0],
        Outcome::Delivered,
        &policy.directory,
        minutes("1m"),
    );
    let mut restored = Escalation::restore(escalation.snapshot());
    assert_eq!(restored.snapshot(), escalation.snapshot());
    let again: Vec<String> = std::iter::from_fn(|| restored.poll_action())
        .map(|Action::Deliver(n)| n.id.to_string())
        .collect();
    assert_eq!(again, sent[1..]);
    assert_eq!(restored.poll_timeout(), Some(minutes("5m")));
}

#[test]
fn escalations_share_their_chain_with_the_policy_also_after_a_restore() {
    let policy = policy(0, None);
    let standard = &policy.chains["standard"];
    let escalation = Escalation::route(alert(), &policy, minutes("0m"));
    assert!(std::sync::Arc::ptr_eq(&escalation.state.chain, standard));
    let restored = Escalation::restore_in(escalation.snapshot(), &policy);
    assert!(std::sync::Arc::ptr_eq(&restored.state.chain, standard));
    assert_eq!(restored.snapshot(), escalation.snapshot());
    // A chain changed since (new configuration) is kept as the alert started with it.
    let mut changed = policy.clone();
    let mut longer = (**standard).clone();
    longer.repeat += 1;
    changed.chains.insert("standard".into(), longer.into());
    let kept = Escalation::restore_in(escalation.snapshot(), &changed);
    assert_eq!(*kept.state.chain, **standard);
}

#[test]
fn nobody_on_call_is_recorded_and_the_chain_goes_on() {
    let mut policy = policy(0, None);
    policy.directory.schedules.remove("centre");
    policy.directory.regions.clear();
    let mut escalation = Escalation::route(alert(), &policy, minutes("0m"));
    escalation.handle_timeout(&policy.directory, minutes("5m"));
    let nobody: Vec<&Event> = escalation
        .timeline()
        .iter()
        .map(|entry| &entry.event)
        .filter(|event| matches!(event, Event::NobodyToNotify { .. }))
        .collect();
    assert_eq!(
        nobody,
        [
            &Event::NobodyToNotify {
                target: "schedule:centre".into()
            },
            &Event::NobodyToNotify {
                target: "regional-security-officer".into()
            },
        ]
    );
    assert_eq!(escalation.poll_timeout(), Some(minutes("15m")));
}

#[derive(Clone, Debug)]
enum Input {
    Timeout,
    Ack,
    Resolve,
    Trigger,
    Delivered(usize),
    GivenUp(usize),
    Parked(usize),
    Worse,
}

fn input() -> impl Strategy<Value = (i64, Input)> {
    let kind = prop_oneof![
        4 => Just(Input::Timeout),
        1 => Just(Input::Ack),
        1 => Just(Input::Resolve),
        1 => Just(Input::Trigger),
        2 => (0usize..40).prop_map(Input::Delivered),
        2 => (0usize..40).prop_map(Input::GivenUp),
        2 => (0usize..40).prop_map(Input::Parked),
        1 => Just(Input::Worse),
    ];
    (0i64..20 * MINUTE, kind)
}

proptest! {
    /// Whatever happens, in whatever order: an ack stops the step timer and nothing is sent
    /// while acknowledged; steps fire in order without skipping; no notification id is issued
    /// twice; the next timeout is never in the past.
    #[test]
    fn invariants_hold(
        repeat in 0u32..3,
        ack_timeout in proptest::option::of(1i64..60 * MINUTE),
        inputs in proptest::collection::vec(input(), 0..60),
    ) {
        let policy = policy(repeat, ack_timeout);
        let mut now = Timestamp::from_unix_millis(0);
        let mut escalation = Escalation::route(alert(), &policy, now);
        let mut issued = BTreeSet::new();
        let mut last_step: Option<(u32, usize)> = None;
        let mut incidents = 1;
        let by = Responder { actor: "maria".into(), channel: "api".into() };
        for (advance, input) in inputs {
            while let Some(Action::Deliver(notification)) = escalation.poll_action() {
                prop_assert!(issued.insert(notification.id.clone()), "issued twice: {}", notification.id);
            }
            now = now.saturating_add_millis(advance);
            let was_acknowledged = matches!(escalation.status(), Status::Acknowledged { .. });
            let timers_before = escalation.state.timers.clone();
            let is_timeout = matches!(input, Input::Timeout);
            let ids: Vec<String> = escalation.deliveries().iter().map(|r| r.notification.id.to_string()).collect();
            match input {
                Input::Timeout => escalation.handle_timeout(&policy.directory, now),
                Input::Ack => { escalation.handle_ack(by.clone(), None, &policy.directory, now); }
                Input::Resolve => { escalation.handle_resolve(by.clone(), None, &policy.directory, now); }
                Input::Trigger | Input::Worse => {
                    let resolved = matches!(escalation.status(), Status::Resolved { .. });
                    let sent = if matches!(input, Input::Worse) {
                        Alert { severity: Severity::Emergency, title: format!("worse at {now}"), ..alert() }
                    } else {
                        alert()
                    };
                    escalation.handle_trigger(sent, &policy, now);
                    if resolved {
                        // A new incident starts its steps again.
                        last_step = None;
                        incidents += 1;
                    }
                    prop_assert_eq!(escalation.incident(), incidents);
                }
                Input::Delivered(index) => if let Some(id) = ids.get(index) {
                    escalation.handle_delivery(id, Outcome::Delivered, &policy.directory, now);
                }
                Input::GivenUp(index) => if let Some(id) = ids.get(index) {
                    escalation.handle_delivery(id, Outcome::GivenUp { reason: "x".into() }, &policy.directory, now);
                }
                Input::Parked(index) => if let Some(id) = ids.get(index) {
                    escalation.handle_delivery(id, Outcome::Parked { reason: "x".into() }, &policy.directory, now);
                }
            }
            let acknowledged = matches!(escalation.status(), Status::Acknowledged { .. });
            if acknowledged {
                prop_assert!(escalation.state.timers.get(Timer::Step).is_none(), "ack left the step timer running");
                if was_acknowledged {
                    // Only an office's update of the alert is told while acknowledged.
                    prop_assert!(
                        escalation.actions.iter().all(|Action::Deliver(n)| matches!(n.purpose, Purpose::Updated { .. } | Purpose::Informed { .. })),
                        "sent while acknowledged"
                    );
                }
            }
            if matches!(escalation.status(), Status::Resolved { .. }) {
                prop_assert_eq!(escalation.poll_timeout(), None);
            }
            // A timer is never set in the past, and after handle_timeout nothing is left due.
            for timer in [Timer::Step, Timer::AckTimeout] {
                let after = escalation.state.timers.get(timer);
                if after != timers_before.get(timer)
                    && let Some(at) = after
                {
                    prop_assert!(at > now, "{timer:?} set to {at:?}, not after now {now:?}");
                }
            }
            if is_timeout && let Some(next) = escalation.poll_timeout() {
                prop_assert!(next > now, "next timeout {next:?} is not after now {now:?}");
            }
            for entry in escalation.timeline() {
                if let Event::StepFired { step, round } = entry.event {
                    if let Some((last_round, last)) = last_step
                        && (round, step) > (last_round, last)
                    {
                        let in_order = (round == last_round && step == last + 1)
                            || (round > last_round && step == 0);
                        prop_assert!(in_order, "step {step} round {round} after step {last} round {last_round}");
                    }
                    last_step = Some(last_step.map_or((round, step), |l| l.max((round, step))));
                }
            }
        }
    }
}
