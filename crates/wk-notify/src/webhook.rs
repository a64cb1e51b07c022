//! Signed webhooks to the consoles (reqwest). One POST per call with a JSON body, an
//! `Idempotency-Key` header and a `Watchkeeper-Signature` header (see `wk_core::signing`).

use std::time::Duration;

use wk_core::Timestamp;
use wk_core::signing::{SIGNATURE_HEADER, sign};

use crate::{SendError, SetupError};

/// What to do after an HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusClass {
    Delivered,
    Retry,
    GiveUp,
}

/// 2xx is delivered; 408, 429 and 5xx are worth retrying; anything else will not improve.
pub fn classify(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Delivered,
        408 | 429 | 500..=599 => StatusClass::Retry,
        _ => StatusClass::GiveUp,
    }
}

#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
}

impl WebhookSender {
    pub fn new(timeout: Duration) -> Result<WebhookSender, SetupError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("watchkeeper/", env!("CARGO_PKG_VERSION")))
            // A console that redirects is misconfigured; do not re-send the alert elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(WebhookSender { client })
    }

    /// Posts `body` to `url`, signed at `now` with every secret in `secrets`.
    pub async fn post(
        &self,
        url: &url::Url,
        secrets: &[String],
        idempotency_key: &str,
        body: Vec<u8>,
        now: Timestamp,
    ) -> Result<(), SendError> {
        let signature = sign(secrets, now, &body);
        let response = self
            .client
            .post(url.as_str())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", idempotency_key)
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|error| SendError::Transient(describe(&error)))?;
        let status = response.status().as_u16();
        match classify(status) {
            StatusClass::Delivered => Ok(()),
            StatusClass::Retry => Err(SendError::Transient(format!("HTTP {status}"))),
            StatusClass::GiveUp => Err(SendError::Permanent(format!("HTTP {status}"))),
        }
    }
}

/// A short reason without the URL (which may carry a token in its query).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection failed".into()
    } else if error.is_request() || error.is_body() {
        "request failed".into()
    } else {
        "http error".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(200), StatusClass::Delivered);
        assert_eq!(classify(204), StatusClass::Delivered);
        assert_eq!(classify(408), StatusClass::Retry);
        assert_eq!(classify(429), StatusClass::Retry);
        assert_eq!(classify(503), StatusClass::Retry);
        assert_eq!(classify(400), StatusClass::GiveUp);
        assert_eq!(classify(401), StatusClass::GiveUp);
        assert_eq!(classify(301), StatusClass::GiveUp);
    }
}
