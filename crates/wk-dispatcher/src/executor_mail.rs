//! A headcount's mails: rendered here (its answer links signed with the links secret), sent
//! with the email retry policy until the SMTP server takes them or the horizon passes, and
//! reported to the loop under their deterministic id (the Message-ID), so a restarted
//! dispatcher re-sends only what was not taken. No address or name is ever logged.

use tracing::{Instrument as _, info, warn};
use wk_core::headcount::links::AnswerLink as Link;
use wk_core::headcount::{HeadcountId, PartKey, Reply};
use wk_notify::SendError;
use wk_notify::headcount::{AnswerLink, Ask, Unaccounted, WardenList};
use wk_notify::retry::{Next, Plan};

use super::{Outcome, Report, Shared, wall_clock};
use crate::held::Subject;

/// Who a mail is for and what it says.
#[derive(Clone, Debug, PartialEq)]
pub enum MailSpec {
    Ask {
        person: String,
        name: String,
        cycle: u32,
    },
    Wardens {
        warden: String,
        warden_name: String,
        zone: String,
        /// (id, name, office) of each person still unaccounted for.
        people: Vec<(String, String, String)>,
    },
}

/// One mail of a headcount to send.
#[derive(Clone, Debug, PartialEq)]
pub struct MailJob {
    pub partition: i32,
    /// The part of the headcount that owes the mail.
    pub headcount: PartKey,
    /// Deterministic: the Message-ID's local part.
    pub id: String,
    pub address: String,
    pub scope: String,
    pub drill: bool,
    pub spec: MailSpec,
}

const REPLIES: [Reply; 3] = [Reply::Safe, Reply::NeedHelp, Reply::NotInArea];

impl Shared {
    /// The answer links of `person`, answered by `by` (empty: the person themself).
    fn answer_links(&self, headcount: &HeadcountId, person: &str, by: &str) -> Vec<AnswerLink> {
        let Some(links) = &self.settings.links else {
            return Vec::new();
        };
        let Some(secret) = links.secrets.first() else {
            return Vec::new();
        };
        let ttl = i64::try_from(links.ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = wall_clock().as_unix_seconds().saturating_add(ttl);
        REPLIES
            .into_iter()
            .filter_map(|reply| {
                let link = Link {
                    headcount: headcount.0.clone(),
                    person: person.to_owned(),
                    reply,
                    by: by.to_owned(),
                    expires,
                };
                let url = link.url(&links.base_url, secret.as_bytes())?;
                Some(AnswerLink {
                    label: reply.label(),
                    url: url.into(),
                })
            })
            .collect()
    }

    async fn send_mail(&self, job: &MailJob) -> Result<(), SendError> {
        let _slot = self
            .email_slots
            .acquire()
            .await
            .map_err(|error| SendError::Transient(error.to_string()))?;
        let mail = match &job.spec {
            MailSpec::Ask {
                person,
                name,
                cycle,
            } => Ask {
                delivery_id: &job.id,
                name,
                scope: &job.scope,
                drill: job.drill,
                cycle: *cycle,
                links: self.answer_links(&job.headcount.id, person, ""),
            }
            .render(),
            MailSpec::Wardens {
                warden,
                warden_name,
                zone,
                people,
            } => WardenList {
                delivery_id: &job.id,
                warden: warden_name,
                zone,
                scope: &job.scope,
                drill: job.drill,
                people: people
                    .iter()
                    .map(|(id, name, office)| Unaccounted {
                        name: name.clone(),
                        office: office.clone(),
                        links: self.answer_links(&job.headcount.id, id, warden),
                    })
                    .collect(),
            }
            .render(),
        };
        self.mailer.send_prepared(&mail, &job.address).await
    }

    /// Sends `job`, retrying as the email policy says; the outcome for the loop.
    pub(super) async fn deliver_mail(&self, job: &MailJob) -> Outcome {
        let mut plan = Plan::new(self.settings.email_policy, wall_clock(), None);
        loop {
            match self.send_mail(job).await {
                Ok(()) => {
                    info!(mail = %job.id, "headcount mail delivered");
                    return Outcome::Delivered;
                }
                Err(error @ SendError::Permanent(_)) => {
                    warn!(mail = %job.id, %error, "headcount mail refused");
                    return Outcome::GivenUp {
                        reason: error.to_string(),
                    };
                }
                Err(error) => {
                    warn!(mail = %job.id, %error, "headcount mail attempt failed");
                    match plan.failed(wall_clock(), fastrand::f64()) {
                        Next::Retry(wait) | Next::Wait(wait) | Next::Park(wait) => {
                            tokio::time::sleep(wait).await;
                        }
                        Next::GiveUp => {
                            return Outcome::GivenUp {
                                reason: error.to_string(),
                            };
                        }
                    }
                }
            }
        }
    }

    pub(super) fn report_mail(&self, job: &MailJob, outcome: Outcome) {
        let _ = self.reports.send(Report {
            partition: job.partition,
            subject: Subject::Headcount(job.headcount.clone()),
            notification_id: job.id.clone(),
            outcome,
        });
    }
}

impl super::Executor {
    /// Starts sending a headcount's mail; its outcome arrives as a `Report`.
    pub fn spawn_mail(&self, job: MailJob) {
        let shared = self.shared.clone();
        let span =
            tracing::info_span!("headcount mail", headcount = %job.headcount, mail = %job.id);
        tokio::spawn(
            async move {
                let outcome = shared.deliver_mail(&job).await;
                shared.report_mail(&job, outcome);
            }
            .instrument(span),
        );
    }
}
