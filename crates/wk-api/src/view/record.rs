//! How the view holds an alert's whole state: the record as the dispatcher wrote it (ids and
//! times left out where they can be made again), LZ4-compressed, and decoded, with what it
//! left out filled in, when a client asks for it.

use std::sync::Arc;

use prost::Message as _;
use wk_proto::v1 as pb;

use crate::row::Row;

/// A whole state as the view keeps it: protobuf-encoded as the dispatcher wrote it (ids
/// and times left out where they can be made again), then LZ4-compressed.
pub(super) fn pack(state: &pb::EscalationState) -> Arc<[u8]> {
    lz4_flex::block::compress_prepend_size(&state.encode_to_vec()).into()
}

pub(super) fn decode(record: &[u8]) -> Option<pb::EscalationState> {
    let encoded = lz4_flex::block::decompress_size_prepended(record)
        .inspect_err(|error| tracing::error!(%error, "a record of the read view does not unpack"))
        .ok()?;
    let mut state = pb::EscalationState::decode(encoded.as_slice())
        .inspect_err(
            |error| tracing::error!(%error, "a state record of the read view does not decode"),
        )
        .ok()?;
    // The record leaves out the ids it can make again; clients get them filled in.
    wk_bus::escalation_codec::expand(&mut state)
        .inspect_err(
            |error| tracing::error!(%error, "a state record of the read view does not expand"),
        )
        .ok()?;
    Some(state)
}

/// An alert's record and row, taken under the lock to be decoded after it.
pub(super) type Packed = (Option<Arc<[u8]>>, Option<Row>);

/// The whole state, decoded from its record. The record is this view's own encoding of a
/// decoded state, so it decodes; were it ever not to, the row is all there is.
pub(super) fn whole((record, row): &Packed) -> Option<pb::EscalationState> {
    record
        .as_deref()
        .and_then(decode)
        .or_else(|| row.as_ref().map(Row::to_state))
}
