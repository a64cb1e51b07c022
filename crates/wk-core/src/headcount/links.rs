//! The signed one-click links of a headcount's mails, on the pattern of the alert links
//! (`crate::links`): each names the headcount, the person, the answer, who answers (empty for
//! the person, a warden's id for a proxy answer) and an expiry, and carries
//! `hex(HMAC-SHA256(secret, "headcount\n{headcount}\n{person}\n{reply}\n{by}\n{expiry}"))`.
//! The address opens a confirmation page whose button posts the same fields, so a mail
//! scanner that prefetches links cannot answer for anyone. Pure: time is passed in.

use super::Reply;
use crate::links::LinkError;
use crate::time::Timestamp;

impl Reply {
    pub fn as_str(self) -> &'static str {
        match self {
            Reply::Safe => "safe",
            Reply::NeedHelp => "need-help",
            Reply::NotInArea => "not-in-area",
        }
    }

    pub fn parse(text: &str) -> Option<Reply> {
        [Reply::Safe, Reply::NeedHelp, Reply::NotInArea]
            .into_iter()
            .find(|reply| reply.as_str() == text)
    }

    /// The words of the answer's button.
    pub fn label(self) -> &'static str {
        match self {
            Reply::Safe => "I am safe",
            Reply::NeedHelp => "I need help",
            Reply::NotInArea => "I am not in the area",
        }
    }
}

/// What an answer link claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerLink {
    pub headcount: String,
    pub person: String,
    pub reply: Reply,
    /// Empty when the person answers; the warden's id when a warden answers for them.
    pub by: String,
    /// Unix seconds.
    pub expires: i64,
}

impl AnswerLink {
    fn text(&self) -> String {
        format!(
            "headcount\n{}\n{}\n{}\n{}\n{}",
            self.headcount,
            self.person,
            self.reply.as_str(),
            self.by,
            self.expires
        )
    }

    pub fn sign(&self, secret: &[u8]) -> String {
        crate::links::sign(secret, &self.text())
    }

    /// Checks the signature against every secret (more than one during a rotation), then the
    /// expiry against `now`.
    pub fn verify<S: AsRef<[u8]>>(
        &self,
        secrets: &[S],
        signature_hex: &str,
        now: Timestamp,
    ) -> Result<(), LinkError> {
        crate::links::verify(secrets, &self.text(), signature_hex, self.expires, now)
    }

    /// `{base}h/{headcount}/{person}/{reply}?b={by}&e={expiry}&s={signature}`.
    pub fn url(&self, base: &url::Url, secret: &[u8]) -> Option<url::Url> {
        let mut url = base
            .join(&format!(
                "h/{}/{}/{}",
                self.headcount,
                self.person,
                self.reply.as_str()
            ))
            .ok()?;
        url.query_pairs_mut()
            .append_pair("b", &self.by)
            .append_pair("e", &self.expires.to_string())
            .append_pair("s", &self.sign(secret));
        Some(url)
    }

    /// The link an address names: its path segments after `h/` and its query (or the
    /// confirmation form's body), with the signature; `None` when a part is missing.
    pub fn parse(
        headcount: &str,
        person: &str,
        reply: &str,
        encoded: &str,
    ) -> Option<(AnswerLink, String)> {
        let (mut by, mut expires, mut signature) = (None, None, None);
        for (key, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
            match key.as_ref() {
                "b" => by = Some(value.into_owned()),
                "e" => expires = value.parse().ok(),
                "s" => signature = Some(value.into_owned()),
                _ => {}
            }
        }
        let link = AnswerLink {
            headcount: headcount.to_owned(),
            person: person.to_owned(),
            reply: Reply::parse(reply)?,
            by: by?,
            expires: expires?,
        };
        Some((link, signature?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"links-signing-secret-for-tests-0123456789";

    fn link() -> AnswerLink {
        AnswerLink {
            headcount: "019ad2c0".into(),
            person: "p-0001".into(),
            reply: Reply::NeedHelp,
            by: String::new(),
            expires: 1_795_086_400,
        }
    }

    #[test]
    fn an_answer_link_parses_back_and_verifies() {
        let base = url::Url::parse("https://watchkeeper.example.org/").unwrap();
        let url = link().url(&base, SECRET).unwrap();
        assert!(url.path().ends_with("/h/019ad2c0/p-0001/need-help"));
        let segments: Vec<&str> = url.path_segments().unwrap().collect();
        let (parsed, signature) =
            AnswerLink::parse(segments[1], segments[2], segments[3], url.query().unwrap()).unwrap();
        assert_eq!(parsed, link());
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        assert_eq!(parsed.verify(&[SECRET], &signature, now), Ok(()));
        let later = Timestamp::from_unix_millis(1_795_086_401_000);
        assert_eq!(
            parsed.verify(&[SECRET], &signature, later),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn an_altered_link_is_forged() {
        let signature = link().sign(SECRET);
        let now = Timestamp::from_unix_millis(1_795_000_000_000);
        for altered in [
            AnswerLink {
                reply: Reply::Safe,
                ..link()
            },
            AnswerLink {
                person: "p-0002".into(),
                ..link()
            },
            AnswerLink {
                by: "warden-9".into(),
                ..link()
            },
        ] {
            assert_eq!(
                altered.verify(&[SECRET], &signature, now),
                Err(LinkError::Forged)
            );
        }
        // An alert link's secret and text never make a headcount link.
        assert_eq!(link().verify(&[SECRET], "00", now), Err(LinkError::Forged));
    }
}
