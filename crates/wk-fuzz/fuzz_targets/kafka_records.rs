//! What the dispatcher and the api read from Kafka: alerts-topic facts, state-changelog
//! records of every kind and silences. Any bytes must decode or be refused without a panic (a bad record
//! is dead-lettered, never a crash loop), and a state that decodes must re-encode to one that
//! decodes to the same state. What the api gives its clients of an escalation's record (ids and
//! times filled in, `expand`) must be made without a panic too, and from a record that decodes,
//! without an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wk_bus::codec::decode_event;
use wk_bus::escalation_codec::{encode_escalation, expand};
use wk_bus::headcount_codec::encode_headcount;
use wk_bus::silence_codec::{decode_silence, encode_silence};
use wk_bus::state_codec::{State, decode_state, decode_state_record};
use wk_bus::watch_codec::encode_watch;

fuzz_target!(|data: &[u8]| {
    let _ = decode_event(data);
    if let Ok(silence) = decode_silence(data) {
        let again =
            decode_silence(&encode_silence(&silence)).expect("a re-encoded silence decodes");
        assert_eq!(again, silence);
    }
    let decoded = decode_state(data);
    if let Ok(wk_proto::v1::state_record::Machine::Escalation(mut state)) =
        decode_state_record(data)
    {
        let expanded = expand(&mut state);
        assert!(
            decoded.is_err() || expanded.is_ok(),
            "a record that decodes expands"
        );
    }
    if let Ok((state, offset)) = decoded {
        let encoded = match &state {
            State::Escalation(snapshot) => encode_escalation(snapshot, offset),
            State::OfficeWatch(snapshot) => encode_watch(snapshot, offset),
            State::Headcount(snapshot) => encode_headcount(snapshot, offset),
        };
        let again = decode_state(&encoded).expect("a re-encoded state decodes");
        assert_eq!(again, (state, offset));
    }
});
