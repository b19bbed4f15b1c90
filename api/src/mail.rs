//! The notification mail: how it is built and how it is sent over SMTP.
//!
//! The message is plain text in UTF-8. The recipient is fixed by config and
//! the visitor appears only in `Reply-To`, so nothing a visitor types can add
//! a recipient. lettre encodes non-ASCII header text per RFC 2047; the form's
//! validation has already refused line breaks in every header field, which
//! also keeps lettre 0.11 from panicking on a CR or LF in a display name.

use std::str::FromStr;

use anyhow::Context;
use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::config::MailConfig;

/// What the notification says: one stored submission.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Notification {
    /// The submission's id.
    pub id: Uuid,
    /// When it was received.
    pub created_at: DateTime<Utc>,
    /// The visitor's name.
    pub name: String,
    /// The visitor's address.
    pub email: String,
    /// The subject, possibly empty.
    pub subject: String,
    /// The message.
    pub message: String,
}

/// Sends notification mail through one SMTP relay.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("to", &self.to.email.to_string()).finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for the configured relay, sender and recipient.
    pub fn new(config: &MailConfig) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .context("cannot use KILN_SMTP_URL")?
            .timeout(Some(config.smtp_timeout))
            .build();
        let from = Mailbox::from_str(&config.mail_from).context("cannot parse KILN_MAIL_FROM")?;
        let to = Mailbox::from_str(&config.mail_to).context("cannot parse KILN_MAIL_TO")?;
        Ok(Self { transport, from, to })
    }

    /// Builds the notification for a submission.
    pub fn build(&self, n: &Notification) -> anyhow::Result<Message> {
        let visitor = Mailbox::new(
            Some(n.name.clone()),
            n.email.parse().context("stored email no longer parses")?,
        );
        let subject = if n.subject.is_empty() { "(no subject)" } else { n.subject.as_str() };
        Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .reply_to(visitor)
            .subject(format!("[Contact] {subject}"))
            .header(ContentType::TEXT_PLAIN)
            .body(body_text(n))
            .context("cannot build notification mail")
    }

    /// Delivers one message; an error means the relay did not take it.
    pub async fn send(&self, message: Message) -> anyhow::Result<()> {
        self.transport.send(message).await.context("smtp delivery failed")?;
        Ok(())
    }
}

fn body_text(n: &Notification) -> String {
    format!(
        "{name} <{email}> wrote through the contact form:\n\nSubject: {subject}\n\n{message}\n\n-- \n\
         Submission {id}, received {at}. Reply to this mail to answer {name}.\n",
        name = n.name,
        email = n.email,
        subject = n.subject,
        message = n.message,
        id = n.id,
        at = n.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailer() -> Mailer {
        let mut config = crate::config::ServeConfig::defaults().mail;
        config.mail_to = "Owner <owner@example.org>".into();
        Mailer::new(&config).unwrap()
    }

    fn note(name: &str, subject: &str) -> Notification {
        Notification {
            id: Uuid::nil(),
            created_at: DateTime::from_timestamp(0, 0).unwrap(),
            name: name.into(),
            email: "zoe@example.org".into(),
            subject: subject.into(),
            message: "Grüße 👋\nsecond line".into(),
        }
    }

    // lettre's pooled transport spawns onto tokio, so these run in a runtime.
    #[tokio::test]
    async fn envelope_has_only_the_configured_recipient() {
        let message = mailer().build(&note("Zoë", "Café")).unwrap();
        let to: Vec<String> = message.envelope().to().iter().map(|a| a.to_string()).collect();
        assert_eq!(to, ["owner@example.org"]);
    }

    #[tokio::test]
    async fn non_ascii_headers_are_encoded_words() {
        let raw = String::from_utf8(
            mailer().build(&note("Zoë Ñandú 🦀", "Café ☕")).unwrap().formatted(),
        )
        .unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(headers.is_ascii(), "headers must be 7-bit: {headers}");
        assert!(headers.contains("\r\nSubject: [Contact] =?utf-8?b?"), "{headers}");
        assert!(headers.contains("\r\nReply-To: =?utf-8?b?"), "{headers}");
        assert!(headers.contains("Content-Type: text/plain; charset=utf-8"), "{headers}");
    }
}
