//! One-click action links for emails: each link names the alert, the incident it was issued
//! for, the action, the recipient and an expiry, and carries
//! `hex(HMAC-SHA256(secret, "{alert}\ni{incident}\n{action}\n{recipient}\n{expiry}"))`.
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

/// What a link claims: the alert and the incident it was issued for, the action, the
/// recipient it was sent to, and its expiry in unix seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link<'a> {
    pub alert: AlertId,
    /// An alert resolved and raised again is a new incident: a link issued for the first
    /// must not act on the second.
    pub incident: u32,
    pub action: LinkAction,
    pub recipient: &'a str,
    pub expires: i64,
}

fn mac(secret: &[u8], text: &str) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(text.as_bytes());
    mac
}

/// `text`'s signature with `secret`, as hex.
pub(crate) fn sign(secret: &[u8], text: &str) -> String {
    hex::encode(mac(secret, text).finalize().into_bytes())
}

/// Checks `signature_hex` of `text` against every secret (more than one during a rotation),
/// then `expires` (unix seconds) against `now`.
pub(crate) fn verify<S: AsRef<[u8]>>(
    secrets: &[S],
    text: &str,
    signature_hex: &str,
    expires: i64,
    now: Timestamp,
) -> Result<(), LinkError> {
    let signature = hex::decode(signature_hex).map_err(|_| LinkError::Forged)?;
    let genuine = secrets
        .iter()
        .any(|secret| mac(secret.as_ref(), text).verify_slice(&signature).is_ok());
    if !genuine {
        return Err(LinkError::Forged);
    }
    if now.as_unix_seconds() > expires {
        return Err(LinkError::Expired);
    }
    Ok(())
}

impl Link<'_> {
    fn text(&self) -> String {
        format!(
            "{}\ni{}\n{}\n{}\n{}",
            self.alert,
            self.incident,
            self.action.as_str(),
            self.recipient,
            self.expires
        )
    }

    /// The link's signature, as hex.
    pub fn sign(&self, secret: &[u8]) -> String {
        sign(secret, &self.text())
    }

    /// Checks the signature against every secret (more than one during a rotation), then the
    /// expiry against `now`.
    pub fn verify<S: AsRef<[u8]>>(
        &self,
        secrets: &[S],
        signature_hex: &str,
        now: Timestamp,
    ) -> Result<(), LinkError> {
        verify(secrets, &self.text(), signature_hex, self.expires, now)
    }
}

/// The fields a link's address carries after its path (`a/<alert>/<action>`), as
/// [`Link::url`] writes them: `?i=<incident>&r=<recipient>&e=<expiry>&s=<signature>`. The
/// confirmation page posts the same fields as its form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkFields {
    pub incident: u32,
    pub recipient: String,
    pub expires: i64,
    pub signature: String,
}

impl LinkFields {
    /// Parses a query string or a form body; `None` when a field is missing or malformed (a
    /// truncated link), which callers refuse like a forged one.
    pub fn parse(encoded: &str) -> Option<LinkFields> {
        let (mut incident, mut recipient, mut expires, mut signature) = (None, None, None, None);
        for (key, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
            match key.as_ref() {
                "i" => incident = value.parse().ok(),
                "r" => recipient = Some(value.into_owned()),
                "e" => expires = value.parse().ok(),
                "s" => signature = Some(value.into_owned()),
                _ => {}
            }
        }
        Some(LinkFields {
            incident: incident?,
            recipient: recipient?,
            expires: expires?,
            signature: signature?,
        })
    }

    /// The link these fields claim, for `alert` and `action` from its path.
    pub fn link(&self, alert: AlertId, action: LinkAction) -> Link<'_> {
        Link {
            alert,
            incident: self.incident,
            action,
            recipient: &self.recipient,
            expires: self.expires,
        }
    }
}

impl Link<'_> {
    /// The link's address under `base` (the api's public HTTP base, ending in `/`), signed
    /// with `secret`.
    pub fn url(&self, base: &url::Url, secret: &[u8]) -> Option<url::Url> {
        let mut url = base
            .join(&format!("a/{}/{}", self.alert, self.action.as_str()))
            .ok()?;
        url.query_pairs_mut()
            .append_pair("i", &self.incident.to_string())
            .append_pair("r", self.recipient)
            .append_pair("e", &self.expires.to_string())
            .append_pair("s", &self.sign(secret));
        Some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_links_address_parses_back_into_the_same_link() {
        let link = Link {
            alert: AlertId::for_dedup_key("ng-maiduguri", "gate"),
            incident: 2,
            action: LinkAction::Resolve,
            recipient: "duty+manila@example.org",
            expires: 1_795_000_000,
        };
        let base = url::Url::parse("https://wk.example.org/prefix/").expect("url");
        let url = link.url(&base, SECRET).expect("joins");
        assert!(url.as_str().starts_with(&format!(
            "https://wk.example.org/prefix/a/{}/resolve?i=2&r=",
            link.alert
        )));
        let fields = LinkFields::parse(url.query().unwrap_or_default()).expect("parses");
        assert_eq!(fields.link(link.alert, link.action), link);
        assert_eq!(fields.signature, link.sign(SECRET));
        assert!(LinkFields::parse("i=2&r=x&e=5").is_none(), "no signature");
        assert!(
            LinkFields::parse("i=two&r=x&e=5&s=00").is_none(),
            "malformed incident"
        );
    }

    const SECRET: &[u8] = b"link-secret-for-tests-0123456789";

    fn link(action: LinkAction, recipient: &str, expires: i64) -> Link<'_> {
        Link {
            alert: AlertId::for_dedup_key("ng-maiduguri", "gate"),
            incident: 1,
            action,
            recipient,
            expires,
        }
    }

    #[test]
    fn a_link_verifies_until_it_expires() {
        let genuine = link(LinkAction::Acknowledge, "duty@example.org", 2_000_000_000);
        let signature = genuine.sign(SECRET);
        let at = Timestamp::from_unix_millis;
        assert_eq!(
            genuine.verify(&[SECRET], &signature, at(1_999_999_999_000)),
            Ok(())
        );
        assert_eq!(
            genuine.verify(&[SECRET], &signature, at(2_000_000_001_000)),
            Err(LinkError::Expired)
        );
        let altered = [
            link(LinkAction::Resolve, "duty@example.org", 2_000_000_000),
            link(LinkAction::Acknowledge, "other@example.org", 2_000_000_000),
            // A later expiry is an alteration, not an extension.
            link(LinkAction::Acknowledge, "duty@example.org", 2_100_000_000),
            // Issued for incident 1, presented for incident 2.
            Link {
                incident: 2,
                ..genuine
            },
        ];
        for altered in altered {
            assert_eq!(
                altered.verify(&[SECRET], &signature, at(0)),
                Err(LinkError::Forged),
                "{altered:?}"
            );
        }
        for bad in ["00", "zz"] {
            assert_eq!(
                genuine.verify(&[SECRET], bad, at(0)),
                Err(LinkError::Forged)
            );
        }
    }

    #[test]
    fn rotation_accepts_the_old_secret_too() {
        let genuine = link(LinkAction::Resolve, "a@b", 2_000_000_000);
        let old = genuine.sign(b"old-secret");
        let secrets: [&[u8]; 2] = [SECRET, b"old-secret"];
        assert_eq!(
            genuine.verify(&secrets, &old, Timestamp::UNIX_EPOCH),
            Ok(())
        );
    }
}
