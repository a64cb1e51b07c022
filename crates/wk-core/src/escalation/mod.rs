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

mod actions;
mod delivery;
mod ids;
mod queue;
mod reach;
mod silence;
mod timer;
mod types;
mod update;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

pub use self::ids::derived as derived_notification_id;
pub use self::queue::TimerQueue;
pub use self::silence::SilenceEffect;
pub use self::timer::{Timer, TimerTable};
pub use self::types::{
    AckEffect, Action, DeliveryRecord, DeliveryState, EndedSilence, Entry, Event, Failover, Held,
    Notification, NotificationId, Outcome, Purpose, Recipient, Responder, Status, Undeliverable,
    Version,
};
use crate::alert::Alert;
use crate::policy::{Chain, Directory, Policy, TargetRef};
use crate::silence::{SilenceBook, Silencing};
use crate::time::Timestamp;

/// The escalation of one incident of one alert: its persisted state (the [`Snapshot`] the
/// state changelog holds, nothing copied beside it) and the actions decided and not yet
/// taken.
#[derive(Clone, Debug, PartialEq)]
pub struct Escalation {
    pub(crate) state: Snapshot,
    actions: VecDeque<Action>,
}

/// Everything an escalation persists, for the state changelog codec. Restoring one re-issues
/// the notifications still pending (same ids). The chain is shared with the policy (and with
/// every escalation on it) while the policy still has it unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub alert: Alert,
    pub incident: u32,
    pub route: String,
    pub chain: Arc<Chain>,
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
    /// Updates by the office so far (severity raised, title or description changed).
    pub revision: u32,
    /// The silence that matches it, while one does: it holds the escalation back unless the
    /// alert is of a class never silenced (then it is only shown). Boxed: most alerts have
    /// none, and a dispatcher holds many.
    pub silence: Option<Box<Silencing>>,
}

impl Escalation {
    /// Opens incident `incident` of `alert` on `chain` and fires its first step, unless a
    /// silence in `silences` holds it back.
    pub fn new(
        alert: Alert,
        incident: u32,
        route: &str,
        chain: Arc<Chain>,
        directory: &Directory,
        silences: &SilenceBook,
        now: Timestamp,
    ) -> Escalation {
        let mut escalation = Escalation {
            state: Snapshot {
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
                revision: 0,
                silence: None,
            },
            actions: VecDeque::new(),
        };
        escalation.log(
            now,
            Event::Raised {
                route: route.into(),
                chain: escalation.state.chain.id.as_str().into(),
            },
        );
        escalation.handle_silences(silences, directory, now);
        if !escalation.is_held() {
            escalation.fire_step(directory, None, now);
        }
        escalation.arm_expiry();
        escalation
    }

    /// Sets (or stops) the expiry timer from the alert's `endsAt`, while it is not resolved.
    fn arm_expiry(&mut self) {
        let ends_at = self
            .state
            .alert
            .origin
            .as_ref()
            .and_then(|origin| origin.ends_at);
        match ends_at {
            Some(at) if !matches!(self.state.status, Status::Resolved { .. }) => {
                self.state.timers.set(Timer::Expiry, at);
            }
            _ => self.state.timers.stop(Timer::Expiry),
        }
    }

    /// Routes `alert` with `policy` and opens its first incident, with no silence known.
    pub fn route(alert: Alert, policy: &Policy, now: Timestamp) -> Escalation {
        Escalation::route_under(alert, policy, &SilenceBook::default(), now)
    }

    /// Routes `alert` with `policy` and opens its first incident under `silences`.
    pub fn route_under(
        alert: Alert,
        policy: &Policy,
        silences: &SilenceBook,
        now: Timestamp,
    ) -> Escalation {
        Escalation::open_incident(alert, 1, policy, silences, now)
    }

    /// Routes `alert` with `policy` and opens its incident `incident` under `silences`: what
    /// a repeat of a resolved alert becomes (`handle_trigger_under`), its notification ids
    /// apart from every earlier incident's. Nothing of the resolved one is kept but its
    /// number, so a driver that let the resolved one go needs only that.
    pub fn open_incident(
        alert: Alert,
        incident: u32,
        policy: &Policy,
        silences: &SilenceBook,
        now: Timestamp,
    ) -> Escalation {
        let (route, chain) = policy.route(&alert);
        let (route, chain) = (route.to_owned(), chain.clone());
        Escalation::new(
            alert,
            incident,
            &route,
            chain,
            &policy.directory,
            silences,
            now,
        )
    }

    pub fn snapshot(&self) -> Snapshot {
        self.state.clone()
    }

