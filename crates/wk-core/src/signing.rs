//! The webhook signature scheme, shared by our sender and by anyone verifying our webhooks.
//!
//! Every webhook carries the header
//!
//! ```text
//! Watchkeeper-Signature: t=1795000000,v1=5f0c…(64 hex digits)[,v1=…]
//! ```
//!
//! where `t` is the sending time in Unix seconds and each `v1` is
//! `hex(HMAC-SHA256(secret, "{t}." + raw request body))`. During a secret rotation there is one
//! `v1` per active secret. A receiver recomputes the HMAC over the exact bytes it received with
//! its secret, accepts if any `v1` matches (compared in constant time), and rejects a `t` more
//! than its tolerance (we suggest 5 minutes) away from its own clock, against replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::time::Timestamp;

/// The HTTP header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Watchkeeper-Signature";

/// The tolerance we suggest to receivers and use ourselves for signed callbacks.
pub const DEFAULT_TOLERANCE_SECONDS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], timestamp_seconds: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `now` with every secret in `secrets`.
pub fn sign<S: AsRef<[u8]>>(secrets: &[S], now: Timestamp, body: &[u8]) -> String {
    let timestamp_seconds = now.as_unix_seconds();
    let mut header = format!("t={timestamp_seconds}");
    for secret in secrets {
        let digest = mac(secret.as_ref(), timestamp_seconds, body)
            .finalize()
            .into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(digest));
    }
    header
}

/// Why a signature was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("signature timestamp {signed_at} is outside the {tolerance_seconds} s tolerance")]
    Stale {
        signed_at: i64,
        tolerance_seconds: i64,
    },
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies a `Watchkeeper-Signature` header value for `body` at `now`, accepting any of
/// `secrets` (more than one during a rotation).
pub fn verify<S: AsRef<[u8]>>(
    header: &str,
    body: &[u8],
    secrets: &[S],
    now: Timestamp,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    let mut signed_at = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("expected key=value pairs"))?;
        match key {
            "t" => {
                let seconds = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed("t is not an integer"))?;
                if signed_at.replace(seconds).is_some() {
                    return Err(SignatureError::Malformed("t appears twice"));
                }
            }
            "v1" => {
                let digest =
                    hex::decode(value).map_err(|_| SignatureError::Malformed("v1 is not hex"))?;
                if digest.len() != 32 {
                    return Err(SignatureError::Malformed("v1 is not 32 bytes"));
                }
                candidates.push(digest);
            }
            // Unknown schemes are ignored, so a future v2 can be added alongside v1.
            _ => {}
        }
    }
    let signed_at = signed_at.ok_or(SignatureError::Malformed("t is missing"))?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    if now.as_unix_seconds().abs_diff(signed_at) > tolerance_seconds.unsigned_abs() {
        return Err(SignatureError::Stale {
            signed_at,
            tolerance_seconds,
        });
    }
    let matches = secrets.iter().any(|secret| {
        candidates.iter().any(|candidate| {
            mac(secret.as_ref(), signed_at, body)
                .verify_slice(candidate)
                .is_ok()
        })
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix_millis(1_795_000_000_123);
    const BODY: &[u8] = br#"{"alert_id":"x"}"#;

    #[test]
    fn matches_a_known_vector() {
        // Computed independently: printf '1795000000.{"alert_id":"x"}' |
        //   openssl dgst -sha256 -hmac secret
        let header = sign(&["secret"], NOW, BODY);
        assert_eq!(
            header,
            "t=1795000000,v1=3efbc1149df2056fde6154881d6be60c55c6a844ab6f49fc94f648658667c20c"
        );
        verify(&header, BODY, &["secret"], NOW, 300).unwrap();
    }

    #[test]
    fn accepts_any_active_secret_during_rotation() {
        let header = sign(&["old", "new"], NOW, BODY);
        assert_eq!(header.matches("v1=").count(), 2);
        verify(&header, BODY, &["new"], NOW, 300).unwrap();
        verify(&header, BODY, &["old"], NOW, 300).unwrap();
        assert_eq!(
            verify(&header, BODY, &["other"], NOW, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn refuses_altered_body_and_stale_or_malformed_headers() {
        let header = sign(&["secret"], NOW, BODY);
        assert_eq!(
            verify(&header, b"{\"alert_id\":\"y\"}", &["secret"], NOW, 300),
            Err(SignatureError::Mismatch)
        );
        let later = NOW.saturating_add_millis(301_000);
        assert!(matches!(
            verify(&header, BODY, &["secret"], later, 300),
            Err(SignatureError::Stale { .. })
        ));
        for bad in [
            "",
            "t=1",
            "v1=00",
            "t=x,v1=00",
            "t=1,t=1,v1=00",
            "t=1,v1=zz",
            "t=1,v1=00",
        ] {
            assert!(
                matches!(
                    verify(bad, BODY, &["secret"], NOW, 300),
                    Err(SignatureError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn verify_never_panics(header in ".{0,200}", body in proptest::collection::vec(0u8.., 0..64)) {
            let _ = verify(&header, &body, &["secret"], NOW, 300);
        }

        #[test]
        fn sign_then_verify_round_trips(body in proptest::collection::vec(0u8.., 0..256), secret in "[ -~]{1,40}") {
            let header = sign(&[secret.as_str()], NOW, &body);
            proptest::prop_assert!(verify(&header, &body, &[secret.as_str()], NOW, 0).is_ok());
        }
    }
}
