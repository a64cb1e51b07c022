//! One-click links from alert emails, as the api's link handlers check them: any path and
//! fields must be refused or accepted without a panic, a link is accepted only if it is exactly
//! one that was signed (for its incident too), and a genuinely signed one is accepted exactly
//! until it expires.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wk_api::http::verify_link;
use wk_core::Timestamp;
use wk_core::config::LinksConfig;
use wk_core::links::Link;

const SECRET: &str = "links-secret-for-the-fuzzer-0123456789";

fuzz_target!(|input: (String, String, u32, String, i64, String, i64)| {
    let (alert, action, incident, recipient, expires, signature, now) = input;
    let links = LinksConfig {
        base_url: url::Url::parse("https://watchkeeper.example.org").expect("a valid URL"),
        secrets: vec![SECRET.to_owned()],
        ttl: std::time::Duration::from_secs(3600),
    };
    let now = Timestamp::from_unix_millis(now.saturating_mul(1000));
    let fields = (incident, recipient.as_str(), expires, signature.as_str());
    if let Ok((id, checked)) = verify_link(Some(&links), &alert, &action, fields, now) {
        // Accepted: the signature must be the genuine one for exactly these fields.
        let genuine = Link {
            alert: id,
            incident,
            action: checked,
            recipient: &recipient,
            expires,
        }
        .sign(SECRET.as_bytes());
        assert!(signature.eq_ignore_ascii_case(&genuine));
    }
    // The genuine signature for these fields: accepted until it expires, refused after, and
    // refused for any other incident.
    if let (Ok(id), Some(parsed)) = (
        alert.parse::<wk_core::alert::AlertId>(),
        wk_core::links::LinkAction::parse(&action),
    ) {
        let genuine = Link {
            alert: id,
            incident,
            action: parsed,
            recipient: &recipient,
            expires,
        }
        .sign(SECRET.as_bytes());
        let verdict = verify_link(
            Some(&links),
            &alert,
            &action,
            (incident, &recipient, expires, &genuine),
            now,
        );
        if now.as_unix_seconds() > expires {
            assert!(matches!(
                verdict,
                Err(wk_api::http::Refusal::Link(
                    wk_core::links::LinkError::Expired
                ))
            ));
        } else {
            assert_eq!(verdict.ok(), Some((id, parsed)));
        }
        let other = verify_link(
            Some(&links),
            &alert,
            &action,
            (incident.wrapping_add(1), &recipient, expires, &genuine),
            now,
        );
        assert!(matches!(
            other,
            Err(wk_api::http::Refusal::Link(wk_core::links::LinkError::Forged))
        ));
    }
    // Without links configured nothing is a link.
    assert!(verify_link(None, &alert, &action, fields, now).is_err());
});
