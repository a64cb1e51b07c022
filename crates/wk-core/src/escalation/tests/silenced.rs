//! Silences on the escalation, with time passed in: silenced at trigger, silenced mid-chain,
//! a silence ending (or expired early) while triggered, acknowledged or resolved, the classes
//! never silenced, and a property: nothing is paged while a silence holds an alert.

use proptest::prelude::*;

use super::*;
use crate::silence::{Expiry, Matcher as SilenceMatcher, Silence, SilenceBook};

fn juba_silence(id: &str, from: Timestamp, until: Timestamp) -> Silence {
    Silence {
        id: id.into(),
        matchers: vec![SilenceMatcher::parse(r#"office="ng-maiduguri""#).unwrap()],
        starts_at: from,
        ends_at: until,
        created_by: "maria.santos".into(),
        created_at: from,
        comment: "generator test".into(),
        expired: None,
        window: None,
    }
}

fn kind(purpose: &Purpose) -> &'static str {
    match purpose {
        Purpose::Step { .. } => "step",
        Purpose::AfterSilence { .. } => "after-silence",
        Purpose::Failover { .. } => "failover",
        Purpose::Updated { .. } => "update",
        Purpose::Informed { .. } => "informed",
        _ => "other",
    }
}

/// Runs `script`: `Nm silence ID until Mm`, `Nm expire ID`, `Nm open`, `Nm judge` (the
/// dispatcher re-judging at a silence's start or end), `Nm timeout`, `Nm ack`, `Nm resolve`,
/// `Nm worse`, `Nm parked SUFFIX`. Lines: what was sent, the silence events, the next timeout.
fn trace_with(alert: Alert, script: &str) -> Vec<String> {
    let policy = policy(0, Some(30 * MINUTE));
    let mut book = SilenceBook::default();
    let mut escalation: Option<Escalation> = None;
    let mut lines = Vec::new();
    let mut seen = 0;
    let by = Responder {
        actor: "jose.reyes".into(),
        channel: "console".into(),
    };
    for command in script
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
    {
        lines.push(command.to_owned());
        let words: Vec<&str> = command.split_whitespace().collect();
        let now = minutes(words[0]);
        match (words[1], escalation.as_mut()) {
            ("silence", _) => book.insert(juba_silence(words[2], now, minutes(words[4]))),
            ("expire", _) => {
                let mut silence = book.get(words[2]).unwrap().clone();
                silence.ends_at = now;
                silence.expired = Some(Expiry {
                    by: "jose.reyes".into(),
                    at: now,
                });
                book.insert(silence);
            }
            ("open", None) => {
                escalation = Some(Escalation::route_under(alert.clone(), &policy, &book, now));
            }
            ("judge", _) => {}
            ("timeout", Some(e)) => e.handle_timeout(&policy.directory, now),
            ("ack", Some(e)) => drop(e.handle_ack(by.clone(), None, &policy.directory, now)),
            ("resolve", Some(e)) => {
                e.handle_resolve(by.clone(), None, &policy.directory, now);
            }
            ("worse", Some(e)) => {
                let worse = Alert {
                    severity: Severity::Emergency,
                    title: "Shots fired".into(),
                    ..alert.clone()
                };
                e.handle_trigger_under(worse, &policy, &book, now);
            }
            ("parked", Some(e)) => {
                let id = e
                    .deliveries()
                    .iter()
                    .map(|record| record.notification.id.clone())
                    .find(|id| short(id, &alert).ends_with(words[2]))
                    .unwrap();
                let outcome = Outcome::Parked {
                    reason: "circuit open".into(),
                };
                e.handle_delivery(&id, outcome, &policy.directory, now);
            }
            (other, _) => panic!("unknown command {other}"),
        }
        let Some(e) = escalation.as_mut() else {
            continue;
        };
        // The dispatcher judges every held escalation again whenever the book changes or a
        // silence starts or ends; doing it after every command is the same, and stricter.
        let effect = e.handle_silences(&book, &policy.directory, now);
        if effect != SilenceEffect::Unchanged {
            lines.push(format!("  {effect:?}"));
        }
        while let Some(Action::Deliver(notification)) = e.poll_action() {
            lines.push(format!(
                "  send {} {}",
                kind(&notification.purpose),
                short(&notification.id, &alert)
            ));
        }
        for entry in &e.timeline()[seen..] {
            match &entry.event {
                Event::Silenced(held) => {
                    lines.push(format!(
                        "  silenced by {} until {}",
                        held.silence,
                        show_time(held.until)
                    ));
                }
                Event::SilenceEnded {
                    silence,
                    expired_by,
                    restarted,
                } => lines.push(format!(
                    "  {silence} ended{} restarted={restarted}",
                    expired_by
                        .as_ref()
                        .map(|by| format!(" (expired by {by})"))
                        .unwrap_or_default()
                )),
                Event::NotSilenced { silence, exemption } => {
                    lines.push(format!(
                        "  not silenced by {silence}: {}",
                        exemption.reason()
                    ));
                }
                _ => {}
            }
        }
        seen = e.timeline().len();
        if let Some(at) = e.poll_timeout() {
            lines.push(format!("  next {}", show_time(at)));
        }
    }
    lines
}

fn trace(script: &str) -> Vec<String> {
    trace_with(alert(), script)
}

#[test]
fn silenced_at_trigger_nothing_is_sent_until_the_silence_ends_then_step_one_fires() {
    assert_eq!(
        trace("0m silence s1 until 60m\n1m open\n20m timeout\n60m judge\n65m timeout"),
        [
            "0m silence s1 until 60m",
            "1m open",
            "  silenced by s1 until 60m",
            "20m timeout",
            "60m judge",
            "  Released",
            "  send after-silence A.i1.r0.s0.webhook-manila",
            "  send after-silence A.i1.r0.s0.mail-duty.manila",
            "  s1 ended restarted=true",
            "  next 65m",
            "65m timeout",
            "  send step A.i1.r0.s1.mail-maria",
            "  send step A.i1.r0.s1.mail-amadou",
            "  next 75m",
        ]
    );
}

#[test]
fn silenced_mid_chain_it_stops_escalating_and_an_early_expiry_restarts_it_in_a_new_round() {
    assert_eq!(
        trace("0m open\n2m silence s1 until 60m\n5m timeout\n10m expire s1"),
        [
            "0m open",
            "  send step A.i1.r0.s0.webhook-manila",
            "  send step A.i1.r0.s0.mail-duty.manila",
            "  next 5m",
            "2m silence s1 until 60m",
            "  Held",
            "  silenced by s1 until 60m",
            "5m timeout",
            "10m expire s1",
            "  Released",
            "  send after-silence A.i1.r1.s0.webhook-manila",
            "  send after-silence A.i1.r1.s0.mail-duty.manila",
            "  s1 ended (expired by jose.reyes) restarted=true",
            "  next 15m",
        ]
    );
}

#[test]
fn a_silence_that_ends_while_acknowledged_or_resolved_sends_nothing() {
    assert_eq!(
        trace("0m silence s1 until 20m\n1m open\n2m ack\n20m judge"),
        [
            "0m silence s1 until 20m",
            "1m open",
            "  silenced by s1 until 20m",
            "2m ack",
            "  next 32m",
            "20m judge",
            "  Released",
            "  s1 ended restarted=false",
            "  next 32m",
        ]
    );
    assert_eq!(
        trace("0m silence s1 until 20m\n1m open\n5m resolve\n20m judge"),
        [
            "0m silence s1 until 20m",
            "1m open",
            "  silenced by s1 until 20m",
            "5m resolve",
            "20m judge",
        ]
    );
}

#[test]
fn an_acknowledgement_that_times_out_while_silenced_waits_for_the_silence() {
    assert_eq!(
        trace("0m silence s1 until 60m\n1m open\n2m ack\n32m timeout\n60m judge"),
        [
            "0m silence s1 until 60m",
            "1m open",
            "  silenced by s1 until 60m",
            "2m ack",
            "  next 32m",
            "32m timeout",
            "60m judge",
            "  Released",
            "  send after-silence A.i1.r1.s0.webhook-manila",
            "  send after-silence A.i1.r1.s0.mail-duty.manila",
            "  s1 ended restarted=true",
            "  next 65m",
        ]
    );
}

#[test]
fn while_silenced_an_update_is_not_notified_and_no_failover_is_sent() {
    let lines = trace("0m open\n1m silence s1 until 60m\n2m parked webhook-manila");
    assert!(
        !lines.iter().any(|line| line.contains("failover")),
        "{lines:#?}"
    );
    // Worsened to an emergency: never silenced, so it is notified at once, from step one.
    assert_eq!(
        trace("0m silence s1 until 60m\n1m open\n3m worse"),
        [
            "0m silence s1 until 60m",
            "1m open",
            "  silenced by s1 until 60m",
            "3m worse",
            "  send after-silence A.i1.r0.s0.webhook-manila",
            "  send after-silence A.i1.r0.s0.mail-duty.manila",
            "  not silenced by s1: emergency alerts are never silenced",
            "  s1 ended restarted=true",
            "  next 8m",
        ]
    );
}

#[test]
fn emergencies_abductions_and_silent_offices_are_never_silenced() {
    for (severity, category) in [
        (Severity::Emergency, Category::CivilUnrest),
        (Severity::Warning, Category::Abduction),
        (Severity::Critical, Category::OfficeSilent),
    ] {
        let alert = Alert {
            severity,
            category,
            ..alert()
        };
        let lines = trace_with(alert, "0m silence s1 until 60m\n1m open");
        assert_eq!(
            lines[2], "  send step A.i1.r0.s0.webhook-manila",
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.starts_with("  not silenced by s1")),
            "{lines:#?}"
        );
    }
}

