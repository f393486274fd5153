//! The HTTP listener. We accept TCP connections and run hyper on each one
//! ourselves, rather than through warp's `serve`, because warp gives hyper no
//! timer and no say over who gets a connection. Here:
//!
//! - a request head must arrive within `request_header_timeout_secs` (hyper's
//!   `header_read_timeout`, which starts whenever hyper waits for a request,
//!   so it is also the idle limit of keep-alive connections);
//! - a request's body must arrive within `request_body_timeout_secs` of its
//!   head (see [`TimedBody`]): hyper has no such limit, and a body sent a byte
//!   a minute held its connection for good;
//! - one address holds at most `max_http_connections_per_ip` connections that
//!   are not (yet) chat connections; more are answered `429` and closed
//!   (trusted proxies, which speak for many visitors, are exempt); and there
//!   are at most `max_http_connections` in all: beyond, the one idle longest
//!   is closed for the newcomer (see [`super::open_connections`]), so slow
//!   clients on many addresses cannot use up the server's descriptors and
//!   `/healthz` stays reachable;
//! - at most `max_handshakes` connections are being set up at once (see
//!   [`super::setup_slots`]): the rest wait in the kernel's listen backlog;
//! - on shutdown, idle connections close at once and a request still being
//!   read or answered gets [`SHUTDOWN_GRACE`], not its full deadline.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower_service::Service;

use super::client_ip::{canonical, Peer, TrustedProxies};
use super::open_connections::{Admitted, OpenConnections};
use super::setup_slots::{SetupMetrics, SetupSlot, SetupSlots, CLIENT_WAIT, SETUP_LIMIT};

