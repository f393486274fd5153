//! A real SMTP server on loopback (mailin-embedded) that keeps what it receives.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{Response, OK};
use mailin_embedded::{Handler, Server};

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
        let listener = TcpListener::bind(addr).unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let mut server = Server::new(Collector {
            to: Vec::new(),
            data: Vec::new(),
            received: received.clone(),
        });
        server
            .with_name("mail.test")
            .with_num_threads(2)
            .with_tcp_listener(listener);
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
