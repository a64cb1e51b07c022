//! Executes notifications off the dispatcher's loop: each one in its own task, retried with
//! jittered exponential backoff until its horizon, webhooks guarded by a per-console circuit
//! breaker. A webhook whose console cannot be reached (circuit open, or its attempts spent) is
//! reported parked, so the escalation fails it over, and keeps waiting for its console; only a
//! permanent refusal or the horizon gives it up. Outcomes are reported back to the loop;
//! given-up notifications also go to the dead-letter topic for operators.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::sync::{Semaphore, mpsc};
use tracing::{Instrument as _, info, warn};
use wk_bus::producer::Producer;
use wk_core::Timestamp;
use wk_core::alert::{Alert, AlertId};
use wk_core::config::{Console, LinksConfig};
use wk_core::escalation::{Notification, Outcome, Recipient};
use wk_core::links::LinkAction;
use wk_notify::SendError;
use wk_notify::breaker::{Admission, Attempt, CircuitBreaker};
use wk_notify::content::{ActionLinks, Context, webhook_body};
use wk_notify::email::Mailer;
use wk_notify::retry::{Next, Plan, RetryPolicy};
use wk_notify::webhook::WebhookSender;

use crate::metrics;

#[path = "executor_mail.rs"]
mod mail;
pub use self::mail::{MailJob, MailSpec};

/// The wall clock, read at the boundary.
pub(crate) fn wall_clock() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

/// The final outcome of one notification, for the loop.
#[derive(Debug)]
pub struct Report {
    pub partition: i32,
    /// The machine that decided it: an alert's escalation, or a headcount.
    pub subject: crate::held::Subject,
    pub notification_id: String,
    pub outcome: Outcome,
}

/// One notification to execute, with what its content needs.
pub struct Job {
    pub partition: i32,
    /// The delivery's span: a child of the step that decided it, so of the alert's trace.
    pub span: tracing::Span,
    pub notification: Notification,
    pub alert: Alert,
    pub incident: u32,
    pub first_seen: Timestamp,
    pub occurrences: u32,
    /// When the notification was parked, for one restored parked: its horizon counts from
    /// then.
    pub parked_since: Option<Timestamp>,
}

pub struct Settings {
    pub consoles: BTreeMap<String, Console>,
    pub webhook_policy: RetryPolicy,
    pub email_policy: RetryPolicy,
    pub circuit_failures: u32,
    pub circuit_open: Duration,
    pub dead_letter_topic: String,
    /// Attempts in flight at once, per channel (a notification waiting to retry holds none, so
    /// emails queued behind a down SMTP server never hold up webhooks, nor the reverse).
    pub concurrency: usize,
    /// Signed one-click links in emails, when configured (their base URL also gives the
    /// console's address).
    pub links: Option<LinksConfig>,
    /// Each known email address's time zone (people, consoles' duty mailboxes): their emails
    /// give times in it as well as in UTC.
    pub zones: BTreeMap<String, jiff::tz::TimeZone>,
}

/// The recipient's signed links for incident `incident` of `alert`, valid for the configured
/// time from `now`.
fn action_links(
    links: &LinksConfig,
    (alert, incident): (AlertId, u32),
    recipient: &str,
    now: Timestamp,
) -> Option<ActionLinks> {
    let ttl_ms = i64::try_from(links.ttl.as_millis()).unwrap_or(i64::MAX);
    let expires = now.saturating_add_millis(ttl_ms).as_unix_seconds();
    let secret = links.secrets.first()?;
    let url = |action: LinkAction| {
        let link = wk_core::links::Link {
            alert,
            incident,
            action,
            recipient,
            expires,
        };
        link.url(&links.base_url, secret.as_bytes())
            .map(String::from)
    };
    Some(ActionLinks {
        acknowledge: url(LinkAction::Acknowledge)?,
        resolve: url(LinkAction::Resolve)?,
    })
}

struct Shared {
    webhooks: WebhookSender,
    mailer: Mailer,
    settings: Settings,
    breakers: Mutex<HashMap<String, CircuitBreaker>>,
    producer: Producer,
    reports: mpsc::UnboundedSender<Report>,
    webhook_slots: Semaphore,
    email_slots: Semaphore,
}

#[derive(Clone)]
pub struct Executor {
    shared: Arc<Shared>,
}