/// How long a request in progress may take once shutdown has begun.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The answer to a connection over its address's limit.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\n\
content-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: 85\r\n\r\n\
{\"error\":\"too_many_connections\",\"message\":\"Too many connections from this address.\"}\n";

#[derive(Clone)]
pub struct Settings {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_per_ip: usize,
    pub max_total: usize,
    /// Connections being set up at once (see [`super::setup_slots`]).
    pub max_handshakes: usize,
    pub setup_metrics: SetupMetrics,
    pub trusted_proxies: Arc<TrustedProxies>,
}

/// A request body that ends in an error when it has not all arrived by its
/// deadline, so that the handler reading it gives up and the connection closes.
pub struct TimedBody {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTooSlow;

impl TimedBody {
    fn new(body: Incoming, limit: Duration) -> TimedBody {
        TimedBody {
            body,
            deadline: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl Body for TimedBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTooSlow.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// What [`serve`] serves: a service that answers each request (its body a [`TimedBody`])
/// with a response whose body is `B`, and can be cloned into every connection's task. One
/// name for the bounds `serve` and each connection share; whatever meets them has it.
pub trait HttpService<B>:
    Service<Request<TimedBody>, Response = Response<B>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S where
    S: Service<
            Request<TimedBody>,
            Response = Response<B>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// A response body hyper can send from a connection's task.
pub trait SendBody:
    Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

impl<B> SendBody for B where
    B: Body<Data: Send, Error: Into<Box<dyn std::error::Error + Send + Sync>>> + Send + 'static
{
}

/// Serves `service` on `listener` until `shutdown` turns true, then waits for
/// the connections it still serves (at most [`SHUTDOWN_GRACE`] each).
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    settings: Settings,
    mut shutdown: watch::Receiver<bool>,
) where
    S: HttpService<B>,
    B: SendBody,
{
    let open = Arc::new(OpenConnections::default());
    let settings = Arc::new(settings);
    // Every connection task holds a sender: when all are dropped, all are done.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    let mut setup = SetupSlots::new(
        settings.max_handshakes,
        SETUP_LIMIT,
        settings.setup_metrics.clone(),
    );
    loop {
        // A slot first, then the connection: see `setup_slots`.
        let next = async {
            let permit = setup.take().await;
            (permit, listener.accept().await)
        };
        let (permit, stream, peer) = tokio::select! {
            (permit, accepted) = next => match accepted {
                Ok((stream, peer)) => (permit, stream, peer),
                Err(err) => {
                    // Out of descriptors, most likely: wait for some to close.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = setup.next_deadline() => {
                setup.expire();
                continue;
            }
            () = stopping(&mut shutdown) => break,
        };
        let slot = setup.hand_out(permit);
        let ip = canonical(peer.ip());
        let share = (!settings.trusted_proxies.trusts(ip)).then_some(ip);
        let admitted = match open.admit(share, settings.max_per_ip, settings.max_total) {
            Ok(admitted) => admitted,
            Err(refused) => {
                tracing::debug!(%ip, ?refused, "HTTP connection refused");
                tokio::spawn(refuse(stream));
                continue;
            }
        };
        let connection = Connection {
            service: service.clone(),
            settings: settings.clone(),
            shutdown: shutdown.clone(),
            _open: open_tx.clone(),
            admitted,
            slot,
        };
        tokio::spawn(connection.run(stream, peer));
    }
    drop(listener);
    drop(open_tx);
    let _ = open_rx.recv().await;
}

/// Whether a request asks for a WebSocket (`Upgrade: websocket`, RFC 6455
/// §4.1); the checks of the upgrade itself are the endpoint's.
fn is_websocket_upgrade<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(hyper::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

/// Resolves once shutdown has begun (the watch guard is not held across awaits).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(TOO_MANY).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// One log line per request, written when its answer is ready: method, path
/// (without the query, which may carry tokens), status, the client's
/// address (through trusted proxies) and the time taken.
struct RequestLine {
    method: warp::http::Method,
    path: String,
    client: IpAddr,
    started: std::time::Instant,
}

impl RequestLine {
    fn of<B>(request: &Request<B>, trusted: &TrustedProxies, peer: SocketAddr) -> RequestLine {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        RequestLine {
            method: request.method().clone(),
            path: request.uri().path().to_owned(),
            client: trusted.client_ip(peer.ip(), forwarded),
            started: std::time::Instant::now(),
        }
    }

    fn log(self, status: warp::http::StatusCode) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        tracing::info!(
            target: "chatctl::http::request",
            method = %self.method,
            path = %self.path,
            status = status.as_u16(),
            client = %self.client,
            ms = format_args!("{ms:.1}"),
            "request"
        );
    }
}

struct Connection<S> {
    service: S,
    settings: Arc<Settings>,
    shutdown: watch::Receiver<bool>,
    _open: mpsc::Sender<()>,
    admitted: Admitted,
    /// Freed when the head is late or is not an upgrade, or by an answer
    /// that is not `101`; an upgraded connection takes it along (a request
    /// extension) to its first frame (see `setup_slots`).
    slot: SetupSlot,
}

impl<S> Connection<S> {
    async fn run<B>(mut self, stream: TcpStream, peer: SocketAddr)
    where
        S: HttpService<B>,
        B: SendBody,
    {
        let _ = stream.set_nodelay(true);
        let service = self.service.clone();
        let trusted = self.settings.trusted_proxies.clone();
        let body_timeout = self.settings.body_timeout;
        let requests = self.admitted.requests();
        let slot = self.slot.clone();
        let head_read = Arc::new(AtomicBool::new(false));
        let head_seen = head_read.clone();
        let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
            let busy = requests.start();
            head_seen.store(true, Ordering::Relaxed);
            if !is_websocket_upgrade(&request) {
                slot.release();
            }
            let mut request = request.map(|body| TimedBody::new(body, body_timeout));
            request.extensions_mut().insert(Peer(peer));
            request.extensions_mut().insert(slot.clone());
            let line = RequestLine::of(&request, &trusted, peer);
            let answer = service.clone().call(request);
            let slot = slot.clone();
            async move {
                let _busy = busy;
                let response = answer.await;
                if let Ok(response) = &response {
                    if response.status() != hyper::StatusCode::SWITCHING_PROTOCOLS {
                        slot.release();
                    }
                    line.log(response.status());
                }
                response
            }
        });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.settings.header_timeout);
        let connection = builder
            .serve_connection(TokioIo::new(stream), handler)
            .with_upgrades();
        tokio::pin!(connection);
        let client_wait = tokio::time::sleep(CLIENT_WAIT);
        tokio::pin!(client_wait);
        let mut waited = false;
        let result = loop {
            tokio::select! {
                done = connection.as_mut() => break done,
                // The client's turn: the slot is for the server's work.
                () = &mut client_wait, if !waited => {
                    waited = true;
                    if !head_read.load(Ordering::Relaxed) {
                        self.slot.release();
                    }
                }
                // Closed to make room: dropping the connection closes the socket.
                () = self.admitted.evicted() => return,
                () = stopping(&mut self.shutdown) => {
                    connection.as_mut().graceful_shutdown();
                    match tokio::time::timeout(SHUTDOWN_GRACE, connection).await {
                        Ok(done) => break done,
                        Err(_) => return,
                    }
                }
            }
        };
        if let Err(err) = result {
            // Timeouts, resets and malformed requests: the client's doing.
            tracing::debug!(error = %err, %peer, "http connection ended");
        }
    }
}
