//! The escalation state machine of one alert, sans I/O, with time passed in (the shape of
//! `quinn_proto::Connection`): `handle_*` feed it facts, `poll_action` drains the notifications
//! it decides to send, `poll_timeout` says when it next needs `handle_timeout`.
//!
//! Semantics, after PagerDuty: an alert keeps the chain it started with; a repeat of an open
//! alert folds into it without restarting notifications; an acknowledgement stops every further
//! step; an acknowledged alert not resolved within the chain's `ack_timeout` returns to
//! triggered and escalation resumes from the first step in a new round; a trigger after
//! resolution opens a new incident. Beyond PagerDuty: when a console's webhook is given up (retry
//! budget spent or circuit open), the console's failover (Manila → Panama) is notified at once,
//! without waiting for the step's timeout, and the timeline says why.

mod queue;
mod timer;

use std::collections::VecDeque;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use self::queue::TimerQueue;
pub use self::timer::{Timer, TimerTable};
use crate::alert::Alert;
use crate::policy::{Chain, Directory, Policy, TargetRef};
use crate::time::Timestamp;

/// Who acted, and through which channel (api, email-link, console-callback, cli).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Responder {
    pub actor: String,
    pub channel: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Triggered,
    Acknowledged { by: Responder, at: Timestamp },
    Resolved { by: Responder, at: Timestamp },
}

/// Where one notification goes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Recipient {
    Webhook { console: String },
    Email { address: String },
}

impl Recipient {
    /// A stable key for ids and logs; an address appears only as a hash prefix.
    pub fn key(&self) -> String {
        match self {
            Recipient::Webhook { console } => format!("webhook-{console}"),
            Recipient::Email { address } => {
                let digest = Sha256::digest(address.to_ascii_lowercase().as_bytes());
                format!("email-{}", hex::encode(&digest[..6]))
            }
        }
    }
}

/// Why a notification is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    Step {
        step: usize,
        round: u32,
    },
    Failover {
        from: String,
        step: usize,
        round: u32,
    },
    Exhausted,
}

/// One notification to one recipient. `id` is deterministic (alert, incident, round, step,
/// recipient) and is the webhook `Idempotency-Key` and the email `Message-ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub recipient: Recipient,
    pub purpose: Purpose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub notification: Notification,
    pub state: DeliveryState,
}

/// What the shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Deliver(Notification),
}

/// The final outcome of a notification: delivered, or given up (retry budget spent, permanent
/// failure, or the console's circuit open).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// One attempt failed and another will follow: recorded, nothing changes.
    AttemptFailed {
        attempt: u32,
        reason: String,
    },
    GivenUp {
        reason: String,
    },
}

/// A timeline event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Raised {
        route: String,
        chain: String,
    },
    StepFired {
        step: usize,
        round: u32,
    },
    Notified {
        id: String,
    },
    NobodyToNotify {
        target: String,
    },
    Delivered {
        id: String,
    },
    AttemptFailed {
        id: String,
        attempt: u32,
        reason: String,
    },
    GivenUp {
        id: String,
        reason: String,
    },
    FailedOver {
        from: String,
        to: String,
        reason: String,
    },
    Acknowledged {
        by: Responder,
    },
    Note {
        by: Responder,
        text: String,
    },
    AckTimedOut,
    Resolved {
        by: Responder,
    },
    Repeated {
        occurrences: u32,
    },
    Exhausted {
        rounds: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub at: Timestamp,
    pub event: Event,
}

/// What an acknowledgement did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckEffect {
    Acknowledged,
    /// Already acknowledged: idempotent; says who acknowledged first.
    AlreadyAcknowledged(Responder),
    AlreadyResolved,
}

/// The escalation of one incident of one alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Escalation {
    pub(crate) alert: Alert,
    pub(crate) incident: u32,
    pub(crate) route: String,
    pub(crate) chain: Arc<Chain>,
    pub(crate) status: Status,
    pub(crate) step: usize,
    pub(crate) round: u32,
    pub(crate) passes_left: u32,
    pub(crate) exhausted: bool,
    pub(crate) timers: TimerTable,
    pub(crate) deliveries: Vec<DeliveryRecord>,
    pub(crate) timeline: Vec<Entry>,
    pub(crate) occurrences: u32,
    pub(crate) first_seen: Timestamp,
    pub(crate) last_seen: Timestamp,
    actions: VecDeque<Action>,
}

/// Everything an escalation persists, for the state changelog codec. Restoring one re-issues
/// the notifications still pending (same ids).
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub alert: Alert,
    pub incident: u32,
    pub route: String,
    pub chain: Chain,
    pub status: Status,
    pub step: usize,
    pub round: u32,
    pub passes_left: u32,
    pub exhausted: bool,
    pub timers: TimerTable,
    pub deliveries: Vec<DeliveryRecord>,
    pub timeline: Vec<Entry>,
    pub occurrences: u32,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

