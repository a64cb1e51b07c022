//! Console callbacks (`POST /callbacks/{console}`): any signature header and body must be
//! refused or accepted without a panic; an unsigned one is never accepted, and a body signed
//! with the console's secret is never refused for its signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wk_api::http::{CallbackRefusal, verify_callback};
use wk_core::Timestamp;
use wk_core::config::Console;

const SECRET: &str = "manila-callback-secret-for-the-fuzzer";
const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_000);

fuzz_target!(|input: (String, Vec<u8>)| {
    let (header, body) = input;
    let console = Console {
        name: "manila".into(),
        webhook_url: url::Url::parse("https://console.example.org/hooks").expect("a valid URL"),
        signing_secrets: vec![SECRET.to_owned()],
        emails: Vec::new(),
        failover: None,
        time_zone: None,
    };
    if let Ok(action) = verify_callback("manila", &console, &header, &body, NOW) {
        assert!(action.actor.starts_with("manila/"));
    }
    let signed = wk_core::signing::sign(&[SECRET], NOW, &body);
    match verify_callback("manila", &console, &signed, &body, NOW) {
        Ok(_) | Err(CallbackRefusal::Malformed(_)) => {}
        Err(CallbackRefusal::Unsigned(error)) => panic!("a genuine signature refused: {error}"),
    }
});
