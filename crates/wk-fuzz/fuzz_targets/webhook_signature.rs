//! `Watchkeeper-Signature` verification, which consoles run on our webhooks and we run on
//! their callbacks: any header, body and clock must give a verdict without a panic; what we
//! sign always verifies within the tolerance, and never with another secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wk_core::Timestamp;
use wk_core::signing::{sign, verify};

fuzz_target!(|input: (String, Vec<u8>, i64, i64)| {
    let (header, body, now_seconds, tolerance) = input;
    let now = Timestamp::from_unix_millis(now_seconds.clamp(0, 1 << 40).saturating_mul(1000));
    let _ = verify(
        &header,
        &body,
        &["secret-one", "secret-two"],
        now,
        tolerance,
    );
    let signed = sign(&["secret-one"], now, &body);
    assert!(verify(&signed, &body, &["secret-two", "secret-one"], now, 300).is_ok());
    assert!(verify(&signed, &body, &["another-secret"], now, 300).is_err());
});
