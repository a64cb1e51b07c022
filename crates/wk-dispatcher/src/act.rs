//! Acting on a change: the escalation's decided notifications go to the notifier, its timer
//! is re-armed, and its new timeline entries are counted in metrics.

use std::time::Duration;

use tracing::info_span;
use wk_core::escalation::{Action, Escalation, Event as TimelineEvent};

use crate::dispatcher::Dispatcher;
use crate::executor::Job;
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::metrics;
use crate::pipeline::Key;

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// Sends the escalation's decided notifications and re-arms its timer. Call once the
    /// change that decided them is marked for the changelog.
    pub(crate) fn act(&mut self, key: Key) {
        let (partition, id) = key;
        let Some(tracked) = self.store.get_mut(key) else {
            return;
        };
        let escalation = &mut tracked.machine;
        count_new_events(escalation, &mut tracked.counted);
        while let Some(Action::Deliver(notification)) = escalation.poll_action() {
            let notification_id = notification.id.clone();
            let span = info_span!(
                "deliver",
                alert_id = %id,
                notification = %notification.id,
                purpose = ?notification.purpose,
            );
            self.notifier.spawn(Job {
                partition,
                span,
                notification,
                alert: escalation.alert().clone(),
                incident: escalation.incident(),
                first_seen: escalation.first_seen(),
                occurrences: escalation.occurrences(),
                parked_since: escalation.parked_since(&notification_id),
            });
        }
        let due = escalation.poll_timeout();
        self.store.rearm(key, due);
    }
}

/// Records in metrics the timeline entries added since `counted` (restored escalations start
/// counted, so a restart does not count their history again).
fn count_new_events(escalation: &Escalation, counted: &mut usize) {
    let timeline = escalation.timeline();
    if *counted > timeline.len() {
        *counted = timeline.len();
        return;
    }
    for entry in &timeline[*counted..] {
        match &entry.event {
            TimelineEvent::StepFired { .. } => metrics::step_fired(),
            TimelineEvent::FailedOver { from, to, .. } => metrics::failover(from, to),
            TimelineEvent::Updated { .. } => metrics::updated(),
            TimelineEvent::ActionRefused { .. } => metrics::action_refused(),
            TimelineEvent::Acknowledged { .. } => {
                let elapsed = entry.at.as_unix_millis() - escalation.first_seen().as_unix_millis();
                metrics::time_to_acknowledge(Duration::from_millis(
                    u64::try_from(elapsed).unwrap_or(0),
                ));
            }
            _ => {}
        }
    }
    *counted = timeline.len();
}
