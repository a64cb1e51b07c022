//! A duty officer's actions on an escalation: acknowledge, resolve (refused and recorded
//! when issued for another incident), add a note; and telling the office's focal points who
//! acknowledged or resolved.

use super::{
    AckEffect, CHECK_IN_CHANNEL, Escalation, Event, Purpose, Recipient, Responder, Status, Timer,
    ids,
};
use crate::policy::Directory;
use crate::time::Timestamp;

impl Escalation {
    /// An acknowledgement by `by`. `issued_for` is the incident a link or console callback
    /// was issued for: an acknowledgement meant for another incident (a replayed callback, an
    /// old email) is refused and recorded as such; the gRPC API and the CLI pass `None` and act
    /// on the current incident.
    pub fn handle_ack(
        &mut self,
        by: Responder,
        issued_for: Option<u32>,
        directory: &Directory,
        now: Timestamp,
    ) -> AckEffect {
        let Some(by) = self.for_this_incident(by, issued_for, now) else {
            return AckEffect::WrongIncident {
                issued_for: issued_for.unwrap_or_default(),
            };
        };
        match &self.state.status {
            Status::Acknowledged { by: first, .. } => AckEffect::AlreadyAcknowledged(first.clone()),
            Status::Resolved { .. } => AckEffect::AlreadyResolved,
            Status::Triggered => {
                self.state.timers.stop(Timer::Step);
                if let Some(timeout) = self.state.chain.ack_timeout_ms {
                    self.state
                        .timers
                        .set(Timer::AckTimeout, now.saturating_add_millis(timeout));
                }
                self.state.status = Status::Acknowledged {
                    by: by.clone(),
                    at: now,
                };
                self.inform_office(false, &by, directory, now);
                self.log(now, Event::Acknowledged { by: Box::new(by) });
                AckEffect::Acknowledged
            }
        }
    }

    /// `by`, when an action issued for `issued_for` may act on this incident; otherwise the
    /// refusal is recorded and `None` returned.
    fn for_this_incident(
        &mut self,
        by: Responder,
        issued_for: Option<u32>,
        now: Timestamp,
    ) -> Option<Responder> {
        match issued_for {
            Some(incident) if incident != self.state.incident => {
                self.log(
                    now,
                    Event::ActionRefused {
                        by: Box::new(by),
                        incident,
                    },
                );
                None
            }
            _ => Some(by),
        }
    }

    /// Adds a duty officer's note to the timeline; it changes nothing else.
    pub fn handle_note(&mut self, by: Responder, text: String, now: Timestamp) {
        self.log(
            now,
            Event::Note {
                by: Box::new(by),
                text,
            },
        );
    }

    /// Resolves the incident; returns false if it already was, or if `issued_for` names
    /// another incident (refused and recorded, as for `handle_ack`).
    pub fn handle_resolve(
        &mut self,
        by: Responder,
        issued_for: Option<u32>,
        directory: &Directory,
        now: Timestamp,
    ) -> bool {
        let Some(by) = self.for_this_incident(by, issued_for, now) else {
            return false;
        };
        if let Status::Resolved { .. } = self.state.status {
            return false;
        }
        self.state.timers.stop(Timer::Step);
        self.state.timers.stop(Timer::AckTimeout);
        self.state.timers.stop(Timer::Expiry);
        self.state.status = Status::Resolved {
            by: by.clone(),
            at: now,
        };
        // An office that resolved its own silence by checking in knows already, and so does
        // the monitoring system that resolved its own alert.
        let by_its_sender = self
            .state
            .alert
            .origin
            .as_ref()
            .is_some_and(|origin| origin.integration == by.actor);
        if by.channel != CHECK_IN_CHANNEL && !by_its_sender {
            self.inform_office(true, &by, directory, now);
        }
        self.log(now, Event::Resolved { by: Box::new(by) });
        true
    }

    /// Tells the office's focal points that the operations centre acknowledged (or resolved)
    /// its alert: who and when, and the title only.
    fn inform_office(
        &mut self,
        resolved: bool,
        by: &Responder,
        directory: &Directory,
        now: Timestamp,
    ) {
        let Some(addresses) = directory.focal_points.get(&self.state.alert.office_id) else {
            return;
        };
        let prefix = ids::informed(self.state.alert.id, self.state.incident, resolved);
        let purpose = Purpose::Informed {
            resolved,
            by: by.actor.clone(),
            at: now,
        };
        for address in addresses.clone() {
            self.issue(&prefix, Recipient::Email { address }, purpose.clone(), now);
        }
    }
}
