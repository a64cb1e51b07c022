//! One-click action links for emails: each link names the alert, the action, the recipient
//! and an expiry, and carries `hex(HMAC-SHA256(secret, "{alert}\n{action}\n{recipient}\n{expiry}"))`.
//! A forged, altered or expired link is refused. Pure: time is passed in.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::alert::AlertId;
use crate::time::Timestamp;

/// What a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    Acknowledge,
    Resolve,
}

impl LinkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Acknowledge => "acknowledge",
            LinkAction::Resolve => "resolve",
        }
    }

    pub fn parse(text: &str) -> Option<LinkAction> {
        match text {
            "acknowledge" => Some(LinkAction::Acknowledge),
            "resolve" => Some(LinkAction::Resolve),
            _ => None,
        }
    }
}

/// Why a link was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not valid: it was altered or not issued by Watchkeeper")]
    Forged,
    #[error("the link has expired")]
    Expired,
}

fn mac(
    secret: &[u8],
    alert: AlertId,
    action: LinkAction,
    recipient: &str,
    expires: i64,
) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(format!("{alert}\n{}\n{recipient}\n{expires}", action.as_str()).as_bytes());
    mac
}

/// The signature of a link, as hex.
pub fn sign(
    secret: &[u8],
    alert: AlertId,
    action: LinkAction,
    recipient: &str,
    expires: Timestamp,
) -> String {
    let expires = expires.as_unix_seconds();
    hex::encode(
        mac(secret, alert, action, recipient, expires)
            .finalize()
            .into_bytes(),
    )
}

/// Checks a link's signature against every secret (more than one during a rotation), then its
/// expiry against `now`.
pub fn verify<S: AsRef<[u8]>>(
    secrets: &[S],
    alert: AlertId,
    action: LinkAction,
    recipient: &str,
    expires_unix_seconds: i64,
    signature_hex: &str,
    now: Timestamp,
) -> Result<(), LinkError> {
    let signature = hex::decode(signature_hex).map_err(|_| LinkError::Forged)?;
    let genuine = secrets.iter().any(|secret| {
        mac(
            secret.as_ref(),
            alert,
            action,
            recipient,
            expires_unix_seconds,
        )
        .verify_slice(&signature)
        .is_ok()
    });
    if !genuine {
        return Err(LinkError::Forged);
    }
    if now.as_unix_seconds() > expires_unix_seconds {
        return Err(LinkError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"link-secret-for-tests-0123456789";

    fn id() -> AlertId {
        AlertId::for_dedup_key("ng-maiduguri", "gate")
    }

    #[test]
    fn a_link_verifies_until_it_expires() {
        let expires = Timestamp::from_unix_millis(2_000_000_000_000);
        let signature = sign(
            SECRET,
            id(),
            LinkAction::Acknowledge,
            "duty@example.org",
            expires,
        );
        let check = |now_ms, action, recipient: &str, signature: &str| {
            verify(
                &[SECRET],
                id(),
                action,
                recipient,
                2_000_000_000,
                signature,
                Timestamp::from_unix_millis(now_ms),
            )
        };
        assert_eq!(
            check(
                1_999_999_999_000,
                LinkAction::Acknowledge,
                "duty@example.org",
                &signature
            ),
            Ok(())
        );
        assert_eq!(
            check(
                2_000_000_001_000,
                LinkAction::Acknowledge,
                "duty@example.org",
                &signature
            ),
            Err(LinkError::Expired)
        );
        assert_eq!(
            check(0, LinkAction::Resolve, "duty@example.org", &signature),
            Err(LinkError::Forged)
        );
        assert_eq!(
            check(0, LinkAction::Acknowledge, "other@example.org", &signature),
            Err(LinkError::Forged)
        );
        assert_eq!(
            check(0, LinkAction::Acknowledge, "duty@example.org", "00"),
            Err(LinkError::Forged)
        );
        assert_eq!(
            check(0, LinkAction::Acknowledge, "duty@example.org", "zz"),
            Err(LinkError::Forged)
        );
        // A later expiry is an alteration, not an extension.
        let extended = verify(
            &[SECRET],
            id(),
            LinkAction::Acknowledge,
            "duty@example.org",
            2_100_000_000,
            &signature,
            Timestamp::from_unix_millis(0),
        );
        assert_eq!(extended, Err(LinkError::Forged));
    }

    #[test]
    fn rotation_accepts_the_old_secret_too() {
        let expires = Timestamp::from_unix_millis(2_000_000_000_000);
        let old = sign(b"old-secret", id(), LinkAction::Resolve, "a@b", expires);
        let secrets: [&[u8]; 2] = [SECRET, b"old-secret"];
        assert_eq!(
            verify(
                &secrets,
                id(),
                LinkAction::Resolve,
                "a@b",
                2_000_000_000,
                &old,
                Timestamp::UNIX_EPOCH
            ),
            Ok(())
        );
    }
}
