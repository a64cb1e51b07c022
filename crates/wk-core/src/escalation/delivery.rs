//! What a delivery's outcome does to the escalation: a parked console fails over at once and
//! its own notification keeps waiting; a notification finally given up is itself notified, so
//! that a human learns who could not be reached.

use super::{
    DeliveryState, Escalation, Event, Failover, Outcome, Purpose, Recipient, Status, TargetRef,
    Undeliverable, ids,
};
use crate::policy::Directory;
use crate::time::Timestamp;

impl Escalation {
    /// Records an outcome of notification `id`. A console webhook that is parked or given up
    /// while the incident is triggered fails over to the console's alternative at once (step
    /// notifications and the exhaustion notice); a notification finally given up is notified
    /// to the chain's next reachable targets (or, when none remain, to every console mailbox
    /// and the operators), unless it was itself such a notice.
    pub fn handle_delivery(
        &mut self,
        id: &str,
        outcome: Outcome,
        directory: &Directory,
        now: Timestamp,
    ) {
        let Some(record) = self
            .state
            .deliveries
            .iter_mut()
            .find(|record| &*record.notification.id == id && record.state.is_open())
        else {
            return;
        };
        let notification = record.notification.clone();
        let was_parked = matches!(record.state, DeliveryState::Parked { .. });
        match outcome {
            Outcome::Delivered => {
                record.state = DeliveryState::Delivered;
                self.log(
                    now,
                    Event::Delivered {
                        id: notification.id,
                    },
                );
            }
            Outcome::AttemptFailed { attempt, reason } => {
                self.log(
                    now,
                    Event::AttemptFailed {
                        id: notification.id,
                        attempt,
                        reason: reason.into(),
                    },
                );
            }
            Outcome::Parked { reason } => {
                if was_parked {
                    return;
                }
                record.state = DeliveryState::Parked { since: now };
                self.log(
                    now,
                    Event::Parked {
                        id: notification.id.clone(),
                        reason: reason.as_str().into(),
                    },
                );
                self.fail_over(
                    &notification.recipient,
                    &notification.purpose,
                    reason,
                    directory,
                    now,
                );
            }
            Outcome::GivenUp { reason } => {
                record.state = DeliveryState::Failed;
                self.log(
                    now,
                    Event::GivenUp {
                        id: notification.id.clone(),
                        reason: reason.as_str().into(),
                    },
                );
                // A parked one failed over when it was parked; a failover, when there is
                // one, is how the other console learns, so only a notification with none is
                // notified as undeliverable.
                let failed_over = if was_parked {
                    self.has_failover(&notification)
                } else {
                    self.fail_over(
                        &notification.recipient,
                        &notification.purpose,
                        reason.clone(),
                        directory,
                        now,
                    )
                };
                if !failed_over {
                    self.notify_undeliverable(&notification, reason, directory, now);
                }
            }
        }
    }

    /// Whether `notification` was failed over (a failover notification was issued for it).
    fn has_failover(&self, notification: &super::Notification) -> bool {
        let prefix = ids::failover(
            self.state.alert.id,
            self.state.incident,
            self.state.round,
            &notification.purpose,
        );
        prefix.is_some_and(|prefix| {
            self.state
                .deliveries
                .iter()
                .any(|record| record.notification.id.starts_with(&prefix))
        })
    }

