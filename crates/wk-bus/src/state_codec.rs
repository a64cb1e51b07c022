//! The state changelog's records, whatever their machine's kind: a `StateRecord` envelope
//! tagged by kind (or, from before the envelope, a bare `EscalationState`).

use prost::Message;
use wk_core::escalation;
use wk_core::watch;
use wk_proto::v1 as pb;

use crate::codec::DecodeError;
use crate::escalation_codec::decode_escalation;
use crate::watch_codec::decode_watch;

/// One machine's persisted state, by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Escalation(escalation::Snapshot),
    OfficeWatch(watch::Snapshot),
    Headcount(Box<wk_core::headcount::Snapshot>),
}

/// The machine a state changelog record holds; a record from before the `StateRecord`
/// envelope is a bare `EscalationState`.
pub fn decode_state_record(bytes: &[u8]) -> Result<pb::state_record::Machine, DecodeError> {
    match pb::StateRecord::decode(bytes)?.machine {
        Some(machine) => Ok(machine),
        None => Ok(pb::state_record::Machine::Escalation(
            pb::EscalationState::decode(bytes)?,
        )),
    }
}

/// Decodes a state record and the input offset its state reflects.
pub fn decode_state(bytes: &[u8]) -> Result<(State, i64), DecodeError> {
    Ok(match decode_state_record(bytes)? {
        pb::state_record::Machine::Escalation(state) => {
            let (snapshot, offset) = decode_escalation(state)?;
            (State::Escalation(snapshot), offset)
        }
        pb::state_record::Machine::OfficeWatch(state) => {
            let (snapshot, offset) = decode_watch(state)?;
            (State::OfficeWatch(snapshot), offset)
        }
        pb::state_record::Machine::Headcount(state) => {
            let (snapshot, offset) = crate::headcount_codec::decode_headcount(state)?;
            (State::Headcount(Box::new(snapshot)), offset)
        }
    })
}