impl Executor {
    pub fn new(
        webhooks: WebhookSender,
        mailer: Mailer,
        settings: Settings,
        producer: Producer,
    ) -> (Executor, mpsc::UnboundedReceiver<Report>) {
        let (reports, receiver) = mpsc::unbounded_channel();
        let slots = settings.concurrency.max(1);
        let shared = Shared {
            webhooks,
            mailer,
            settings,
            breakers: Mutex::default(),
            producer,
            reports,
            webhook_slots: Semaphore::new(slots),
            email_slots: Semaphore::new(slots),
        };
        (
            Executor {
                shared: Arc::new(shared),
            },
            receiver,
        )
    }

    /// Starts delivering `job`; its outcome arrives as a `Report`.
    pub fn spawn(&self, job: Job) {
        let shared = self.shared.clone();
        let span = job.span.clone();
        let task = async move {
            let started = std::time::Instant::now();
            let outcome = shared.deliver(&job).await;
            let channel = channel_of(&job.notification);
            let console = match &job.notification.recipient {
                Recipient::Webhook { console } => console.as_str(),
                Recipient::Email { .. } => "",
            };
            let label = if outcome == Outcome::Delivered {
                "delivered"
            } else {
                "given_up"
            };
            metrics::delivery(channel, console, label, started.elapsed());
            if let Outcome::GivenUp { reason } = &outcome {
                shared.dead_letter(&job, reason).await;
            }
            shared.report(&job, outcome);
        };
        tokio::spawn(task.instrument(span));
    }
}

impl Shared {
    fn report(&self, job: &Job, outcome: Outcome) {
        // The loop may be gone at shutdown; the notification then stays pending in the state
        // and is sent again, under the same id, after the restart.
        let _ = self.reports.send(Report {
            partition: job.partition,
            subject: crate::held::Subject::Alert(job.alert.id),
            notification_id: job.notification.id.to_string(),
            outcome,
        });
    }

    fn breaker<T>(&self, console: &str, f: impl FnOnce(&mut CircuitBreaker) -> T) -> T {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let breaker = breakers.entry(console.to_owned()).or_insert_with(|| {
            CircuitBreaker::new(self.settings.circuit_failures, self.settings.circuit_open)
        });
        f(breaker)
    }

    /// One attempt, holding one of its channel's slots.
    async fn attempt(&self, job: &Job) -> Result<(), SendError> {
        let slots = match job.notification.recipient {
            Recipient::Webhook { .. } => &self.webhook_slots,
            Recipient::Email { .. } => &self.email_slots,
        };
        // Closed only if the executor is gone, which it never is while a task holds `self`.
        let _slot = slots
            .acquire()
            .await
            .map_err(|error| SendError::Transient(error.to_string()))?;
        let links = match (&job.notification.recipient, &self.settings.links) {
            (Recipient::Email { address }, Some(links)) => {
                action_links(links, (job.alert.id, job.incident), address, wall_clock())
            }
            _ => None,
        };
        let time_zone = match &job.notification.recipient {
            Recipient::Email { address } => self.settings.zones.get(address),
            Recipient::Webhook { .. } => None,
        };
        let console_url = self.settings.links.as_ref().and_then(|links| {
            links
                .base_url
                .join(&format!("console/alerts/{}", job.alert.id))
                .ok()
                .map(String::from)
        });
        let context = Context {
            alert: &job.alert,
            notification_id: &job.notification.id,
            purpose: &job.notification.purpose,
            incident: job.incident,
            first_seen: job.first_seen,
            occurrences: job.occurrences,
            links,
            time_zone,
            console_url,
        };
        match &job.notification.recipient {
            Recipient::Webhook { console } => {
                let console = self.settings.consoles.get(console).ok_or_else(|| {
                    SendError::Permanent(format!("console {console:?} is not configured"))
                })?;
                self.webhooks
                    .post(
                        &console.webhook_url,
                        &console.signing_secrets,
                        &job.notification.id,
                        webhook_body(&context),
                        wall_clock(),
                    )
                    .await
            }
            Recipient::Email { address } => self.mailer.send(&context, address).await,
        }
    }

