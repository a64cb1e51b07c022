//! Email to duty officers through SMTP (lettre): STARTTLS, implicit TLS or plain, optional
//! authentication, a plain-text and an HTML part, and a deterministic Message-ID so that a
//! repeat after a crash can be recognised.

use crate::content::{Context, email_html, email_subject, email_text};
use crate::{SendError, SetupError};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use wk_core::config::{SmtpConfig, SmtpSecurity};

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    message_id_domain: String,
}

impl Mailer {
    pub fn new(smtp: &SmtpConfig) -> Result<Mailer, SetupError> {
        let builder = match smtp.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
            }
        };
        let mut builder = builder.port(smtp.port).timeout(Some(smtp.timeout));
        if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
        }
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|error| SetupError::From(smtp.from.clone(), error))?;
        let message_id_domain = from.email.domain().to_owned();
        Ok(Mailer {
            transport: builder.build(),
            from,
            message_id_domain,
        })
    }

    /// The Message-ID of delivery `delivery_id`: the same for every attempt.
    pub fn message_id(&self, delivery_id: &str) -> String {
        format!("<{delivery_id}@{}>", self.message_id_domain)
    }

    /// Sends the notification `context` to `recipient`.
    pub async fn send(&self, context: &Context<'_>, recipient: &str) -> Result<(), SendError> {
        let mail = Prepared {
            delivery_id: context.notification_id,
            subject: email_subject(context),
            text: email_text(context),
            html: email_html(context),
        };
        self.send_prepared(&mail, recipient).await
    }

    /// Sends `mail` to `recipient`, its Message-ID derived from its delivery id.
    pub async fn send_prepared(
        &self,
        mail: &Prepared<'_>,
        recipient: &str,
    ) -> Result<(), SendError> {
        let to: Mailbox = recipient
            .parse()
            .map_err(|_| SendError::Permanent("recipient is not a mailbox".into()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(self.message_id(mail.delivery_id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(mail.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(mail.html.clone()),
                    ),
            )
            .map_err(|error| SendError::Permanent(format!("cannot build message: {error}")))?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(SendError::Permanent(format!(
                "smtp rejected: {}",
                code(&error)
            ))),
            Err(error) if error.is_timeout() => Err(SendError::Transient("smtp timed out".into())),
            Err(error) => Err(SendError::Transient(format!("smtp: {}", code(&error)))),
        }
    }
}

/// A rendered mail: its delivery id (the Message-ID's local part), subject and both parts.
pub struct Prepared<'a> {
    pub delivery_id: &'a str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The SMTP status code, or the kind of failure; never the server's text (it may echo addresses).
fn code(error: &lettre::transport::smtp::Error) -> String {
    match error.status() {
        Some(code) => code.to_string(),
        None if error.is_tls() => "tls failure".into(),
        None => "connection failed".into(),
    }
}
