//! Outgoing email (lettre): SMTP when `CHATCTL_SMTP_URL` is set, otherwise an
//! outbox folder of `.eml` files, so a default run needs no mail server.
//!
//! Sending never blocks a request: mails go to a queue drained by a background
//! task that retries failures with backoff and logs what it could not deliver.

pub mod alerts;
mod render;

use std::path::{Path, PathBuf};

use crate::config::MailConfig;
use std::time::Duration;

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use thiserror::Error;
use tokio::sync::mpsc;

pub use alerts::ReportAlerts;
pub use render::Templates;

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
    #[error("cannot use the SMTP CA file {0}: {1}")]
    CaFile(PathBuf, String),
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
                let mut smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::SmtpUrl(e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)));
                if let Some(ca_file) = &config.smtp_ca_file {
                    smtp = smtp.tls(tls_trusting(url, ca_file)?);
                }
                let smtp = smtp.build();
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

/// The TLS mode the SMTP URL asks for, trusting `ca_file` besides the usual
/// roots. lettre reads the mode from the URL but takes extra roots only through
/// parameters built by hand, so the URL's choice is mirrored here.
fn tls_trusting(url: &str, ca_file: &Path) -> Result<Tls, MailError> {
    let ca_error = |e: String| MailError::CaFile(ca_file.to_owned(), e);
    let parsed = url::Url::parse(url).map_err(|e| MailError::SmtpUrl(e.to_string()))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| MailError::SmtpUrl("the SMTP URL has no host".into()))?;
    let pem = std::fs::read_to_string(ca_file).map_err(|e| ca_error(e.to_string()))?;
    // lettre accepts a file with no certificate at all; that is a mistake worth naming.
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(ca_error("no PEM certificate in the file".into()));
    }
    let ca = Certificate::from_pem(pem.as_bytes()).map_err(|e| ca_error(e.to_string()))?;
    let parameters = TlsParameters::builder(host.to_owned())
        .add_root_certificate(ca)
        .build_rustls()
        .map_err(|e| ca_error(e.to_string()))?;
    let mode = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    Ok(match (parsed.scheme(), mode.as_deref()) {
        ("smtps", _) => Tls::Wrapper(parameters),
        (_, Some("required")) => Tls::Required(parameters),
        (_, Some("opportunistic")) => Tls::Opportunistic(parameters),
        _ => {
            return Err(ca_error(
                "a CA file needs TLS: use smtps:// or ?tls=required".into(),
            ))
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smtp-tls/ca.pem"
    );

    #[test]
    fn a_ca_file_follows_the_tls_mode_of_the_url() {
        let ca = Path::new(CA);
        assert!(matches!(
            tls_trusting("smtps://u:p@mail.example.com:465", ca),
            Ok(Tls::Wrapper(_))
        ));
        assert!(matches!(
            tls_trusting("smtp://mail.example.com:587?tls=required", ca),
            Ok(Tls::Required(_))
        ));
        assert!(matches!(
            tls_trusting("smtp://mail.example.com:587?tls=opportunistic", ca),
            Ok(Tls::Opportunistic(_))
        ));
    }

    #[test]
    fn a_ca_file_without_tls_or_unreadable_is_a_clear_error() {
        let plain = tls_trusting("smtp://127.0.0.1:25", Path::new(CA)).err();
        assert!(matches!(plain, Some(MailError::CaFile(..))), "{plain:?}");
        let missing = tls_trusting("smtps://mail.example.com", Path::new("/nonexistent.pem"));
        assert!(matches!(missing, Err(MailError::CaFile(..))));
        let not_pem = tls_trusting("smtps://mail.example.com", Path::new("Cargo.toml"));
        assert!(matches!(not_pem, Err(MailError::CaFile(..))));
    }
}