    /// Restores a persisted escalation; its pending notifications are queued again.
    /// Like `restore`, sharing the chain with `policy` when the policy still has it
    /// unchanged (a restored dispatcher then holds one copy per chain, not one per alert).
    pub fn restore_in(snapshot: Snapshot, policy: &Policy) -> Escalation {
        let mut escalation = Escalation::restore(snapshot);
        escalation.share_chain(&policy.chains);
        escalation
    }

    /// Takes the chain of `chains` of its id when it is the same chain.
    fn share_chain(&mut self, chains: &BTreeMap<String, Arc<Chain>>) {
        if let Some(chain) = chains
            .get(&self.state.chain.id)
            .filter(|chain| **chain == self.state.chain)
        {
            self.state.chain = Arc::clone(chain);
        }
    }

    /// The persisted state, borrowed (to write it).
    pub fn as_snapshot(&self) -> &Snapshot {
        &self.state
    }

    /// Whether everything it decided has been taken (`poll_action`): it is then all its
    /// snapshot, and `resume_in` gives it back exactly, so a driver may hold it encoded.
    pub fn is_settled(&self) -> bool {
        self.actions.is_empty()
    }

    /// Whether nothing more can come of it but from a new fact: resolved, settled, no
    /// delivery still owed (none will report back) and no timer armed. A driver may then let
    /// it go and read its state back when a fact about it comes.
    pub fn is_done(&self) -> bool {
        matches!(self.state.status, Status::Resolved { .. })
            && self.is_settled()
            && self.poll_timeout().is_none()
            && !self
                .state
                .deliveries
                .iter()
                .any(|record| record.state.is_open())
    }

    /// An escalation that was settled when `snapshot` was taken, as it was: unlike `restore`,
    /// nothing is queued again (its notifications in flight report back as usual). Shares
    /// the chain with `chains` as `restore_in` does.
    pub fn resume_in(snapshot: Snapshot, chains: &BTreeMap<String, Arc<Chain>>) -> Escalation {
        let mut escalation = Escalation {
            state: snapshot,
            actions: VecDeque::new(),
        };
        escalation.share_chain(chains);
        escalation
    }

    pub fn restore(snapshot: Snapshot) -> Escalation {
        let actions = snapshot
            .deliveries
            .iter()
            .filter(|record| record.state.is_open())
            .map(|record| Action::Deliver(record.notification.clone()))
            .collect();
        Escalation {
            state: snapshot,
            actions,
        }
    }

    pub fn alert(&self) -> &Alert {
        &self.state.alert
    }
    pub fn status(&self) -> &Status {
        &self.state.status
    }
    pub fn incident(&self) -> u32 {
        self.state.incident
    }
    pub fn timeline(&self) -> &[Entry] {
        &self.state.timeline
    }
    pub fn deliveries(&self) -> &[DeliveryRecord] {
        &self.state.deliveries
    }
    pub fn first_seen(&self) -> Timestamp {
        self.state.first_seen
    }
    pub fn occurrences(&self) -> u32 {
        self.state.occurrences
    }
    /// When notification `id` was parked, if it is.
    pub fn parked_since(&self, id: &str) -> Option<Timestamp> {
        self.state
            .deliveries
            .iter()
            .find(|record| &*record.notification.id == id)
            .and_then(|record| match record.state {
                DeliveryState::Parked { since } => Some(since),
                _ => None,
            })
    }

    /// The next instant `handle_timeout` must be called at, if any.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.state.timers.next_timeout()
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

    /// Fires whatever timer is due at `now`; spurious calls are no-ops.
    pub fn handle_timeout(&mut self, directory: &Directory, now: Timestamp) {
        while let Some(timer) = self.state.timers.expired(now) {
            self.state.timers.stop(timer);
            match timer {
                Timer::Step => {
                    if self.state.status == Status::Triggered
                        && !self.state.exhausted
                        && !self.is_held()
                    {
                        self.advance(directory, now);
                    }
                }
                Timer::Expiry => {
                    let integration = self
                        .state
                        .alert
                        .origin
                        .as_ref()
                        .map(|origin| origin.integration.clone())
                        .unwrap_or_default();
                    let by = Responder {
                        actor: integration,
                        channel: EXPIRED_CHANNEL.to_owned(),
                    };
                    self.handle_resolve(by, None, directory, now);
                }
                Timer::AckTimeout => {
                    if let Status::Acknowledged { .. } = self.state.status {
                        self.state.status = Status::Triggered;
                        self.log(now, Event::AckTimedOut);
                        self.state.exhausted = false;
                        self.state.passes_left = self.state.chain.repeat;
                        self.state.round += 1;
                        self.state.step = 0;
                        // Silenced meanwhile: it starts when the silence ends.
                        if !self.is_held() {
                            self.fire_step(directory, None, now);
                        }
                    }
                }
            }
        }
    }

