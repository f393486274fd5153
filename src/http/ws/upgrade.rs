//! The WebSocket handshake, done here rather than by warp's `ws()` filter so
//! that we choose the connection's buffers: warp 0.4 always gives tungstenite
//! a 128 KiB read buffer, most of an idle connection's memory.
//!
//! warp still routes the request; this filter checks the upgrade headers, the
//! reply is the `101`, and once hyper hands over the raw connection
//! tokio-tungstenite runs the protocol on it with our [`WebSocketConfig`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::{header, StatusCode};
use warp::reject::Reject;
use warp::{Filter, Rejection};

use super::frames::FrameWriter;
use super::socket::{ReadSide, WriteSide};

/// A chat connection after the handshake: tungstenite parses what the client
/// sends, and we write our frames ourselves (see [`super::frames`]), through
/// `writer` or, for write-through, `write_side`.
pub struct Socket {
    pub reader: Box<Reader>,
    pub writer: Writer,
    pub write_side: WriteSide,
}

pub type Reader = WebSocketStream<ReadOnly<ReadSide>>;
pub type Writer = FrameWriter<WriteSide>;

/// The read half, given to tungstenite. What it would write on its own (pong
/// and close replies) is dropped: the connection task sends those itself, in
/// order with everything else it writes.
pub struct ReadOnly<R>(R);

impl<R: AsyncRead + Unpin> AsyncRead for ReadOnly<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<R: Unpin> AsyncWrite for ReadOnly<R> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Why a request to a WebSocket endpoint is not a valid upgrade.
#[derive(Debug)]
pub struct NotAnUpgrade(pub &'static str);

impl Reject for NotAnUpgrade {}

/// A request that asked for a WebSocket, ready to be answered with `101`.
pub struct Upgrade {
    key: String,
    on_upgrade: OnUpgrade,
}

/// Matches a WebSocket upgrade request (RFC 6455 §4.2.1).
pub fn websocket() -> impl Filter<Extract = (Upgrade,), Error = Rejection> + Clone {
    warp::get()
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<OnUpgrade>())
        .and_then(
            |headers: warp::http::HeaderMap, on_upgrade: Option<OnUpgrade>| async move {
                check(&headers, on_upgrade).map_err(|e| warp::reject::custom(NotAnUpgrade(e)))
            },
        )
}

fn check(
    headers: &warp::http::HeaderMap,
    on_upgrade: Option<OnUpgrade>,
) -> Result<Upgrade, &'static str> {
    let value = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let connection_upgrade = value(header::CONNECTION).is_some_and(|v| {
        v.split(',')
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
    });
    if !connection_upgrade
        || !value(header::UPGRADE).is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
    {
        return Err("this endpoint expects a WebSocket upgrade");
    }
    if value(header::SEC_WEBSOCKET_VERSION) != Some("13") {
        return Err("unsupported Sec-WebSocket-Version; use 13");
    }
    let key = value(header::SEC_WEBSOCKET_KEY)
        .filter(|k| !k.is_empty())
        .ok_or("missing Sec-WebSocket-Key")?
        .to_owned();
    let on_upgrade = on_upgrade.ok_or("this connection cannot be upgraded")?;
    Ok(Upgrade { key, on_upgrade })
}

/// The kernel's send buffer for a chat socket (`SO_SNDBUF`; Linux doubles
/// it for its bookkeeping, socket(7)). Left to autotuning it grows to
/// `net.ipv4.tcp_wmem`'s maximum (4 MiB by default) for a peer that reads
/// slowly: megabytes per connection beyond the outbound queue's bound, a
/// slow consumer found that much later, and its close notice stuck behind
/// seconds of frames it cannot read in time. 128 KiB in flight is still
/// 1 MB/s at a 100 ms round trip, far above what chat sends one client.
const SEND_BUFFER_BYTES: usize = 128 * 1024;

/// Reading only: client frames are small (a few hundred bytes), and the read
/// buffer grows for a larger one, up to `max_frame_bytes`.
pub fn config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(256)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

impl Upgrade {
    /// The `101 Switching Protocols` reply; `run` gets the socket once hyper has
    /// sent it and handed the connection over.
    pub fn reply<F, Fut>(self, config: WebSocketConfig, run: F) -> warp::reply::Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        let task = async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(err) => return tracing::debug!(error = %err, "websocket upgrade failed"),
            };
            // `http::server` serves hyper plain TCP streams: the socket
            // itself comes back, so that its write side can be shared.
            let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
                return tracing::error!("websocket upgrade over an unexpected transport");
            };
            let stream = parts.io.into_inner();
            if let Err(err) =
                socket2::SockRef::from(&stream).set_send_buffer_size(SEND_BUFFER_BYTES)
            {
                tracing::debug!(error = %err, "could not size the socket's send buffer");
            }
            let (read, write) = stream.into_split();
            let reader = Box::new(
                WebSocketStream::from_raw_socket(
                    ReadOnly(ReadSide::new(parts.read_buf, read)),
                    Role::Server,
                    Some(config),
                )
                .await,
            );
            let write_side = WriteSide::new(write);
            let writer = FrameWriter::new(write_side.clone());
            run(Socket {
                reader,
                writer,
                write_side,
            })
            .await;
        };
        // Every connection keeps this future for its lifetime: its size is a
        // large part of what an idle connection costs.
        tracing::trace!(bytes = std::mem::size_of_val(&task), "connection task");
        tokio::spawn(task);
        let mut response = warp::reply::Response::default();
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(
            header::CONNECTION,
            header::HeaderValue::from_static("upgrade"),
        );
        headers.insert(
            header::UPGRADE,
            header::HeaderValue::from_static("websocket"),
        );
        if let Ok(accept) = header::HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
        }
        response
    }
}
