//! Outgoing email (lettre): SMTP when `CHATCTL_SMTP_URL` is set, otherwise an
//! outbox folder of `.eml` files, so a default run needs no mail server.
//!
//! Sending never blocks a request: mails go to a queue drained by a background
//! task that retries failures with backoff and logs what it could not deliver.

pub mod alerts;
mod render;

use std::path::PathBuf;

use crate::config::MailConfig;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;
use tokio::sync::mpsc;

pub use alerts::ReportAlerts;
pub use render::{Lang, Templates};

/// Delays between delivery attempts of one mail.
const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];

#[derive(Debug, Error)]
pub enum MailError {
    #[error("invalid SMTP URL: {0}")]
    SmtpUrl(String),
    #[error("invalid sender address {0:?}: {1}")]
    From(String, String),
    #[error("cannot create the outbox folder {0}: {1}")]
    Outbox(PathBuf, std::io::Error),
    #[error("cannot render the {0} mail: {1}")]
    Render(&'static str, String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Transport::Smtp(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
            Transport::Outbox(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
        }
    }
}

/// One mail ready to send: both a text and an HTML body.
pub struct Email {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// What the mail is, for logs (never the recipient's tokens).
    pub kind: &'static str,
}

/// Cheap handle on the mail queue.
#[derive(Clone)]
pub struct Mailer {
    tx: mpsc::UnboundedSender<(Message, &'static str)>,
    from: Mailbox,
    pub templates: Templates,
}

impl Mailer {
    /// Starts the delivery task; must run inside a tokio runtime.
    pub fn start(config: &MailConfig) -> Result<Mailer, MailError> {
        let from: Mailbox =
            config
                .mail_from
                .parse()
                .map_err(|e: lettre::address::AddressError| {
                    MailError::From(config.mail_from.clone(), e.to_string())
                })?;
        let transport = match &config.smtp_url {
            Some(url) => {
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::SmtpUrl(e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                tracing::info!(server = %redact(url), "mail goes through SMTP");
                Transport::Smtp(smtp)
            }
            None => {
                std::fs::create_dir_all(&config.outbox_dir)
                    .map_err(|e| MailError::Outbox(config.outbox_dir.clone(), e))?;
                let dir = config
                    .outbox_dir
                    .canonicalize()
                    .unwrap_or_else(|_| config.outbox_dir.clone());
                tracing::info!(folder = %dir.display(), "no SMTP server configured (CHATCTL_SMTP_URL): mail is written to the outbox folder");
                Transport::Outbox(AsyncFileTransport::<Tokio1Executor>::new(dir))
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(deliver(std::sync::Arc::new(transport), rx));
        Ok(Mailer {
            tx,
            from,
            templates: Templates::new(),
        })
    }

    /// Queues a mail; returns at once.
    pub fn send(&self, email: Email) {
        let message = Message::builder()
            .from(self.from.clone())
            .to(email.to)
            .subject(email.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(email.html),
                    ),
            );
        match message {
            Ok(message) => {
                if self.tx.send((message, email.kind)).is_err() {
                    tracing::error!(
                        kind = email.kind,
                        "the mail queue is closed; a mail was dropped"
                    );
                }
            }
            Err(err) => tracing::error!(kind = email.kind, error = %err, "cannot build mail"),
        }
    }
}

/// Each mail gets its own task so one slow retry does not hold up the others.
async fn deliver(
    transport: std::sync::Arc<Transport>,
    mut rx: mpsc::UnboundedReceiver<(Message, &'static str)>,
) {
    while let Some((message, kind)) = rx.recv().await {
        let transport = transport.clone();
        tokio::spawn(async move {
            // One try, then one more after each delay.
            let mut delays = RETRY_DELAYS.iter();
            loop {
                match transport.send(message.clone()).await {
                    Ok(()) => return tracing::info!(kind, "mail sent"),
                    Err(err) => match delays.next() {
                        Some(delay) => {
                            tracing::warn!(kind, error = %err, "mail delivery failed; retrying in {delay:?}");
                            tokio::time::sleep(*delay).await;
                        }
                        None => {
                            return tracing::error!(kind, error = %err, "mail could not be delivered; giving up")
                        }
                    },
                }
            }
        });
    }
}

/// The SMTP URL without its password, for logs.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
