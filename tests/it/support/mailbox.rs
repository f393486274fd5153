//! A real SMTP server on loopback (mailin-embedded) that keeps what it receives.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{Response, AUTH_OK, INVALID_CREDENTIALS, OK};
use mailin_embedded::{AuthMechanism, Handler, Server, SslConfig};

/// A received mail, decoded (MIME parts, transfer encodings).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    fn parse(to: Vec<String>, raw: &[u8]) -> Mail {
        let parsed = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("a MIME message");
        Mail {
            to,
            subject: parsed.subject().unwrap_or_default().to_owned(),
            text: parsed.body_text(0).unwrap_or_default().into_owned(),
            html: parsed.body_html(0).unwrap_or_default().into_owned(),
        }
    }

    /// The first URL in the text version that contains `path`.
    pub fn link(&self, path: &str) -> String {
        let start = self.text.find(path).expect("the mail contains the link");
        let begin = self.text[..start].rfind("http").expect("absolute link");
        let end = self.text[start..]
            .find(char::is_whitespace)
            .map_or(self.text.len(), |e| start + e);
        self.text[begin..end].to_owned()
    }
}

#[derive(Clone)]
struct Collector {
    /// User and password the server requires (after STARTTLS), if any.
    credentials: Option<(String, String)>,
    to: Vec<String>,
    data: Vec<u8>,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl Handler for Collector {
    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.to = to.to_vec();
        self.data.clear();
        OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.auth_login(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        match &self.credentials {
            Some((u, p)) if u == user && p == password => AUTH_OK,
            _ => INVALID_CREDENTIALS,
        }
    }

    fn data_end(&mut self) -> Response {
        let mail = Mail::parse(std::mem::take(&mut self.to), &self.data);
        self.received.lock().unwrap().push(mail);
        OK
    }
}

pub struct Mailbox {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl Mailbox {
    pub fn start() -> Mailbox {
        Mailbox::start_on("127.0.0.1:0".parse().unwrap())
    }

    /// A free loopback address with no server on it yet (for a mailbox started later).
    pub fn free_addr() -> SocketAddr {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    pub fn start_on(addr: SocketAddr) -> Mailbox {
        Mailbox::serve(addr, None)
    }

    /// A mail server like a real submission server: STARTTLS with the test
    /// certificate (`tests/fixtures/smtp-tls`), then AUTH with `user`/`password`
    /// before it takes any mail.
    pub fn start_tls(user: &str, password: &str) -> Mailbox {
        Mailbox::serve(
            "127.0.0.1:0".parse().unwrap(),
            Some((user.to_owned(), password.to_owned())),
        )
    }

    fn serve(addr: SocketAddr, credentials: Option<(String, String)>) -> Mailbox {
        let listener = TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let tls = credentials.is_some();
        let mut server = Server::new(Collector {
            credentials,
            to: Vec::new(),
            data: Vec::new(),
            received: received.clone(),
        });
        server
            .with_name("mail.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
        if tls {
            // mailin's rustls needs a process-wide crypto provider: two are compiled in.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
            let fixture = |name: &str| {
                format!(
                    "{}/tests/fixtures/smtp-tls/{name}",
                    env!("CARGO_MANIFEST_DIR")
                )
            };
            server
                .with_ssl(SslConfig::SelfSigned {
                    cert_path: fixture("server.pem"),
                    key_path: fixture("server.key"),
                })
                .expect("test certificate loads")
                .with_auth(AuthMechanism::Plain)
                .with_auth(AuthMechanism::Login);
        }
        std::thread::spawn(move || {
            if let Err(err) = server.serve() {
                eprintln!("test SMTP server stopped: {err}");
            }
        });
        Mailbox { addr, received }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// How many mails `to` has received so far.
    pub fn count(&self, to: &str) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .count()
    }

    /// Waits for mail number `n` (1-based) to `to`.
    pub async fn nth(&self, to: &str, n: usize) -> Mail {
        for _ in 0..200 {
            let found = self
                .received
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m.to.iter().any(|t| t == to))
                .nth(n - 1)
                .cloned();
            if let Some(mail) = found {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail number {n} for {to}");
    }
}
