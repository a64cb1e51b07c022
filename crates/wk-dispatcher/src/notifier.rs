//! Executes one delivery of an alert state with bounded retries: the webhook to the console or
//! the email to one of its duty officers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};
use wk_core::Timestamp;
use wk_core::config::Console;
use wk_core::state::{AlertState, Channel, Delivery, DeliveryOutcome};
use wk_notify::SendError;
use wk_notify::content::webhook_body;
use wk_notify::email::Mailer;
use wk_notify::retry::RetryPolicy;
use wk_notify::webhook::WebhookSender;

pub struct Notifier {
    pub webhooks: WebhookSender,
    pub mailer: Mailer,
    pub consoles: BTreeMap<String, Console>,
    pub max_attempts: u32,
}

pub(crate) fn wall_clock() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        });
    Timestamp::from_unix_millis(millis)
}

impl Notifier {
    async fn attempt(&self, state: &AlertState, delivery: &Delivery) -> Result<(), SendError> {
        let console = self.consoles.get(&delivery.console).ok_or_else(|| {
            SendError::Permanent(format!("console {:?} is not configured", delivery.console))
        })?;
        match delivery.channel {
            Channel::Webhook => {
                self.webhooks
                    .post(
                        &console.webhook_url,
                        &console.signing_secrets,
                        &delivery.id,
                        webhook_body(state, &delivery.id),
                        wall_clock(),
                    )
                    .await
            }
            Channel::Email => {
                let recipient = delivery.recipient.as_deref().ok_or_else(|| {
                    SendError::Permanent("email delivery without recipient".into())
                })?;
                self.mailer.send(state, recipient, &delivery.id).await
            }
        }
    }

    /// Tries `delivery` until it succeeds, fails permanently or uses its remaining attempts,
    /// returning the outcome of each attempt in order.
    pub async fn deliver(&self, state: &AlertState, delivery: &Delivery) -> Vec<DeliveryOutcome> {
        let mut outcomes = Vec::new();
        let remaining = self.max_attempts.saturating_sub(delivery.attempts).max(1);
        let policy = RetryPolicy {
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_attempts: remaining,
        };
        for attempt in 1..=remaining {
            match self.attempt(state, delivery).await {
                Ok(()) => {
                    info!(delivery = %delivery.id, channel = delivery.channel.as_str(), "delivered");
                    outcomes.push(DeliveryOutcome::Delivered);
                    return outcomes;
                }
                Err(error) => {
                    warn!(delivery = %delivery.id, channel = delivery.channel.as_str(), attempt, %error, "delivery attempt failed");
                    let permanent = matches!(error, SendError::Permanent(_));
                    outcomes.push(DeliveryOutcome::Failed {
                        error: error.to_string(),
                    });
                    if permanent {
                        // Use up the budget so the state records it as failed.
                        while (outcomes.len() as u32) < remaining {
                            outcomes.push(DeliveryOutcome::Failed {
                                error: error.to_string(),
                            });
                        }
                        return outcomes;
                    }
                    if policy.may_retry(attempt) {
                        // Full jitter keeps many dispatchers from retrying in lockstep.
                        tokio::time::sleep(policy.delay(attempt, fastrand::f64())).await;
                    }
                }
            }
        }
        outcomes
    }
}
