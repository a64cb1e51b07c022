//! The dispatcher's record of one alert: status, occurrences and the deliveries it owes. Pure
//! transitions with time passed in; the dispatcher persists every change to the state
//! changelog before it acts on it or commits the input that caused it.

use crate::alert::Alert;
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Acknowledged,
    Resolved,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Webhook,
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

/// One notification owed to one target. Its `id` is deterministic, so a receiver can drop the
/// repeat a crash between sending and recording may cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub channel: Channel,
    pub console: String,
    /// The email address, for email deliveries.
    pub recipient: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: String,
}

/// A notification target chosen by the route: a console's webhook or one of its mailboxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Webhook { console: String },
    Email { console: String, recipient: String },
}

/// What happened to one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    Failed { error: String },
}

#[derive(Clone, Debug, PartialEq)]
pub struct AlertState {
    pub alert: Alert,
    pub status: Status,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub occurrences: u32,
    pub deliveries: Vec<Delivery>,
    /// Offset, on the alerts topic partition, of the last event this state reflects.
    pub input_offset: i64,
}

/// What applying a raise did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaiseEffect {
    /// A new alert: its deliveries are pending.
    Opened,
    /// A repeat of an open alert: counted, nothing new to send.
    Folded,
    /// The event was already applied (re-read after a restart): nothing changes.
    AlreadyApplied,
}

impl AlertState {
    /// Opens a state for a newly raised alert owing one delivery per target.
    pub fn open(alert: Alert, targets: &[Target], now: Timestamp, input_offset: i64) -> AlertState {
        let deliveries = targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let (channel, console, recipient) = match target {
                    Target::Webhook { console } => (Channel::Webhook, console.clone(), None),
                    Target::Email { console, recipient } => {
                        (Channel::Email, console.clone(), Some(recipient.clone()))
                    }
                };
                Delivery {
                    // Step 0, round 0 until escalation chains arrive; the index keeps two
                    // mailboxes of one console apart without putting an address in the id.
                    id: format!("{}.s0.r0.{}.{console}.{index}", alert.id, channel.as_str()),
                    channel,
                    console,
                    recipient,
                    status: DeliveryStatus::Pending,
                    attempts: 0,
                    last_error: String::new(),
                }
            })
            .collect();
        AlertState {
            alert,
            status: Status::Open,
            first_seen: now,
            last_seen: now,
            occurrences: 1,
            deliveries,
            input_offset,
        }
    }

    /// Applies a repeat raise of this alert read at `input_offset`.
    pub fn repeat(&mut self, now: Timestamp, input_offset: i64) -> RaiseEffect {
        if input_offset <= self.input_offset {
            return RaiseEffect::AlreadyApplied;
        }
        self.occurrences = self.occurrences.saturating_add(1);
        self.last_seen = self.last_seen.max(now);
        self.input_offset = input_offset;
        RaiseEffect::Folded
    }

    /// The deliveries still owed, in order.
    pub fn pending(&self) -> impl Iterator<Item = &Delivery> {
        self.deliveries
            .iter()
            .filter(|delivery| delivery.status == DeliveryStatus::Pending)
    }

    /// Records one attempt of delivery `id`. After `max_attempts` failures it is `Failed`.
    /// Unknown ids and settled deliveries are left alone.
    pub fn record_attempt(&mut self, id: &str, outcome: DeliveryOutcome, max_attempts: u32) {
        let Some(delivery) = self
            .deliveries
            .iter_mut()
            .find(|delivery| delivery.id == id && delivery.status == DeliveryStatus::Pending)
        else {
            return;
        };
        delivery.attempts = delivery.attempts.saturating_add(1);
        match outcome {
            DeliveryOutcome::Delivered => delivery.status = DeliveryStatus::Delivered,
            DeliveryOutcome::Failed { error } => {
                delivery.last_error = error;
                if delivery.attempts >= max_attempts {
                    delivery.status = DeliveryStatus::Failed;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertId, Category, Severity};

    fn alert() -> Alert {
        Alert {
            id: AlertId::for_dedup_key("ng-maiduguri", "k"),
            office_id: "ng-maiduguri".into(),
            severity: Severity::Critical,
            category: Category::Crime,
            title: "t".into(),
            description: String::new(),
            country: "NG".into(),
            place: "p".into(),
            coordinates: None,
            occurred_at: Timestamp::from_unix_millis(0),
            staff_affected: 0,
            dedup_key: Some("k".into()),
            labels: Default::default(),
        }
    }

    fn targets() -> Vec<Target> {
        vec![
            Target::Webhook {
                console: "manila".into(),
            },
            Target::Email {
                console: "manila".into(),
                recipient: "a@example.org".into(),
            },
            Target::Email {
                console: "manila".into(),
                recipient: "b@example.org".into(),
            },
        ]
    }

    #[test]
    fn opening_owes_one_delivery_per_target_with_distinct_stable_ids() {
        let now = Timestamp::from_unix_millis(10);
        let state = AlertState::open(alert(), &targets(), now, 5);
        let ids: Vec<&str> = state.pending().map(|d| d.id.as_str()).collect();
        let alert_id = alert().id;
        assert_eq!(
            ids,
            [
                format!("{alert_id}.s0.r0.webhook.manila.0"),
                format!("{alert_id}.s0.r0.email.manila.1"),
                format!("{alert_id}.s0.r0.email.manila.2"),
            ]
        );
        assert_eq!(state, AlertState::open(alert(), &targets(), now, 5));
    }

    #[test]
    fn repeats_fold_once_per_new_offset() {
        let mut state = AlertState::open(alert(), &targets(), Timestamp::from_unix_millis(10), 5);
        assert_eq!(
            state.repeat(Timestamp::from_unix_millis(20), 5),
            RaiseEffect::AlreadyApplied
        );
        assert_eq!(
            state.repeat(Timestamp::from_unix_millis(20), 9),
            RaiseEffect::Folded
        );
        assert_eq!(
            state.repeat(Timestamp::from_unix_millis(15), 9),
            RaiseEffect::AlreadyApplied
        );
        assert_eq!((state.occurrences, state.input_offset), (2, 9));
        assert_eq!(state.last_seen, Timestamp::from_unix_millis(20));
        assert_eq!(state.pending().count(), 3, "a repeat owes nothing new");
    }

    #[test]
    fn attempts_settle_deliveries_and_ignore_settled_ones() {
        let mut state = AlertState::open(alert(), &targets(), Timestamp::from_unix_millis(10), 5);
        let webhook = state.deliveries[0].id.clone();
        let email = state.deliveries[1].id.clone();
        state.record_attempt(&webhook, DeliveryOutcome::Delivered, 3);
        state.record_attempt(
            &webhook,
            DeliveryOutcome::Failed {
                error: "late".into(),
            },
            3,
        );
        for _ in 0..3 {
            state.record_attempt(
                &email,
                DeliveryOutcome::Failed {
                    error: "refused".into(),
                },
                3,
            );
        }
        assert_eq!(state.deliveries[0].status, DeliveryStatus::Delivered);
        assert_eq!(state.deliveries[0].attempts, 1);
        assert_eq!(state.deliveries[1].status, DeliveryStatus::Failed);
        assert_eq!(state.deliveries[1].last_error, "refused");
        assert_eq!(state.pending().count(), 1);
    }
}
