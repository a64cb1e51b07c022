//! An integration's alert with a deadline (`endsAt`): it resolves itself when the deadline
//! passes without a re-send, a re-send moves the deadline, an acknowledgement does not stop
//! it, and a resolution does.

use super::*;
use crate::alert::{IntegrationKind, Origin};

fn monitored(ends_at: &str) -> Alert {
    Alert {
        origin: Some(Box::new(Origin {
            integration: "prometheus".into(),
            kind: IntegrationKind::AlertmanagerApiV2,
            link: "http://prometheus.example:9090/graph".into(),
            ends_at: Some(minutes(ends_at)),
        })),
        ..alert()
    }
}

fn resolved_by(escalation: &Escalation) -> Option<Responder> {
    match escalation.status() {
        Status::Resolved { by, .. } => Some(by.clone()),
        _ => None,
    }
}

#[test]
fn an_alert_not_sent_again_before_its_deadline_resolves_itself() {
    let policy = policy(0, None);
    let mut escalation = Escalation::route(monitored("4m"), &policy, minutes("0m"));
    // The deadline comes before the first step's timeout (5 min).
    assert_eq!(escalation.poll_timeout(), Some(minutes("4m")));
    escalation.handle_timeout(&policy.directory, minutes("4m"));
    assert_eq!(
        resolved_by(&escalation),
        Some(Responder {
            actor: "prometheus".into(),
            channel: EXPIRED_CHANNEL.into()
        })
    );
    assert_eq!(escalation.poll_timeout(), None);
    // The sender resolved it: its office's focal points are not told.
    while let Some(action) = escalation.poll_action() {
        let Action::Deliver(notification) = action;
        assert!(
            !matches!(notification.purpose, Purpose::Informed { .. }),
            "{notification:?}"
        );
    }
}

#[test]
fn a_re_send_moves_the_deadline_and_notifies_nothing_again() {
    let policy = policy(0, None);
    let mut escalation = Escalation::route(monitored("4m"), &policy, minutes("0m"));
    let sent = std::iter::from_fn(|| escalation.poll_action()).count();
    assert!(sent > 0);
    escalation.handle_trigger(monitored("6m"), &policy, minutes("2m"));
    escalation.handle_trigger(monitored("8m"), &policy, minutes("3m"));
    assert_eq!(std::iter::from_fn(|| escalation.poll_action()).count(), 0);
    assert_eq!(escalation.occurrences(), 3);
    // The repeats are one timeline entry that counts them.
    let repeats: Vec<_> = escalation
        .timeline()
        .iter()
        .filter(|entry| matches!(entry.event, Event::Repeated { .. }))
        .collect();
    assert_eq!(repeats.len(), 1);
    assert_eq!(repeats[0].event, Event::Repeated { occurrences: 3 });
    assert_eq!(repeats[0].at, minutes("3m"));
    escalation.handle_timeout(&policy.directory, minutes("4m"));
    assert_eq!(resolved_by(&escalation), None, "the old deadline is gone");
    // Step 2 fires at 5 min as usual, then the new deadline resolves it.
    escalation.handle_timeout(&policy.directory, minutes("5m"));
    assert_eq!(escalation.state.step, 1);
    escalation.handle_timeout(&policy.directory, minutes("8m"));
    assert!(resolved_by(&escalation).is_some());
}

#[test]
fn an_acknowledged_alert_still_resolves_at_its_deadline_and_a_resolved_one_stops_it() {
    let policy = policy(0, Some(60 * MINUTE));
    let officer = Responder {
        actor: "maria.santos".into(),
        channel: "console".into(),
    };
    let mut escalation = Escalation::route(monitored("10m"), &policy, minutes("0m"));
    escalation.handle_ack(officer.clone(), None, &policy.directory, minutes("1m"));
    assert_eq!(escalation.poll_timeout(), Some(minutes("10m")));
    escalation.handle_timeout(&policy.directory, minutes("10m"));
    assert_eq!(resolved_by(&escalation).unwrap().channel, EXPIRED_CHANNEL);

    let mut escalation = Escalation::route(monitored("10m"), &policy, minutes("0m"));
    escalation.handle_resolve(officer, None, &policy.directory, minutes("2m"));
    assert_eq!(escalation.poll_timeout(), None);
    // Sent again after the resolution: a new incident, with its own deadline.
    escalation.handle_trigger(monitored("20m"), &policy, minutes("12m"));
    assert_eq!(escalation.incident(), 2);
    assert_eq!(
        escalation.state.timers.get(Timer::Expiry),
        Some(minutes("20m"))
    );
}