    async fn deliver(&self, job: &Job) -> Outcome {
        let notification = &job.notification;
        let console = match &notification.recipient {
            Recipient::Webhook { console } => Some(console.as_str()),
            Recipient::Email { .. } => None,
        };
        let policy = if console.is_some() {
            self.settings.webhook_policy
        } else {
            self.settings.email_policy
        };
        let mut plan = Plan::new(policy, wall_clock(), job.parked_since);
        let mut last_error = None::<String>;
        loop {
            let admitted = match console {
                Some(console) => self.breaker(console, |breaker| breaker.admit(wall_clock())),
                None => Admission::Go,
            };
            let next = if let Admission::Wait { until } = admitted {
                plan.held_back(wall_clock(), until, fastrand::f64())
            } else {
                let result = self.attempt(job).await;
                if let Some(console) = console {
                    let attempt = match &result {
                        Ok(()) => Attempt::Success,
                        Err(SendError::Permanent(_)) => Attempt::Refused,
                        Err(SendError::Transient(_)) => Attempt::Failed,
                    };
                    self.breaker(console, |breaker| {
                        breaker.record(admitted, attempt, wall_clock());
                    });
                }
                match result {
                    Ok(()) => {
                        info!(notification = %notification.id, attempts = plan.failures() + 1, "delivered");
                        return Outcome::Delivered;
                    }
                    Err(error @ SendError::Permanent(_)) => {
                        warn!(notification = %notification.id, %error, "refused; giving up");
                        metrics::given_up(channel_of(notification), "refused");
                        return Outcome::GivenUp {
                            reason: format!("{error} (refused, not retried)"),
                        };
                    }
                    Err(error) => {
                        let next = plan.failed(wall_clock(), fastrand::f64());
                        let attempt = plan.failures();
                        warn!(notification = %notification.id, attempt, %error, "delivery attempt failed");
                        // The timeline records the first failures and then every tenth: a
                        // notification retried for hours must not grow it without bound.
                        let record = match next {
                            Next::Retry(_) => attempt <= 3 || attempt.is_multiple_of(10),
                            Next::Wait(_) => attempt.is_multiple_of(10),
                            Next::Park(_) | Next::GiveUp => false,
                        };
                        if record {
                            self.report(
                                job,
                                Outcome::AttemptFailed {
                                    attempt,
                                    reason: error.to_string(),
                                },
                            );
                        }
                        last_error = Some(format!("{error} after {attempt} attempts"));
                        next
                    }
                }
            };
            let wait = match next {
                Next::Retry(wait) | Next::Wait(wait) => wait,
                Next::Park(wait) => {
                    let reason = match (&last_error, console) {
                        (Some(error), _) => error.clone(),
                        (None, Some(console)) => format!("circuit to console {console} is open"),
                        (None, None) => "waiting".to_owned(),
                    };
                    info!(notification = %notification.id, console, "parked until its console is reachable");
                    metrics::parked(console.unwrap_or_default());
                    self.report(job, Outcome::Parked { reason });
                    wait
                }
                Next::GiveUp => {
                    let horizon = format!("{} s", policy.horizon.as_secs());
                    warn!(notification = %notification.id, %horizon, "horizon spent; giving up");
                    metrics::given_up(channel_of(notification), "horizon");
                    return Outcome::GivenUp {
                        reason: format!(
                            "not delivered within {horizon}: {}",
                            last_error
                                .as_deref()
                                .unwrap_or("its console's circuit stayed open")
                        ),
                    };
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    async fn dead_letter(&self, job: &Job, reason: &str) {
        let kind = channel_of(&job.notification);
        let payload = serde_json::json!({
            "notification_id": &*job.notification.id,
            "alert_id": job.alert.id.to_string(),
            "channel": kind,
            "reason": reason,
        })
        .to_string();
        let send = self.producer.send(
            &self.settings.dead_letter_topic,
            &job.notification.id,
            payload.as_bytes(),
            None,
            false,
        );
        match tokio::time::timeout(Duration::from_secs(10), send).await {
            Ok(Ok(_)) => metrics::dead_letter(),
            Ok(Err(error)) => {
                warn!(%error, notification = %job.notification.id, "dead letter not written")
            }
            Err(_) => {
                warn!(notification = %job.notification.id, "dead letter not acknowledged in time")
            }
        }
    }
}

/// `webhook` or `email`, for metrics, logs and dead letters.
fn channel_of(notification: &Notification) -> &'static str {
    match notification.recipient {
        Recipient::Webhook { .. } => "webhook",
        Recipient::Email { .. } => "email",
    }
}
