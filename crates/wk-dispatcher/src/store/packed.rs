//! An escalation left alone, held packed: its state record, LZ4-compressed, with what the
//! store keeps beside it; and how it comes back (`unpack`) exactly as it was.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::error;
use wk_bus::state_codec::{State, decode_state};
use wk_bus::trace::TraceHeaders;
use wk_core::Timestamp;
use wk_core::escalation::{Escalation, Status};
use wk_core::policy::Chain;

use super::{Tracked, Written};
use crate::held::Held;

/// A settled escalation, packed: what `Tracked` holds, its machine as its state record.
pub(super) struct Packed {
    /// `encode_escalation(snapshot, input_offset)`, LZ4-compressed.
    pub(super) record: Box<[u8]>,
    pub(super) input_offset: i64,
    pub(super) armed: Option<Timestamp>,
    pub(super) counted: usize,
    pub(super) trace: TraceHeaders,
    pub(super) status: Standing,
    pub(super) written: Written,
    /// `Escalation::is_done` when packed.
    pub(super) done: bool,
    /// The sweep it was packed in.
    pub(super) since: u64,
    pub(super) incident: u32,
}

/// What the gauges count of a packed escalation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    Triggered { held: bool },
    Acknowledged,
    Resolved,
}

impl Standing {
    pub(crate) fn of(escalation: &Escalation) -> Standing {
        match escalation.status() {
            Status::Triggered => Standing::Triggered {
                held: escalation.is_held(),
            },
            Status::Acknowledged { .. } => Standing::Acknowledged,
            Status::Resolved { .. } => Standing::Resolved,
        }
    }
}

pub(super) fn decompress(record: &[u8]) -> Option<Vec<u8>> {
    lz4_flex::block::decompress_size_prepended(record)
        .inspect_err(|error| error!(%error, "a packed escalation does not unpack"))
        .ok()
}

/// The live machine of `packed`. Its record is this store's own encoding of a settled
/// escalation, so it decodes; were it ever not to, it is logged and the machine is lost to
/// this process (its last written state stays on the changelog for the next restore).
pub(super) fn unpack(packed: &Packed, chains: &BTreeMap<String, Arc<Chain>>) -> Option<Tracked> {
    let record = decompress(&packed.record)?;
    let snapshot = match decode_state(&record) {
        Ok((State::Escalation(snapshot), _)) => snapshot,
        Ok(_) => {
            error!("a packed escalation holds another kind of machine");
            return None;
        }
        Err(error) => {
            error!(%error, "a packed escalation does not decode");
            return None;
        }
    };
    Some(Tracked {
        machine: Held::Escalation(Escalation::resume_in(snapshot, chains)),
        input_offset: packed.input_offset,
        armed: packed.armed,
        counted: packed.counted,
        trace: packed.trace.clone(),
        written: packed.written,
        touched: 0,
    })
}
