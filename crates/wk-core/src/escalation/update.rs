//! A trigger for an alert that already has an incident: a new incident after resolution; a
//! plain repeat folded in; a repeat that worsens or rewords the alert (severity raised, title
//! or description changed) is an update: kept in the timeline with both versions, routed again,
//! and notified at once to the current step's targets under new ids.

use super::{Escalation, Event, Purpose, Status, Timer, Version};
use crate::alert::Alert;
use crate::policy::Policy;
use crate::time::Timestamp;

fn version(alert: &Alert) -> Version {
    Version {
        severity: alert.severity,
        title: alert.title.clone(),
        description: alert.description.clone(),
    }
}

/// What changed from `previous` to `current`, in words, or `None` for a plain repeat. A lower
/// severity alone is a repeat: an open alert never becomes less severe by a re-send.
fn changes(previous: &Version, current: &Version) -> Option<String> {
    let mut changes = Vec::new();
    if current.severity > previous.severity {
        changes.push(format!(
            "severity {} → {}",
            previous.severity.as_str(),
            current.severity.as_str()
        ));
    }
    if current.title != previous.title {
        changes.push("title".to_owned());
    }
    if current.description != previous.description {
        changes.push("description".to_owned());
    }
    (!changes.is_empty()).then(|| changes.join(", "))
}

impl Escalation {
    /// A trigger for this alert: after resolution, a new incident routed afresh with `policy`;
    /// otherwise a repeat folded into the open incident, or, when it raises the severity or
    /// changes the title or description, an update of it.
    pub fn handle_trigger(&mut self, alert: Alert, policy: &Policy, now: Timestamp) {
        if let Status::Resolved { .. } = self.status {
            let (route, chain) = policy.route(&alert);
            let (route, chain) = (route.to_owned(), chain.clone());
            *self = Escalation::new(
                alert,
                self.incident + 1,
                &route,
                chain,
                &policy.directory,
                now,
            );
            return;
        }
        self.occurrences = self.occurrences.saturating_add(1);
        self.last_seen = self.last_seen.max(now);
        let previous = version(&self.alert);
        let mut current = version(&alert);
        current.severity = current.severity.max(previous.severity);
        let Some(changed) = changes(&previous, &current) else {
            self.log(
                now,
                Event::Repeated {
                    occurrences: self.occurrences,
                },
            );
            return;
        };
        self.revision += 1;
        self.alert.severity = current.severity;
        self.alert.title = current.title.clone();
        self.alert.description = current.description.clone();
        self.log(
            now,
            Event::Updated {
                revision: self.revision,
                previous,
                current,
            },
        );
        self.reroute(policy, now);
        let Some(step) = self.chain.steps.get(self.step) else {
            return;
        };
        let targets = step.targets.clone();
        let prefix = super::ids::update(
            self.alert.id,
            self.incident,
            self.revision,
            self.round,
            self.step,
        );
        let purpose = Purpose::Updated {
            revision: self.revision,
            step: self.step,
            round: self.round,
            changes: changed,
        };
        for recipient in self.resolve(&targets, &policy.directory, now) {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
    }

    /// Routes the updated alert again; on another chain it starts that chain's first step in a
    /// new round (a triggered incident re-arms the step timer; an acknowledged one keeps its
    /// acknowledgement and uses the new chain if it returns to triggered).
    fn reroute(&mut self, policy: &Policy, now: Timestamp) {
        let (route, chain) = policy.route(&self.alert);
        if chain.id == self.chain.id {
            return;
        }
        self.route = route.to_owned();
        self.chain = chain.clone();
        self.log(
            now,
            Event::Rerouted {
                route: self.route.clone(),
                chain: self.chain.id.clone(),
            },
        );
        self.round += 1;
        self.step = 0;
        self.passes_left = self.chain.repeat;
        self.exhausted = false;
        if self.status == Status::Triggered
            && let Some(timeout_ms) = self.chain.steps.first().map(|step| step.timeout_ms)
        {
            self.log(
                now,
                Event::StepFired {
                    step: 0,
                    round: self.round,
                },
            );
            self.timers
                .set(Timer::Step, now.saturating_add_millis(timeout_ms.max(1)));
        }
    }
}