    /// The failover of a step notification or the exhaustion notice to `from`'s failover
    /// console, while the incident is triggered; nothing else fails over, so failovers cannot
    /// loop. Returns whether it failed over.
    fn fail_over(
        &mut self,
        recipient: &Recipient,
        purpose: &Purpose,
        reason: String,
        directory: &Directory,
        now: Timestamp,
    ) -> bool {
        let Recipient::Webhook { console: from } = recipient else {
            return false;
        };
        // Held back by a silence: no failover either (the silence says nobody is paged).
        if self.state.status != Status::Triggered || self.is_held() {
            return false;
        }
        let Some(prefix) = ids::failover(
            self.state.alert.id,
            self.state.incident,
            self.state.round,
            purpose,
        ) else {
            return false;
        };
        let purpose = match purpose {
            Purpose::Step { step, round } | Purpose::AfterSilence { step, round, .. } => {
                Purpose::Failover {
                    from: from.clone(),
                    step: *step,
                    round: *round,
                }
            }
            _ => Purpose::ExhaustedFailover { from: from.clone() },
        };
        let Some(to) = directory
            .consoles
            .get(from)
            .and_then(|console| console.failover.clone())
            .filter(|to| to != from)
        else {
            return false;
        };
        self.log(
            now,
            Event::FailedOver(Box::new(Failover {
                from: from.as_str().into(),
                to: to.as_str().into(),
                reason: reason.into(),
            })),
        );
        let recipients = self.reach(&[TargetRef::Console(to)], directory, now);
        for recipient in recipients {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
        true
    }

    /// Tells a human that `failed` could not be delivered: the first later step of the chain
    /// (then its exhaustion targets) with a recipient not itself unreachable; when none
    /// remains, every console's mailboxes and the operators.
    fn notify_undeliverable(
        &mut self,
        failed: &super::Notification,
        reason: String,
        directory: &Directory,
        now: Timestamp,
    ) {
        // Once acknowledged or resolved a human has the alert; notices are never noticed
        // again, so they cannot loop.
        if matches!(failed.purpose, Purpose::Undeliverable(_))
            || self.state.status != Status::Triggered
        {
            return;
        }
        let recipients =
            self.undeliverable_recipients(&failed.recipient, &failed.purpose, directory, now);
        if recipients.is_empty() {
            self.log(
                now,
                Event::NobodyToNotify {
                    target: "undeliverable notice".to_owned(),
                },
            );
            return;
        }
        let prefix = ids::undeliverable(&failed.id);
        let purpose = Purpose::Undeliverable(Box::new(Undeliverable {
            failed_id: failed.id.to_string(),
            failed: failed.recipient.clone(),
            reason,
        }));
        for recipient in recipients {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
    }

    fn undeliverable_recipients(
        &self,
        failed: &Recipient,
        purpose: &Purpose,
        directory: &Directory,
        now: Timestamp,
    ) -> Vec<Recipient> {
        // A recipient is unreachable when it is the one that failed, or any of its
        // notifications of this incident is parked or failed.
        let reachable = |recipient: &Recipient| {
            recipient != failed
                && !self.state.deliveries.iter().any(|record| {
                    record.notification.recipient == *recipient
                        && matches!(
                            record.state,
                            DeliveryState::Failed | DeliveryState::Parked { .. }
                        )
                })
        };
        let after = match purpose {
            Purpose::Step { step, .. }
            | Purpose::AfterSilence { step, .. }
            | Purpose::Failover { step, .. }
            | Purpose::Updated { step, .. } => Some(*step + 1),
            _ => None,
        };
        let mut candidates: Vec<&[TargetRef]> = Vec::new();
        if let Some(after) = after {
            for step in self.state.chain.steps.iter().skip(after) {
                candidates.push(&step.targets);
            }
            candidates.push(&self.state.chain.on_exhausted);
        }
        for targets in candidates {
            let (recipients, _) = self.recipients_of(targets, directory, now);
            let recipients: Vec<Recipient> = recipients.into_iter().filter(reachable).collect();
            if !recipients.is_empty() {
                return recipients;
            }
        }
        // Nothing left in the chain: every console's mailboxes and the operators.
        let mut everyone: Vec<Recipient> = Vec::new();
        let addresses = directory
            .consoles
            .values()
            .flat_map(|console| console.emails.iter())
            .chain(directory.operators.iter());
        for address in addresses {
            let recipient = Recipient::Email {
                address: address.clone(),
            };
            if recipient != *failed && !everyone.contains(&recipient) {
                everyone.push(recipient);
            }
        }
        everyone
    }
}
