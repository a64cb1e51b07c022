//! A trigger for an alert that already has an incident: a new incident after resolution; a
//! plain repeat folded in; a repeat that worsens or rewords the alert (severity raised, title
//! or description changed) is an update: kept in the timeline with both versions, routed again,
//! and notified at once to the current step's targets under new ids.

use super::{Escalation, Event, Purpose, SilenceEffect, Status, Timer, Version};
use crate::alert::Alert;
use crate::policy::Policy;
use crate::silence::SilenceBook;
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
    /// changes the title or description, an update of it. No silence is known.
    pub fn handle_trigger(&mut self, alert: Alert, policy: &Policy, now: Timestamp) {
        self.handle_trigger_under(alert, policy, &SilenceBook::default(), now);
    }

    /// As `handle_trigger`, under `silences`: a new incident starts silenced when one
    /// matches; an update is not notified while silenced, and is judged again (an update to
    /// emergency is never silenced).
    pub fn handle_trigger_under(
        &mut self,
        alert: Alert,
        policy: &Policy,
        silences: &SilenceBook,
        now: Timestamp,
    ) {
        if let Status::Resolved { .. } = self.state.status {
            *self = Escalation::open_incident(
                alert,
                self.state.incident.saturating_add(1),
                policy,
                silences,
                now,
            );
            return;
        }
        self.state.occurrences = self.state.occurrences.saturating_add(1);
        self.state.last_seen = self.state.last_seen.max(now);
        // A re-send from a monitoring system extends its `endsAt` (and may move its link).
        if alert.origin.is_some() {
            self.state.alert.origin = alert.origin.clone();
            self.arm_expiry();
        }
        let previous = version(&self.state.alert);
        let mut current = version(&alert);
        current.severity = current.severity.max(previous.severity);
        let Some(changed) = changes(&previous, &current) else {
            let repeated = Event::Repeated {
                occurrences: self.state.occurrences,
            };
            // A run of plain repeats is one entry, counting them: Prometheus sends a firing
            // alert again every minute, and a week of that is not 10,000 timeline lines.
            match self.state.timeline.last_mut() {
                Some(last) if matches!(last.event, Event::Repeated { .. }) => {
                    last.at = now;
                    last.event = repeated;
                }
                _ => self.log(now, repeated),
            }
            return;
        };
        self.state.revision += 1;
        self.state.alert.severity = current.severity;
        self.state.alert.title = current.title.clone();
        self.state.alert.description = current.description.clone();
        self.log(
            now,
            Event::Updated {
                revision: self.state.revision,
                previous: Box::new(previous),
                current: Box::new(current),
            },
        );
        self.reroute(policy, now);
        if let SilenceEffect::Released = self.handle_silences(silences, &policy.directory, now) {
            // Released by the update (now an emergency): its step fired afresh just now.
            return;
        }
        if self.is_held() {
            return;
        }
        let Some(step) = self.state.chain.steps.get(self.state.step) else {
            return;
        };
        let targets = step.targets.clone();
        let prefix = super::ids::update(
            self.state.alert.id,
            self.state.incident,
            self.state.revision,
            self.state.round,
            self.state.step,
        );
        let purpose = Purpose::Updated {
            revision: self.state.revision,
            step: self.state.step,
            round: self.state.round,
            changes: changed,
        };
        for recipient in self.reach(&targets, &policy.directory, now) {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
    }

    /// Routes the updated alert again; on another chain it starts that chain's first step in a
    /// new round (a triggered incident re-arms the step timer; an acknowledged one keeps its
    /// acknowledgement and uses the new chain if it returns to triggered).
    fn reroute(&mut self, policy: &Policy, now: Timestamp) {
        let (route, chain) = policy.route(&self.state.alert);
        if chain.id == self.state.chain.id {
            return;
        }
        self.state.route = route.to_owned();
        self.state.chain = chain.clone();
        self.log(
            now,
            Event::Rerouted {
                route: self.state.route.as_str().into(),
                chain: self.state.chain.id.as_str().into(),
            },
        );
        self.state.round += 1;
        self.state.step = 0;
        self.state.passes_left = self.state.chain.repeat;
        self.state.exhausted = false;
        if self.state.status == Status::Triggered
            && !self.is_held()
            && let Some(timeout_ms) = self.state.chain.steps.first().map(|step| step.timeout_ms)
        {
            self.log(
                now,
                Event::StepFired {
                    step: 0,
                    round: self.state.round,
                },
            );
            self.state
                .timers
                .set(Timer::Step, now.saturating_add_millis(timeout_ms.max(1)));
        }
    }
}
