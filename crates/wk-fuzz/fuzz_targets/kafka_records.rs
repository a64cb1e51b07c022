//! What the dispatcher and the api read from Kafka: alerts-topic events and state-changelog
//! snapshots. Any bytes must decode or be refused without a panic (a bad record is
//! dead-lettered, never a crash loop), and a snapshot that decodes must re-encode to one that
//! decodes to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wk_bus::codec::decode_event;
use wk_bus::escalation_codec::{decode_escalation, encode_escalation};

fuzz_target!(|data: &[u8]| {
    let _ = decode_event(data);
    if let Ok((snapshot, offset)) = decode_escalation(data) {
        let again = decode_escalation(&encode_escalation(&snapshot, offset))
            .expect("a re-encoded snapshot decodes");
        assert_eq!(again, (snapshot, offset));
    }
});
