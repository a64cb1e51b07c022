//! Record encoding: core types to and from the protobuf messages of `records.proto`. Decoding
//! re-validates, so nothing malformed reaches the dispatcher's decisions.

use prost::Message;
use wk_core::alert::{Alert, AlertId};
use wk_core::escalation::Responder;
use wk_core::time::Timestamp;
use wk_core::validate::Violations;
use wk_core::watch::OfficeKey;
use wk_proto::v1 as pb;

use crate::watch_codec::{OfficeFact, decode_office_fact};

/// A record value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a valid protobuf message: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("bad alert id: {0}")]
    AlertId(#[from] wk_core::alert::ParseAlertIdError),
    #[error("{0}")]
    Invalid(#[from] Violations),
    #[error("alert id {found} does not match the record's {expected}")]
    IdMismatch { expected: AlertId, found: AlertId },
    #[error("unknown enum value {value} in {field}")]
    UnknownEnum { field: &'static str, value: i32 },
    #[error("bad target: {0}")]
    Target(String),
    #[error("bad {0}: {1}")]
    Field(&'static str, String),
}

pub use wk_proto::convert::{
    alert_to_pb, category_from_pb, category_to_pb, draft_from_pb, severity_from_pb, severity_to_pb,
    timestamp_from_pb, timestamp_to_pb,
};
use wk_proto::convert::{responder_from_pb, responder_to_pb};

/// A timestamp a record must carry, or which field is missing.
pub(crate) fn required_time(
    value: Option<&prost_types::Timestamp>,
    field: &'static str,
) -> Result<Timestamp, DecodeError> {
    value
        .and_then(timestamp_from_pb)
        .ok_or(DecodeError::Missing(field))
}

/// Decodes and re-validates an alert that was accepted at `accepted_at` under `id`.
pub(crate) fn alert_from_pb(
    alert: Option<pb::Alert>,
    id: AlertId,
    accepted_at: Timestamp,
) -> Result<Alert, DecodeError> {
    let alert = alert.ok_or(DecodeError::Missing("alert"))?;
    let alert = draft_from_pb(alert).validate(accepted_at, id)?;
    if alert.id != id {
        return Err(DecodeError::IdMismatch {
            expected: id,
            found: alert.id,
        });
    }
    Ok(alert)
}

/// One fact from the alerts topic.
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    Raised {
        alert: Alert,
        at: Timestamp,
    },
    Acknowledged {
        alert_id: AlertId,
        by: Responder,
        /// The incident a link or callback was issued for; `None` acts on the current one.
        incident: Option<u32>,
        at: Timestamp,
    },
    Resolved {
        alert_id: AlertId,
        by: Responder,
        incident: Option<u32>,
        at: Timestamp,
    },
    NoteAdded {
        alert_id: AlertId,
        by: Responder,
        text: String,
        at: Timestamp,
    },
    /// A fact about an office's check-in watch.
    Office {
        office: OfficeKey,
        fact: OfficeFact,
    },
    /// A fact about a staff headcount, accepted at `at`.
    Headcount {
        id: wk_core::headcount::HeadcountId,
        fact: crate::headcount_codec::HeadcountFact,
        at: Timestamp,
    },
}

impl Fact {
    /// The alert the fact is about; `None` for an office's fact.
    pub fn alert_id(&self) -> Option<AlertId> {
        match self {
            Fact::Raised { alert, .. } => Some(alert.id),
            Fact::Acknowledged { alert_id, .. }
            | Fact::Resolved { alert_id, .. }
            | Fact::NoteAdded { alert_id, .. } => Some(*alert_id),
            Fact::Office { .. } | Fact::Headcount { .. } => None,
        }
    }
}

/// What a duty officer did to an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OfficerAction {
    Acknowledge,
    Resolve,
    Note(String),
}

/// Encodes `action` by `by` on `alert_id`; `incident` is the incident a link or callback was
/// issued for (`None` from the gRPC API and the CLI, which act on the current incident).
pub fn encode_action(
    alert_id: AlertId,
    action: &OfficerAction,
    by: &Responder,
    incident: Option<u32>,
    at: Timestamp,
) -> Vec<u8> {
    let by = responder_to_pb(by);
    pb::AlertEvent {
        alert_id: alert_id.to_string(),
        at: Some(timestamp_to_pb(at)),
        event: Some(match action {
            OfficerAction::Acknowledge => pb::alert_event::Event::Acknowledged(by),
            OfficerAction::Resolve => pb::alert_event::Event::Resolved(by),
            OfficerAction::Note(text) => pb::alert_event::Event::Note(pb::Note {
                by: Some(by),
                text: text.clone(),
            }),
        }),
        incident,
        office_id: String::new(),
    }
    .encode_to_vec()
}

pub fn encode_raised(alert: &Alert, at: Timestamp) -> Vec<u8> {
    pb::AlertEvent {
        alert_id: alert.id.to_string(),
        at: Some(timestamp_to_pb(at)),
        event: Some(pb::alert_event::Event::Raised(pb::AlertRaised {
            alert: Some(alert_to_pb(alert)),
        })),
        incident: None,
        office_id: String::new(),
    }
    .encode_to_vec()
}

pub fn decode_event(bytes: &[u8]) -> Result<Fact, DecodeError> {
    let event = pb::AlertEvent::decode(bytes)?;
    let at = event
        .at
        .as_ref()
        .and_then(timestamp_from_pb)
        .ok_or(DecodeError::Missing("at"))?;
    let incident = event.incident;
    let fact = event.event.ok_or(DecodeError::Missing("event"))?;
    if let pb::alert_event::Event::CheckIn(_)
    | pb::alert_event::Event::Paused(_)
    | pb::alert_event::Event::Resumed(_) = fact
    {
        let (office, fact) = decode_office_fact(&event.office_id, at, fact)?;
        return Ok(Fact::Office { office, fact });
    }
    if let pb::alert_event::Event::Headcount(headcount) = fact {
        let (id, fact) = crate::headcount_codec::decode_headcount_fact(headcount)?;
        return Ok(Fact::Headcount { id, fact, at });
    }
    let id: AlertId = event.alert_id.parse()?;
    match fact {
        pb::alert_event::Event::Raised(raised) => Ok(Fact::Raised {
            alert: alert_from_pb(raised.alert, id, at)?,
            at,
        }),
        pb::alert_event::Event::Acknowledged(by) => Ok(Fact::Acknowledged {
            alert_id: id,
            by: responder_from_pb(by),
            incident,
            at,
        }),
        pb::alert_event::Event::Note(note) => Ok(Fact::NoteAdded {
            alert_id: id,
            by: responder_from_pb(note.by.unwrap_or_default()),
            text: note.text,
            at,
        }),
        pb::alert_event::Event::Resolved(by) => Ok(Fact::Resolved {
            alert_id: id,
            by: responder_from_pb(by),
            incident,
            at,
        }),
        pb::alert_event::Event::CheckIn(_)
        | pb::alert_event::Event::Paused(_)
        | pb::alert_event::Event::Resumed(_) => Err(DecodeError::Missing("office_id")),
        pb::alert_event::Event::Headcount(_) => Err(DecodeError::Missing("headcount")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wk_core::alert::{Category, Coordinates, Severity};
    use wk_core::validate::AlertDraft;

    fn alert(now: Timestamp) -> Alert {
        AlertDraft {
            office_id: "so-mogadishu".into(),
            severity: Some(Severity::Emergency),
            category: Some(Category::Abduction),
            title: "Driver missing".into(),
            description: "Last seen at the checkpoint".into(),
            country: "SO".into(),
            place: "Mogadishu".into(),
            coordinates: Some(Coordinates {
                latitude: 2.04,
                longitude: 45.34,
            }),
            occurred_at: Some(now),
            staff_affected: 1,
            dedup_key: "driver-7".into(),
            labels: [("vehicle".to_owned(), "LC-12".to_owned())]
                .into_iter()
                .collect(),
            occurred_at_out_of_range: false,
            origin: None,
        }
        .validate(now, AlertId::fresh(now, [0; 10]))
        .unwrap()
    }

    #[test]
    fn events_round_trip() {
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        let alert = alert(now);
        let id = alert.id;
        let decoded = decode_event(&encode_raised(&alert, now)).unwrap();
        assert_eq!(decoded, Fact::Raised { alert, at: now });
        let by = Responder {
            actor: "maria".into(),
            channel: "api".into(),
        };
        let ack = decode_event(&encode_action(
            id,
            &OfficerAction::Acknowledge,
            &by,
            Some(2),
            now,
        ))
        .unwrap();
        assert_eq!(
            ack,
            Fact::Acknowledged {
                alert_id: id,
                by: by.clone(),
                incident: Some(2),
                at: now
            }
        );
        let resolve =
            decode_event(&encode_action(id, &OfficerAction::Resolve, &by, None, now)).unwrap();
        assert_eq!(
            resolve,
            Fact::Resolved {
                alert_id: id,
                by,
                incident: None,
                at: now
            }
        );
    }

    #[test]
    fn an_occurred_at_beyond_the_calendar_is_not_called_missing() {
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        let mut sent = alert_to_pb(&alert(now));
        sent.occurred_at = Some(prost_types::Timestamp {
            seconds: i64::MAX / 2,
            nanos: 0,
        });
        let error = draft_from_pb(sent)
            .validate(now, AlertId::fresh(now, [0; 10]))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid alert: occurred_at: is outside the years 0001-9999; check the office's clock"
        );
    }

    #[test]
    fn refuses_garbage_and_mismatched_ids() {
        assert!(decode_event(b"\xff\xff\xff").is_err());
        assert!(matches!(decode_event(&[]), Err(DecodeError::Missing("at"))));
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        let mut event = pb::AlertEvent::decode(encode_raised(&alert(now), now).as_slice()).unwrap();
        event.alert_id = AlertId::fresh(now, [1; 10]).to_string();
        assert!(matches!(
            decode_event(&event.encode_to_vec()),
            Err(DecodeError::IdMismatch { .. })
        ));
    }
}
