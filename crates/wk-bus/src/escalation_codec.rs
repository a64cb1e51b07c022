//! Encoding of the escalation engine's state (`wk_core::escalation::Snapshot`) as the
//! `EscalationState` record of the state changelog, and back. Decoding re-validates the alert
//! and refuses unknown enum values rather than guessing.

use std::collections::HashMap;

use prost::Message;
use wk_core::escalation::{
    DeliveryRecord, Entry, Event, Failover, Held, NotificationId, Snapshot, Status, Timer,
    TimerTable, Version,
};
use wk_core::policy::{Chain, Step, TargetRef};
use wk_proto::v1 as pb;
use wk_proto::v1::timeline_entry as tl;

use crate::codec::{
    DecodeError, alert_from_pb, alert_to_pb, required_time, severity_from_pb, severity_to_pb,
    timestamp_from_pb, timestamp_to_pb,
};

use crate::silence_codec::{silencing_from_pb, silencing_to_pb};
use wk_core::silence::Exemption;
use wk_proto::convert::{responder_from_pb, responder_to_pb};

fn version_to_pb(version: &Version) -> tl::Version {
    tl::Version {
        severity: severity_to_pb(version.severity) as i32,
        title: version.title.clone(),
        description: version.description.clone(),
    }
}

fn version_from_pb(version: Option<tl::Version>) -> Result<Version, DecodeError> {
    let version = version.ok_or(DecodeError::Missing("timeline.updated.version"))?;
    Ok(Version {
        severity: severity_from_pb(version.severity).ok_or(DecodeError::UnknownEnum {
            field: "timeline.updated.severity",
            value: version.severity,
        })?,
        title: version.title,
        description: version.description,
    })
}

/// `event` as the record keeps it; `index` gives a notification's place in the record's
/// `notifications` by its id.
fn event_to_pb(event: &Event, index: &HashMap<&str, u32>) -> tl::Event {
    match event {
        Event::Raised { route, chain } => tl::Event::Raised(tl::Raised {
            route: route.to_string(),
            chain: chain.to_string(),
        }),
        Event::StepFired { step, round } => tl::Event::StepFired(tl::StepFired {
            step: *step as u32,
            round: *round,
        }),
        Event::Notified { id } => match index.get(&**id) {
            Some(at) => tl::Event::NotifiedIndex(*at),
            None => tl::Event::Notified(id.to_string()),
        },
        Event::NobodyToNotify { target } => tl::Event::NobodyToNotify(target.clone()),
        Event::Delivered { id } => match index.get(&**id) {
            Some(at) => tl::Event::DeliveredIndex(*at),
            None => tl::Event::Delivered(id.to_string()),
        },
        Event::AttemptFailed {
            id,
            attempt,
            reason,
        } => tl::Event::AttemptFailed(tl::AttemptFailed {
            id: id.to_string(),
            attempt: *attempt,
            reason: reason.to_string(),
        }),
        Event::GivenUp { id, reason } => tl::Event::GivenUp(tl::GivenUp {
            id: id.to_string(),
            reason: reason.to_string(),
        }),
        Event::FailedOver(failover) => tl::Event::FailedOver(tl::FailedOver {
            from: failover.from.to_string(),
            to: failover.to.to_string(),
            reason: failover.reason.to_string(),
        }),
        Event::Acknowledged { by } => tl::Event::Acknowledged(responder_to_pb(by)),
        Event::Note { by, text } => tl::Event::Note(pb::Note {
            by: Some(responder_to_pb(by)),
            text: text.clone(),
        }),
        Event::AckTimedOut => tl::Event::AckTimedOut(true),
        Event::Resolved { by } => tl::Event::Resolved(responder_to_pb(by)),
        Event::Repeated { occurrences } => tl::Event::Repeated(*occurrences),
        Event::Exhausted { rounds } => tl::Event::Exhausted(*rounds),
        Event::Parked { id, reason } => tl::Event::Parked(tl::GivenUp {
            id: id.to_string(),
            reason: reason.to_string(),
        }),
        Event::Updated {
            revision,
            previous,
            current,
        } => tl::Event::Updated(tl::Updated {
            revision: *revision,
            previous: Some(version_to_pb(previous)),
            current: Some(version_to_pb(current)),
        }),
        Event::Rerouted { route, chain } => tl::Event::Rerouted(tl::Raised {
            route: route.to_string(),
            chain: chain.to_string(),
        }),
        Event::ActionRefused { by, incident } => tl::Event::ActionRefused(tl::ActionRefused {
            by: Some(responder_to_pb(by)),
            incident: *incident,
        }),
        Event::Silenced(held) => tl::Event::Silenced(pb::Silencing {
            silence: held.silence.clone(),
            by: held.by.clone(),
            until: Some(timestamp_to_pb(held.until)),
            comment: held.comment.clone(),
            exempt: String::new(),
        }),
        Event::SilenceEnded {
            silence,
            expired_by,
            restarted,
        } => tl::Event::SilenceEnded(tl::SilenceEnded {
            silence: silence.to_string(),
            expired_by: expired_by.as_deref().unwrap_or_default().to_owned(),
            restarted: *restarted,
        }),
        Event::NotSilenced { silence, exemption } => tl::Event::NotSilenced(pb::Silencing {
            silence: silence.clone(),
            exempt: exemption.as_str().to_owned(),
            ..pb::Silencing::default()
        }),
    }
}

