//! Acting on a change: an escalation's decided notifications go to the notifier and its new
//! timeline entries are counted in metrics; a watch's publications go to the alerts topic
//! until the broker acknowledges them; the machine's timer is re-armed.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info_span, warn};
use wk_bus::codec::{OfficerAction, encode_action, encode_raised};
use wk_core::escalation::{Action, Escalation, Event as TimelineEvent};
use wk_core::machine::Machine as _;
use wk_core::watch::{Action as WatchAction, Owed, Publication};

use crate::dispatcher::{Dispatcher, Flow, RETRY};
use crate::executor::Job;
use crate::held::{Held, Subject};
use crate::io::{Changelog, Clock, Input, Notifier};
use crate::metrics;
use crate::pipeline::Key;

/// Something a machine decided to put on the alerts topic, owed until acknowledged: a
/// watch's silence alert (or its resolution), a headcount's call for help.
pub(crate) enum Publishing {
    Watch(Box<Owed>),
    Help {
        id: String,
        alert: Box<wk_core::Alert>,
    },
}

impl<I: Input, C: Changelog, N: Notifier, K: Clock> Dispatcher<I, C, N, K> {
    /// Carries out what the machine decided (an escalation's notifications, a watch's
    /// publications) and re-arms its timer. Call once the change that decided them is marked
    /// for the changelog.
    pub(crate) fn act(&mut self, key: Key) {
        let Some(tracked) = self.store.get_mut(&key) else {
            return;
        };
        let mut owed = Vec::new();
        match &mut tracked.machine {
            Held::Escalation(escalation) => {
                count_new_events(escalation, &mut tracked.counted);
                let Subject::Alert(id) = key.1 else { return };
                while let Some(Action::Deliver(notification)) = escalation.poll_action() {
                    let notification_id = notification.id.clone();
                    let span = info_span!(
                        "deliver",
                        alert_id = %id,
                        notification = %notification.id,
                        purpose = ?notification.purpose,
                    );
                    self.notifier.spawn(Job {
                        partition: key.0,
                        span,
                        notification,
                        alert: escalation.alert().clone(),
                        incident: escalation.incident(),
                        first_seen: escalation.first_seen(),
                        occurrences: escalation.occurrences(),
                        parked_since: escalation.parked_since(&notification_id),
                    });
                }
            }
            Held::Watch(watch) => {
                while let Some(WatchAction::Publish(publication)) = watch.poll_action() {
                    if let Publication::Raise { .. } = publication.publication {
                        metrics::silence_alert_raised();
                    }
                    owed.push(Publishing::Watch(Box::new(publication)));
                }
            }
            Held::Headcount(headcount) => {
                let Subject::Headcount(part) = &key.1 else {
                    return;
                };
                let (mails, helps) = crate::headcounts::actions(key.0, part, headcount);
                for mail in mails {
                    self.notifier.spawn_mail(mail);
                }
                owed.extend(helps);
            }
        }
        let due = tracked.machine.poll_timeout();
        self.store.rearm(&key, due);
        for publication in owed {
            self.publish(key.clone(), publication, false);
        }
    }

    /// Puts a decided publication (a watch's, a headcount's call for help) on the alerts topic (after the retry pause when
    /// `again`); its outcome comes back to `on_published`. The records of one publication
    /// share their key, so they stay in order.
    pub(crate) fn publish(&mut self, key: Key, owed: Publishing, again: bool) {
        let records = match &owed {
            Publishing::Help { alert, .. } => {
                vec![(
                    alert.id.to_string(),
                    encode_raised(alert, alert.occurred_at),
                )]
            }
            Publishing::Watch(watch) => match &watch.publication {
                Publication::Raise { alert, at } => {
                    vec![(alert.id.to_string(), encode_raised(alert, *at))]
                }
                Publication::Resolve {
                    alert_id,
                    note,
                    by,
                    at,
                } => vec![
                    (
                        alert_id.to_string(),
                        encode_action(*alert_id, &OfficerAction::Note(note.clone()), by, None, *at),
                    ),
                    (
                        alert_id.to_string(),
                        encode_action(*alert_id, &OfficerAction::Resolve, by, None, *at),
                    ),
                ],
            },
        };
        let changelog = Arc::clone(&self.changelog);
        self.published.push(Box::pin(async move {
            if again {
                tokio::time::sleep(RETRY).await;
            }
            let mut acknowledgements = Vec::with_capacity(records.len());
            for (record_key, payload) in &records {
                match changelog.publish(record_key, payload) {
                    Ok(acknowledgement) => acknowledgements.push(acknowledgement),
                    Err(_) => return (key, owed, false),
                }
            }
            let mut acknowledged = true;
            for acknowledgement in acknowledgements {
                acknowledged &= acknowledgement.await.is_ok();
            }
            (key, owed, acknowledged)
        }));
    }

    /// The broker answered a publication: the watch forgets it (and that change is written
    /// behind), or it is published again.
    pub(crate) fn on_published(&mut self, key: Key, owed: Publishing, acknowledged: bool) -> Flow {
        let machine = self.store.get_mut(&key).map(|tracked| &mut tracked.machine);
        let done = match (machine, &owed) {
            (Some(Held::Watch(watch)), Publishing::Watch(publication)) => {
                acknowledged && {
                    watch.handle_published(publication.seq);
                    true
                }
            }
            (Some(Held::Headcount(headcount)), Publishing::Help { id, .. }) => {
                acknowledged && {
                    headcount.handle_done(id);
                    true
                }
            }
            // Revoked meanwhile: its next owner decides it again from the changelog.
            _ => return Flow::Continue,
        };
        if done {
            self.pipeline.changed(key, None);
        } else {
            metrics::produce_error();
            warn!(key = %key.1, "publication not acknowledged; publishing it again");
            self.publish(key, owed, true);
        }
        Flow::Continue
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
            TimelineEvent::FailedOver(failover) => metrics::failover(&failover.from, &failover.to),
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