    fn advance(&mut self, directory: &Directory, now: Timestamp) {
        if self.state.step + 1 < self.state.chain.steps.len() {
            self.state.step += 1;
        } else if self.state.passes_left > 0 {
            self.state.passes_left -= 1;
            self.state.round += 1;
            self.state.step = 0;
        } else {
            self.state.exhausted = true;
            self.log(
                now,
                Event::Exhausted {
                    rounds: self.state.chain.repeat + 1,
                },
            );
            let targets = if self.state.chain.on_exhausted.is_empty() {
                self.state
                    .chain
                    .steps
                    .first()
                    .map(|step| step.targets.clone())
                    .unwrap_or_default()
            } else {
                self.state.chain.on_exhausted.clone()
            };
            let prefix = ids::exhausted(self.state.alert.id, self.state.incident, self.state.round);
            for recipient in self.reach(&targets, directory, now) {
                self.issue(&prefix, recipient, Purpose::Exhausted, now);
            }
            return;
        }
        self.fire_step(directory, None, now);
    }

    /// Fires the current step; `after` is the silence that held it back until now, if any
    /// (its notifications then say so).
    fn fire_step(&mut self, directory: &Directory, after: Option<&Silencing>, now: Timestamp) {
        let Some(step) = self.state.chain.steps.get(self.state.step).cloned() else {
            self.state.exhausted = true;
            self.log(now, Event::Exhausted { rounds: 0 });
            return;
        };
        self.log(
            now,
            Event::StepFired {
                step: self.state.step,
                round: self.state.round,
            },
        );
        let prefix = ids::step(
            self.state.alert.id,
            self.state.incident,
            self.state.round,
            self.state.step,
        );
        let purpose = match after {
            None => Purpose::Step {
                step: self.state.step,
                round: self.state.round,
            },
            Some(silencing) => Purpose::AfterSilence {
                step: self.state.step,
                round: self.state.round,
                ended: Box::new(EndedSilence {
                    silence: silencing.silence.clone(),
                    by: silencing.by.clone(),
                    comment: silencing.comment.clone(),
                }),
            },
        };
        for recipient in self.reach(&step.targets, directory, now) {
            self.issue(&prefix, recipient, purpose.clone(), now);
        }
        self.state.timers.set(
            Timer::Step,
            now.saturating_add_millis(step.timeout_ms.max(1)),
        );
    }

    fn issue(&mut self, prefix: &str, recipient: Recipient, purpose: Purpose, now: Timestamp) {
        let id: NotificationId = ids::id(prefix, &recipient).into();
        if self
            .state
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
        self.state.deliveries.reserve_exact(1);
        self.state.deliveries.push(DeliveryRecord {
            notification: notification.clone(),
            state: DeliveryState::Pending,
        });
        self.actions.push_back(Action::Deliver(notification));
        self.log(now, Event::Notified { id });
    }

    fn log(&mut self, at: Timestamp, event: Event) {
        self.state.timeline.reserve_exact(1);
        self.state.timeline.push(Entry { at, event });
    }
}

/// The channel of a resolution by the office's own check-in (its silence alert).
pub const CHECK_IN_CHANNEL: &str = "check-in";

/// The channel of a resolution by the alert's `endsAt` passing without a re-send (the actor
/// is its integration).
pub const EXPIRED_CHANNEL: &str = "ends-at";

impl crate::machine::Machine for Escalation {
    const KIND: crate::machine::Kind = crate::machine::Kind::Escalation;
    type Key = crate::alert::AlertId;
    type Snapshot = Snapshot;
    type Action = Action;
    type Context = Directory;

    fn key(&self) -> crate::alert::AlertId {
        self.state.alert.id
    }
    fn poll_action(&mut self) -> Option<Action> {
        Escalation::poll_action(self)
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        Escalation::poll_timeout(self)
    }
    fn handle_timeout(&mut self, directory: &Directory, now: Timestamp) {
        Escalation::handle_timeout(self, directory, now);
    }
    fn snapshot(&self) -> Snapshot {
        Escalation::snapshot(self)
    }
    fn restore(snapshot: Snapshot) -> Escalation {
        Escalation::restore(snapshot)
    }
}

#[cfg(test)]
mod tests;
