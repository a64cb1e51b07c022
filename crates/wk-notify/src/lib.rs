//! Watchkeeper's notifiers, the only crate that knows lettre and reqwest: signed webhooks to the
//! consoles and emails to duty officers. Each `send` makes one attempt and classifies failure as
//! transient or permanent; retry policy belongs to the dispatcher.

pub mod breaker;
pub mod content;
pub mod email;
pub mod headcount;
pub mod retry;
pub mod webhook;

/// Why one delivery attempt failed. The message never contains personal data.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: connection refused, timeout, 5xx, 408, 429, SMTP 4xx.
    #[error("transient: {0}")]
    Transient(String),
    /// Retrying will not help: 4xx, SMTP 5xx, a message that cannot be built.
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A notifier could not be set up from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("webhook client: {0}")]
    Webhook(#[from] reqwest::Error),
    #[error("smtp transport: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("smtp.from {0:?} is not a mailbox: {1}")]
    From(String, lettre::address::AddressError),
}
