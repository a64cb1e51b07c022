//! The escalation's vocabulary: who acted, where a notification goes and why, its delivery
//! state, and the timeline's events.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::alert::Severity;
use crate::silence::Exemption;
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

/// Why a notification is sent. Every delivery record holds one, so the rare purposes' text is
/// boxed (`Undeliverable`, `EndedSilence`): a purpose is the size of its largest variant.
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
    /// Nobody acknowledged after every round.
    Exhausted,
    /// The exhaustion notice, failed over from a console that could not be reached.
    ExhaustedFailover {
        from: String,
    },
    /// An open alert was updated by its office (severity raised, title or description
    /// changed); sent at once to the targets of `step`.
    Updated {
        revision: u32,
        step: usize,
        round: u32,
        /// What changed, in words ("severity warning → emergency, title").
        changes: String,
    },
    /// Another notification was finally given up: a human must learn that this recipient
    /// could not be reached.
    Undeliverable(Box<Undeliverable>),
    /// The step's notification when a silence that held the alert back ended (or was
    /// expired early) while it was still triggered and unacknowledged.
    AfterSilence {
        step: usize,
        round: u32,
        ended: Box<EndedSilence>,
    },
    /// The office's focal point is told that the operations centre acknowledged (or
    /// resolved) its alert, by whom and when; no alert text beyond the title.
    Informed {
        resolved: bool,
        by: String,
        at: Timestamp,
    },
}

/// A notification's id, shared (not copied) by its delivery record and the timeline's events
/// about it: an open escalation holds each id once, however many events name it.
pub type NotificationId = Arc<str>;

/// One notification to one recipient. `id` is deterministic (alert, incident, round, step,
/// recipient) and is the webhook `Idempotency-Key` and the email `Message-ID`.
/// The notification (`failed_id`, to `failed`) that was given up, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undeliverable {
    pub failed_id: String,
    pub failed: Recipient,
    pub reason: String,
}

/// The silence that had held the alert back: its id, who made it, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSilence {
    pub silence: String,
    pub by: String,
    pub comment: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub id: NotificationId,
    pub recipient: Recipient,
    pub purpose: Purpose,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    /// Still to be delivered, waiting since `since` for its console to be reachable (circuit
    /// open, or its attempts spent): re-sent after a restart, given up only when the horizon
    /// from `since` is spent.
    Parked {
        since: Timestamp,
    },
    Delivered,
    Failed,
}

impl DeliveryState {
    /// Pending or parked: the shell still owes this delivery.
    pub fn is_open(self) -> bool {
        matches!(self, DeliveryState::Pending | DeliveryState::Parked { .. })
    }
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

/// An outcome of a notification, as the shell reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// One attempt failed and another will follow: recorded, nothing changes.
    AttemptFailed {
        attempt: u32,
        reason: String,
    },
    /// The recipient cannot be reached now (its console's circuit is open, or its attempts
    /// are spent); the shell keeps trying until its horizon. The console fails over at once.
    Parked {
        reason: String,
    },
    /// Finally given up: a permanent refusal, or the horizon spent.
    GivenUp {
        reason: String,
    },
}

/// Severity, title and description: what an office may change by re-sending an open alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub severity: Severity,
    pub title: String,
    pub description: String,
}

/// A timeline event. An open escalation holds a dozen, each the size of the largest variant
/// (40 bytes): larger or rarer payloads are boxed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Raised {
        route: Box<str>,
        chain: Box<str>,
    },
    StepFired {
        step: usize,
        round: u32,
    },
    Notified {
        id: NotificationId,
    },
    NobodyToNotify {
        target: String,
    },
    Delivered {
        id: NotificationId,
    },
    AttemptFailed {
        id: NotificationId,
        attempt: u32,
        reason: Box<str>,
    },
    Parked {
        id: NotificationId,
        reason: Box<str>,
    },
    GivenUp {
        id: NotificationId,
        reason: Box<str>,
    },
    FailedOver(Box<Failover>),
    Acknowledged {
        by: Box<Responder>,
    },
    Note {
        by: Box<Responder>,
        text: String,
    },
    AckTimedOut,
    Resolved {
        by: Box<Responder>,
    },
    Repeated {
        occurrences: u32,
    },
    Exhausted {
        rounds: u32,
    },
    /// The office re-sent the open alert with a change; both versions are kept.
    Updated {
        revision: u32,
        previous: Box<Version>,
        current: Box<Version>,
    },
    /// The update routed the alert to another chain.
    Rerouted {
        route: Box<str>,
        chain: Box<str>,
    },
    /// A silence holds the escalation back (nothing is notified or escalated) until `until`.
    Silenced(Box<Held>),
    /// The silence that held it ended (`expired_by`: expired early by them); `restarted`:
    /// still triggered and unacknowledged, so its escalation started from the first step.
    SilenceEnded {
        silence: Box<str>,
        expired_by: Option<Box<str>>,
        restarted: bool,
    },
    /// A silence matched an alert of a class never silenced: notified all the same.
    NotSilenced {
        silence: String,
        exemption: Exemption,
    },
    /// An acknowledgement or resolution issued for another incident (an old link or a
    /// replayed callback) was refused.
    ActionRefused {
        by: Box<Responder>,
        incident: u32,
    },
}

/// A notification failed over from one console to another, and why (boxed in
/// `Event::FailedOver`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failover {
    pub from: Box<str>,
    pub to: Box<str>,
    pub reason: Box<str>,
}

/// Which silence holds an escalation back, whose it is, until when and why. Boxed in
/// `Event::Silenced`, like every rare event's larger fields: an open escalation holds
/// a dozen entries, and each takes the size of the largest event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub silence: String,
    pub by: String,
    pub until: Timestamp,
    pub comment: String,
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
    /// Issued for incident `issued_for`, not the current one: refused.
    WrongIncident {
        issued_for: u32,
    },
}