impl Escalation {
    /// Opens incident `incident` of `alert` on `chain` and fires its first step.
    pub fn new(
        alert: Alert,
        incident: u32,
        route: &str,
        chain: Arc<Chain>,
        directory: &Directory,
        now: Timestamp,
    ) -> Escalation {
        let mut escalation = Escalation {
            alert,
            incident,
            route: route.to_owned(),
            passes_left: chain.repeat,
            chain,
            status: Status::Triggered,
            step: 0,
            round: 0,
            exhausted: false,
            timers: TimerTable::default(),
            deliveries: Vec::new(),
            timeline: Vec::new(),
            occurrences: 1,
            first_seen: now,
            last_seen: now,
            actions: VecDeque::new(),
        };
        escalation.log(
            now,
            Event::Raised {
                route: route.to_owned(),
                chain: escalation.chain.id.clone(),
            },
        );
        escalation.fire_step(directory, now);
        escalation
    }

    /// Routes `alert` with `policy` and opens its first incident; `None` if the policy has no
    /// chain for it (validation prevents that).
    pub fn route(alert: Alert, policy: &Policy, now: Timestamp) -> Option<Escalation> {
        let (route, chain) = policy.route(&alert)?;
        let (route, chain) = (route.to_owned(), chain.clone());
        Some(Escalation::new(
            alert,
            1,
            &route,
            chain,
            &policy.directory,
            now,
        ))
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            alert: self.alert.clone(),
            incident: self.incident,
            route: self.route.clone(),
            chain: Chain::clone(&self.chain),
            status: self.status.clone(),
            step: self.step,
            round: self.round,
            passes_left: self.passes_left,
            exhausted: self.exhausted,
            timers: self.timers.clone(),
            deliveries: self.deliveries.clone(),
            timeline: self.timeline.clone(),
            occurrences: self.occurrences,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        }
    }

    /// Restores a persisted escalation; its pending notifications are queued again.
    /// Like `restore`, sharing the chain with `policy` when the policy still has it
    /// unchanged (a restored dispatcher then holds one copy per chain, not one per alert).
    pub fn restore_in(snapshot: Snapshot, policy: &Policy) -> Escalation {
        let shared = policy
            .chains
            .get(&snapshot.chain.id)
            .filter(|chain| ***chain == snapshot.chain)
            .cloned();
        let mut escalation = Escalation::restore(snapshot);
        if let Some(chain) = shared {
            escalation.chain = chain;
        }
        escalation
    }

    pub fn restore(snapshot: Snapshot) -> Escalation {
        let actions = snapshot
            .deliveries
            .iter()
            .filter(|record| record.state == DeliveryState::Pending)
            .map(|record| Action::Deliver(record.notification.clone()))
            .collect();
        Escalation {
            alert: snapshot.alert,
            incident: snapshot.incident,
            route: snapshot.route,
            chain: Arc::new(snapshot.chain),
            status: snapshot.status,
            step: snapshot.step,
            round: snapshot.round,
            passes_left: snapshot.passes_left,
            exhausted: snapshot.exhausted,
            timers: snapshot.timers,
            deliveries: snapshot.deliveries,
            timeline: snapshot.timeline,
            occurrences: snapshot.occurrences,
            first_seen: snapshot.first_seen,
            last_seen: snapshot.last_seen,
            actions,
        }
    }

    pub fn alert(&self) -> &Alert {
        &self.alert
    }
    pub fn status(&self) -> &Status {
        &self.status
    }
    pub fn incident(&self) -> u32 {
        self.incident
    }
    pub fn timeline(&self) -> &[Entry] {
        &self.timeline
    }
    pub fn deliveries(&self) -> &[DeliveryRecord] {
        &self.deliveries
    }
    pub fn is_exhausted(&self) -> bool {
        self.exhausted
    }
    pub fn first_seen(&self) -> Timestamp {
        self.first_seen
    }
    pub fn occurrences(&self) -> u32 {
        self.occurrences
    }

    /// The next instant `handle_timeout` must be called at, if any.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next_timeout()
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if self.actions.is_empty() {
            // A dispatcher holds many escalations for hours: an empty queue keeps no buffer.
            self.actions.shrink_to_fit();
        }
        action
    }

    /// A trigger for this alert: folded into an open incident; after resolution, a new
    /// incident routed afresh with `policy`.
    pub fn handle_trigger(&mut self, alert: Alert, policy: &Policy, now: Timestamp) {
        if let Status::Resolved { .. } = self.status {
            if let Some((route, chain)) = policy.route(&alert) {
                let (route, chain) = (route.to_owned(), chain.clone());
                *self = Escalation::new(
                    alert,
                    self.incident + 1,
                    &route,
                    chain,
                    &policy.directory,
                    now,
                );
            }
            return;
        }
        self.occurrences = self.occurrences.saturating_add(1);
        self.last_seen = self.last_seen.max(now);
        self.log(
            now,
            Event::Repeated {
                occurrences: self.occurrences,
            },
        );
    }

    pub fn handle_ack(&mut self, by: Responder, now: Timestamp) -> AckEffect {
        match &self.status {
            Status::Acknowledged { by: first, .. } => AckEffect::AlreadyAcknowledged(first.clone()),
            Status::Resolved { .. } => AckEffect::AlreadyResolved,
            Status::Triggered => {
                self.timers.stop(Timer::Step);
                if let Some(timeout) = self.chain.ack_timeout_ms {
                    self.timers
                        .set(Timer::AckTimeout, now.saturating_add_millis(timeout));
                }
                self.status = Status::Acknowledged {
                    by: by.clone(),
                    at: now,
                };
                self.log(now, Event::Acknowledged { by });
                AckEffect::Acknowledged
            }
        }
    }

    /// Adds a duty officer's note to the timeline; it changes nothing else.
    pub fn handle_note(&mut self, by: Responder, text: String, now: Timestamp) {
        self.log(now, Event::Note { by, text });
    }

    /// Resolves the incident; returns false if it already was.
    pub fn handle_resolve(&mut self, by: Responder, now: Timestamp) -> bool {
        if let Status::Resolved { .. } = self.status {
            return false;
        }
        self.timers.stop(Timer::Step);
        self.timers.stop(Timer::AckTimeout);
        self.status = Status::Resolved {
            by: by.clone(),
            at: now,
        };
        self.log(now, Event::Resolved { by });
        true
    }

    /// Fires whatever timer is due at `now`; spurious calls are no-ops.
    pub fn handle_timeout(&mut self, directory: &Directory, now: Timestamp) {
        while let Some(timer) = self.timers.expired(now) {
            self.timers.stop(timer);
            match timer {
                Timer::Step => {
                    if self.status == Status::Triggered && !self.exhausted {
                        self.advance(directory, now);
                    }
                }
                Timer::AckTimeout => {
                    if let Status::Acknowledged { .. } = self.status {
                        self.status = Status::Triggered;
                        self.log(now, Event::AckTimedOut);
                        self.exhausted = false;
                        self.passes_left = self.chain.repeat;
                        self.round += 1;
                        self.step = 0;
                        self.fire_step(directory, now);
                    }
                }
            }
        }
    }

    /// Records an outcome of notification `id`: a failed attempt that will be retried, or the
    /// final outcome. A console webhook given up while the incident is triggered fails over to
    /// the console's alternative at once.
    pub fn handle_delivery(
        &mut self,
        id: &str,
        outcome: Outcome,
        directory: &Directory,
        now: Timestamp,
    ) {
        let Some(record) = self
            .deliveries
            .iter_mut()
            .find(|record| record.notification.id == id && record.state == DeliveryState::Pending)
        else {
            return;
        };
        let notification = record.notification.clone();
        match outcome {
            Outcome::Delivered => {
                record.state = DeliveryState::Delivered;
                self.log(now, Event::Delivered { id: id.to_owned() });
            }
            Outcome::AttemptFailed { attempt, reason } => {
                self.log(
                    now,
                    Event::AttemptFailed {
                        id: id.to_owned(),
                        attempt,
                        reason,
                    },
                );
            }
            Outcome::GivenUp { reason } => {
                record.state = DeliveryState::Failed;
                self.log(
                    now,
                    Event::GivenUp {
                        id: id.to_owned(),
                        reason: reason.clone(),
                    },
                );
                if let (Recipient::Webhook { console }, Purpose::Step { step, round }) =
                    (&notification.recipient, &notification.purpose)
                    && self.status == Status::Triggered
                {
                    self.fail_over(console, *step, *round, reason, directory, now);
                }
            }
        }
    }

    fn fail_over(
        &mut self,
        from: &str,
        step: usize,
        round: u32,
        reason: String,
        directory: &Directory,
        now: Timestamp,
    ) {
        let Some(to) = directory
            .consoles
            .get(from)
            .and_then(|console| console.failover.clone())
            .filter(|to| to != from)
        else {
            return;
        };
        self.log(
            now,
            Event::FailedOver {
                from: from.to_owned(),
                to: to.clone(),
                reason,
            },
        );
        let purpose = Purpose::Failover {
            from: from.to_owned(),
            step,
            round,
        };
        let prefix = format!(
            "{}.i{}.r{round}.s{step}.failover",
            self.alert.id, self.incident
        );
        let recipients = self.resolve(&[TargetRef::Console(to)], directory, now);
        for recipient in recipients {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
    }

    fn advance(&mut self, directory: &Directory, now: Timestamp) {
        if self.step + 1 < self.chain.steps.len() {
            self.step += 1;
        } else if self.passes_left > 0 {
            self.passes_left -= 1;
            self.round += 1;
            self.step = 0;
        } else {
            self.exhausted = true;
            self.log(
                now,
                Event::Exhausted {
                    rounds: self.chain.repeat + 1,
                },
            );
            let targets = if self.chain.on_exhausted.is_empty() {
                self.chain
                    .steps
                    .first()
                    .map(|step| step.targets.clone())
                    .unwrap_or_default()
            } else {
                self.chain.on_exhausted.clone()
            };
            let prefix = format!(
                "{}.i{}.r{}.exhausted",
                self.alert.id, self.incident, self.round
            );
            for recipient in self.resolve(&targets, directory, now) {
                self.issue(&prefix, recipient, Purpose::Exhausted, now);
            }
            return;
        }
        self.fire_step(directory, now);
    }

    fn fire_step(&mut self, directory: &Directory, now: Timestamp) {
        let Some(step) = self.chain.steps.get(self.step).cloned() else {
            self.exhausted = true;
            self.log(now, Event::Exhausted { rounds: 0 });
            return;
        };
        self.log(
            now,
            Event::StepFired {
                step: self.step,
                round: self.round,
            },
        );
        let prefix = format!(
            "{}.i{}.r{}.s{}",
            self.alert.id, self.incident, self.round, self.step
        );
        let purpose = Purpose::Step {
            step: self.step,
            round: self.round,
        };
        for recipient in self.resolve(&step.targets, directory, now) {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
        self.timers.set(
            Timer::Step,
            now.saturating_add_millis(step.timeout_ms.max(1)),
        );
    }

    /// Concrete recipients of `targets` at `now`, each once, in target order.
    fn resolve(
        &mut self,
        targets: &[TargetRef],
        directory: &Directory,
        now: Timestamp,
    ) -> Vec<Recipient> {
        let mut recipients: Vec<Recipient> = Vec::new();
        let mut push = |recipient: Recipient| {
            if !recipients.contains(&recipient) {
                recipients.push(recipient);
            }
        };
        let mut nobody = Vec::new();
        for target in targets {
            let person_on_call = |schedule: &str| {
                directory
                    .schedules
                    .get(schedule)
                    .and_then(|schedule| schedule.on_call(now))
                    .and_then(|person| directory.people.get(person))
                    .map(|person| person.email.clone())
            };
            match target {
                TargetRef::Console(name) => match directory.consoles.get(name) {
                    Some(console) => {
                        push(Recipient::Webhook {
                            console: name.clone(),
                        });
                        for address in &console.emails {
                            push(Recipient::Email {
                                address: address.clone(),
                            });
                        }
                    }
                    None => nobody.push(format!("console:{name}")),
                },
                TargetRef::Person(id) => match directory.people.get(id) {
                    Some(person) => push(Recipient::Email {
                        address: person.email.clone(),
                    }),
                    None => nobody.push(format!("person:{id}")),
                },
                TargetRef::Schedule(id) => match person_on_call(id) {
                    Some(address) => push(Recipient::Email { address }),
                    None => nobody.push(format!("schedule:{id}")),
                },
                TargetRef::Email(address) => push(Recipient::Email {
                    address: address.clone(),
                }),
                TargetRef::RegionalSecurityOfficer => {
                    let on_call = directory
                        .region_of(&self.alert.country)
                        .and_then(|region| person_on_call(&region.security_officer_schedule));
                    match on_call {
                        Some(address) => push(Recipient::Email { address }),
                        None => nobody.push("regional-security-officer".to_owned()),
                    }
                }
            }
        }
        for target in nobody {
            self.log(now, Event::NobodyToNotify { target });
        }
        recipients
    }

    fn issue(&mut self, prefix: &str, recipient: Recipient, purpose: Purpose, now: Timestamp) {
        let id = format!("{prefix}.{}", recipient.key());
        if self
            .deliveries
            .iter()
            .any(|record| record.notification.id == id)
        {
            return;
        }
        let notification = Notification {
            id: id.clone(),
            recipient,
            purpose,
        };
        // Exact growth: a few dozen entries at most, held for the life of the alert, so the
        // slack of doubling would cost more memory than the copies cost time.
        self.deliveries.reserve_exact(1);
        self.deliveries.push(DeliveryRecord {
            notification: notification.clone(),
            state: DeliveryState::Pending,
        });
        self.actions.push_back(Action::Deliver(notification));
        self.log(now, Event::Notified { id });
    }

    fn log(&mut self, at: Timestamp, event: Event) {
        self.timeline.reserve_exact(1);
        self.timeline.push(Entry { at, event });
    }
}

#[cfg(test)]
mod tests;