#[derive(Clone, Debug)]
enum Input {
    Silence(u8),
    Expire,
    Judge,
    Timeout,
    Ack,
    Resolve,
    Worse,
}

fn input() -> impl Strategy<Value = (i64, Input)> {
    (
        0..40i64,
        prop_oneof![
            (1..60u8).prop_map(Input::Silence),
            Just(Input::Expire),
            Just(Input::Judge),
            Just(Input::Timeout),
            Just(Input::Ack),
            Just(Input::Resolve),
            Just(Input::Worse),
        ],
    )
}

proptest! {
    /// Whatever happens, nothing is paged while a silence holds the alert, and an alert of a
    /// class never silenced is never held.
    #[test]
    fn nothing_is_paged_while_held(inputs in proptest::collection::vec(input(), 1..30)) {
        let policy = policy(1, Some(10 * MINUTE));
        let mut book = SilenceBook::default();
        let mut now = minutes("0m");
        let mut escalation = Escalation::route_under(alert(), &policy, &book, now);
        let by = Responder { actor: "jose".into(), channel: "console".into() };
        let mut silences = 0;
        let paged = |escalation: &mut Escalation| {
            std::iter::from_fn(|| escalation.poll_action())
                .map(|Action::Deliver(notification)| notification)
                .filter(|notification| matches!(
                    notification.purpose,
                    Purpose::Step { .. } | Purpose::Failover { .. } | Purpose::Updated { .. }
                        | Purpose::AfterSilence { .. } | Purpose::Exhausted
                ))
                .count()
        };
        paged(&mut escalation);
        for (advance, input) in inputs {
            now = now.saturating_add_millis(advance * MINUTE);
            let held_before = escalation.is_held();
            let worse = matches!(input, Input::Worse);
            match input {
                Input::Silence(length) => {
                    silences += 1;
                    let until = now.saturating_add_millis(i64::from(length) * MINUTE);
                    book.insert(juba_silence(&format!("s{silences}"), now, until));
                }
                Input::Expire => {
                    if let Some(mut silence) = book.iter().last().cloned() {
                        silence.ends_at = silence.ends_at.min(now);
                        book.insert(silence);
                    }
                }
                Input::Judge => {}
                Input::Timeout => escalation.handle_timeout(&policy.directory, now),
                Input::Ack => drop(escalation.handle_ack(by.clone(), None, &policy.directory, now)),
                Input::Resolve => {
                    escalation.handle_resolve(by.clone(), None, &policy.directory, now);
                }
                Input::Worse => {
                    let worse = Alert { severity: Severity::Emergency, ..alert() };
                    escalation.handle_trigger_under(worse, &policy, &book, now);
                }
            }
            // An input to a held alert pages nobody (unless it makes it an emergency).
            let during = paged(&mut escalation);
            prop_assert!(!(held_before && !worse && during > 0), "paged while held");
            escalation.handle_silences(&book, &policy.directory, now);
            let held = escalation.is_held();
            prop_assert!(!(held && paged(&mut escalation) > 0), "paged on being held");
            if held {
                prop_assert!(crate::silence::exemption(escalation.alert()).is_none());
                prop_assert!(escalation.poll_timeout().is_none_or(|_| {
                    !matches!(escalation.status(), Status::Triggered)
                }), "a triggered alert held by a silence has no step timer");
            }
        }
    }
}