/// The id of a notification the timeline names, shared with its delivery record when the
/// escalation has one (as the live machine shares it), so a restored escalation holds each id
/// once.
fn shared_id(ids: &HashMap<&str, NotificationId>, id: String) -> NotificationId {
    ids.get(id.as_str()).cloned().unwrap_or_else(|| id.into())
}

fn event_from_pb(
    event: tl::Event,
    ids: &HashMap<&str, NotificationId>,
    deliveries: &[DeliveryRecord],
) -> Result<Event, DecodeError> {
    let at = |index: u32, field: &'static str| {
        deliveries
            .get(index as usize)
            .map(|record| record.notification.id.clone())
            .ok_or_else(|| DecodeError::Field(field, index.to_string()))
    };
    Ok(match event {
        tl::Event::Raised(raised) => Event::Raised {
            route: raised.route.into(),
            chain: raised.chain.into(),
        },
        tl::Event::StepFired(fired) => Event::StepFired {
            step: fired.step as usize,
            round: fired.round,
        },
        tl::Event::Notified(id) => Event::Notified {
            id: shared_id(ids, id),
        },
        tl::Event::NobodyToNotify(target) => Event::NobodyToNotify { target },
        tl::Event::Delivered(id) => Event::Delivered {
            id: shared_id(ids, id),
        },
        tl::Event::NotifiedIndex(index) => Event::Notified {
            id: at(index, "timeline.notified_index")?,
        },
        tl::Event::DeliveredIndex(index) => Event::Delivered {
            id: at(index, "timeline.delivered_index")?,
        },
        tl::Event::AttemptFailed(failed) => Event::AttemptFailed {
            id: shared_id(ids, failed.id),
            attempt: failed.attempt,
            reason: failed.reason.into(),
        },
        tl::Event::GivenUp(given_up) => Event::GivenUp {
            id: shared_id(ids, given_up.id),
            reason: given_up.reason.into(),
        },
        tl::Event::FailedOver(failed_over) => Event::FailedOver(Box::new(Failover {
            from: failed_over.from.into(),
            to: failed_over.to.into(),
            reason: failed_over.reason.into(),
        })),
        tl::Event::Acknowledged(by) => Event::Acknowledged {
            by: Box::new(responder_from_pb(by)),
        },
        tl::Event::Note(note) => Event::Note {
            by: Box::new(responder_from_pb(note.by.unwrap_or_default())),
            text: note.text,
        },
        tl::Event::AckTimedOut(_) => Event::AckTimedOut,
        tl::Event::Resolved(by) => Event::Resolved {
            by: Box::new(responder_from_pb(by)),
        },
        tl::Event::Repeated(occurrences) => Event::Repeated { occurrences },
        tl::Event::Exhausted(rounds) => Event::Exhausted { rounds },
        tl::Event::Parked(parked) => Event::Parked {
            id: shared_id(ids, parked.id),
            reason: parked.reason.into(),
        },
        tl::Event::Updated(updated) => Event::Updated {
            revision: updated.revision,
            previous: Box::new(version_from_pb(updated.previous)?),
            current: Box::new(version_from_pb(updated.current)?),
        },
        tl::Event::Rerouted(rerouted) => Event::Rerouted {
            route: rerouted.route.into(),
            chain: rerouted.chain.into(),
        },
        tl::Event::ActionRefused(refused) => Event::ActionRefused {
            by: Box::new(responder_from_pb(refused.by.unwrap_or_default())),
            incident: refused.incident,
        },
        tl::Event::Silenced(silenced) => Event::Silenced(Box::new(Held {
            until: required_time(silenced.until.as_ref(), "timeline.silenced.until")?,
            silence: silenced.silence,
            by: silenced.by,
            comment: silenced.comment,
        })),
        tl::Event::SilenceEnded(ended) => Event::SilenceEnded {
            silence: ended.silence.into(),
            expired_by: Some(ended.expired_by)
                .filter(|by| !by.is_empty())
                .map(String::into_boxed_str),
            restarted: ended.restarted,
        },
        tl::Event::NotSilenced(matched) => Event::NotSilenced {
            exemption: Exemption::parse(&matched.exempt)
                .ok_or(DecodeError::Field("timeline.not_silenced", matched.exempt))?,
            silence: matched.silence,
        },
    })
}

