//! A webhook receiver on loopback: a real HTTP server (hyper) that keeps
//! every request it gets and answers with the status the test sets. A
//! receiver down is an address nothing listens on yet ([`Receiver::free_addr`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;

use super::wait::poll;

/// One request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// The status the receiver answered (0: none, [`Answer::Silent`]).
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    /// The event's `type`.
    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }

    /// Checks `Chatctl-Signature` as a receiver does: HMAC-SHA256 (the `hmac`
    /// crate) of `t + "." + body` with `secret`, compared in constant time.
    pub fn signed_with(&self, secret: &str) -> bool {
        let header = self.header("chatctl-signature");
        let mut t = None;
        let mut v1 = Vec::new();
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", value)) => t = Some(value.to_owned()),
                Some(("v1", value)) => v1.push(value.to_owned()),
                _ => {}
            }
        }
        let Some(t) = t else { return false };
        v1.iter().any(|sig| {
            let Ok(expected) = hex::decode(sig) else {
                return false;
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{t}.{}", self.body).as_bytes());
            mac.verify_slice(&expected).is_ok()
        })
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// `302 Found` to this URL.
    RedirectTo(String),
    /// Never answers (the request is kept, the connection stays open).
    Silent,
    /// `200` with a body that never ends.
    Endless,
}

impl Answer {
    fn status(&self) -> u16 {
        match self {
            Answer::Status(status) => *status,
            Answer::RedirectTo(_) => 302,
            Answer::Silent => 0,
            Answer::Endless => 200,
        }
    }

    async fn response(self) -> hyper::Response<BoxBody<Bytes, Infallible>> {
        let body = match &self {
            Answer::Silent => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Full::new(Bytes::new()).boxed()
            }
            Answer::Endless => {
                let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
                let frames = futures_util::stream::repeat_with(move || {
                    Ok(hyper::body::Frame::data(chunk.clone()))
                });
                StreamBody::new(frames).boxed()
            }
            _ => Full::new(Bytes::from_static(b"ok")).boxed(),
        };
        let mut response = hyper::Response::new(body);
        *response.status_mut() = hyper::StatusCode::from_u16(self.status()).unwrap();
        if let Answer::RedirectTo(url) = self {
            response
                .headers_mut()
                .insert("location", url.parse().unwrap());
        }
        response
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// A free loopback address with nothing listening on it (yet).
    pub fn free_addr() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
    }

    pub async fn start_on(addr: SocketAddr) -> Receiver {
        // A receiver stopped just before may not have let go of the port yet.
        let listener = poll(
            "the receiver's port",
            Duration::from_secs(5),
            Duration::from_millis(20),
            || TcpListener::bind(addr),
        )
        .await;
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(Answer::Status(200)));
        let (log, how) = (received.clone(), answer.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, answer) = (log.clone(), how.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (log, answer) = (log.clone(), answer.clone());
                        async move {
                            let headers = req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())
                                })
                                .collect();
                            let body = req.into_body().collect().await?.to_bytes();
                            let answer = answer.lock().unwrap().clone();
                            log.lock().unwrap().push(Received {
                                headers,
                                body: String::from_utf8_lossy(&body).into_owned(),
                                answered: answer.status(),
                            });
                            Ok::<_, hyper::Error>(answer.response().await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            received,
            answer,
            task,
        }
    }

    /// The URL to register as an endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The status every following request gets.
    pub fn answer(&self, status: u16) {
        self.answer_with(Answer::Status(status));
    }

    /// How every following request is answered.
    pub fn answer_with(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests answered 2xx: the deliveries.
    pub fn delivered(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    /// Waits until `n` deliveries (2xx answers) have arrived; returns them all.
    pub async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        poll(
            &format!("{n} webhook deliveries"),
            Duration::from_secs(20),
            Duration::from_millis(20),
            || async {
                let got = self.delivered();
                if got.len() >= n {
                    Ok(got)
                } else {
                    Err(got.len())
                }
            },
        )
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