fn targets_from_pb(targets: Vec<String>) -> Result<Vec<TargetRef>, DecodeError> {
    targets
        .iter()
        .map(|text| TargetRef::parse(text).map_err(DecodeError::Target))
        .collect()
}

/// Encodes `snapshot`, which reflects the alerts-topic record at `input_offset`.
pub fn encode_escalation(snapshot: &Snapshot, input_offset: i64) -> Vec<u8> {
    let (status, status_by, status_at) = match &snapshot.status {
        Status::Triggered => (pb::AlertStatus::Open, None, None),
        Status::Acknowledged { by, at } => (pb::AlertStatus::Acknowledged, Some(by), Some(*at)),
        Status::Resolved { by, at } => (pb::AlertStatus::Resolved, Some(by), Some(*at)),
    };
    let chain = &snapshot.chain;
    let (alert, incident) = (snapshot.alert.id, snapshot.incident);
    let index: HashMap<&str, u32> = snapshot
        .deliveries
        .iter()
        .zip(0..)
        .map(|(record, at)| (&*record.notification.id, at))
        .collect();
    let state = pb::EscalationState {
        alert_id: snapshot.alert.id.to_string(),
        alert: Some(alert_to_pb(&snapshot.alert)),
        incident: snapshot.incident,
        route: snapshot.route.clone(),
        chain: Some(pb::Chain {
            id: chain.id.clone(),
            steps: chain
                .steps
                .iter()
                .map(|step| pb::ChainStep {
                    timeout_ms: step.timeout_ms,
                    targets: step.targets.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            repeat: chain.repeat,
            ack_timeout_ms: chain.ack_timeout_ms,
            on_exhausted: chain.on_exhausted.iter().map(ToString::to_string).collect(),
        }),
        status: status as i32,
        status_by: status_by.map(responder_to_pb),
        status_at: status_at.map(timestamp_to_pb),
        step: snapshot.step as u32,
        round: snapshot.round,
        passes_left: snapshot.passes_left,
        exhausted: snapshot.exhausted,
        step_timer: snapshot.timers.get(Timer::Step).map(timestamp_to_pb),
        ack_timer: snapshot.timers.get(Timer::AckTimeout).map(timestamp_to_pb),
        expiry_timer: snapshot.timers.get(Timer::Expiry).map(timestamp_to_pb),
        notifications: snapshot
            .deliveries
            .iter()
            .map(|record| notification_to_pb(record, alert, incident))
            .collect(),
        timeline: snapshot
            .timeline
            .iter()
            .map(|entry| pb::TimelineEntry {
                at: None,
                since_first_seen_ms: Some(compact::since(snapshot.first_seen, entry.at)),
                event: Some(event_to_pb(&entry.event, &index)),
            })
            .collect(),
        occurrences: snapshot.occurrences,
        first_seen: Some(timestamp_to_pb(snapshot.first_seen)),
        last_seen: Some(timestamp_to_pb(snapshot.last_seen)),
        input_offset,
        revision: snapshot.revision,
        silence: snapshot.silence.as_deref().map(silencing_to_pb),
    };
    pb::StateRecord {
        machine: Some(pb::state_record::Machine::Escalation(state)),
    }
    .encode_to_vec()
}

/// Decodes a snapshot and the input offset it reflects.
pub fn decode_escalation(state: pb::EscalationState) -> Result<(Snapshot, i64), DecodeError> {
    let first_seen = required_time(state.first_seen.as_ref(), "first_seen")?;
    let alert = alert_from_pb(state.alert, state.alert_id.parse()?, first_seen)?;
    let (alert_id, incident) = (alert.id, state.incident);
    let chain = state.chain.ok_or(DecodeError::Missing("chain"))?;
    let mut steps = Vec::with_capacity(chain.steps.len());
    for step in chain.steps {
        steps.push(Step {
            timeout_ms: step.timeout_ms,
            targets: targets_from_pb(step.targets)?,
        });
    }
    let chain = Chain {
        id: chain.id,
        steps,
        repeat: chain.repeat,
        ack_timeout_ms: chain.ack_timeout_ms,
        on_exhausted: targets_from_pb(chain.on_exhausted)?,
    };
    let acted = |by: Option<pb::Responder>, at: Option<&prost_types::Timestamp>| {
        Ok::<_, DecodeError>((
            responder_from_pb(by.ok_or(DecodeError::Missing("status_by"))?),
            required_time(at, "status_at")?,
        ))
    };
    let status = match pb::AlertStatus::try_from(state.status) {
        Ok(pb::AlertStatus::Open) => Status::Triggered,
        Ok(pb::AlertStatus::Acknowledged) => {
            let (by, at) = acted(state.status_by, state.status_at.as_ref())?;
            Status::Acknowledged { by, at }
        }
        Ok(pb::AlertStatus::Resolved) => {
            let (by, at) = acted(state.status_by, state.status_at.as_ref())?;
            Status::Resolved { by, at }
        }
        _ => {
            return Err(DecodeError::UnknownEnum {
                field: "status",
                value: state.status,
            });
        }
    };
    let mut timers = TimerTable::default();
    if let Some(at) = state.step_timer.as_ref().and_then(timestamp_from_pb) {
        timers.set(Timer::Step, at);
    }
    if let Some(at) = state.ack_timer.as_ref().and_then(timestamp_from_pb) {
        timers.set(Timer::AckTimeout, at);
    }
    if let Some(at) = state.expiry_timer.as_ref().and_then(timestamp_from_pb) {
        timers.set(Timer::Expiry, at);
    }
    let deliveries = state
        .notifications
        .into_iter()
        .map(|notification| notification_from_pb(notification, alert_id, incident))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: HashMap<&str, NotificationId> = deliveries
        .iter()
        .map(|record| (&*record.notification.id, record.notification.id.clone()))
        .collect();
    let mut timeline = Vec::with_capacity(state.timeline.len());
    for entry in state.timeline {
        timeline.push(Entry {
            at: compact::entry_at(&entry, first_seen)?,
            event: event_from_pb(
                entry.event.ok_or(DecodeError::Missing("timeline.event"))?,
                &ids,
                &deliveries,
            )?,
        });
    }
    drop(ids);
    let snapshot = Snapshot {
        alert,
        incident: state.incident,
        route: state.route,
        chain: chain.into(),
        status,
        step: state.step as usize,
        round: state.round,
        passes_left: state.passes_left,
        exhausted: state.exhausted,
        timers,
        deliveries,
        timeline,
        occurrences: state.occurrences,
        first_seen,
        last_seen: required_time(state.last_seen.as_ref(), "last_seen")?,
        revision: state.revision,
        silence: state
            .silence
            .map(silencing_from_pb)
            .transpose()?
            .map(Box::new),
    };
    Ok((snapshot, state.input_offset))
}

mod compact;
mod notification;
pub use compact::{entry_at, expand};
use notification::{notification_from_pb, notification_to_pb};

#[cfg(test)]
mod tests;
