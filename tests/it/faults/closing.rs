//! Closing a connection that is behind (a ban, a slow consumer): the server
//! was in the middle of writing to it, and what the client reads must still
//! be whole frames, in order, then the notice and the close.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Sleep;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::support::close;
use crate::support::wait::WAIT;
use crate::support::*;

/// How a client reads: at full speed, or at `bytes_per_sec` while it sends
/// an application `ping` every `ping_every` (a widget that is still there).
#[derive(Clone, Copy)]
struct Pace {
    bytes_per_sec: Option<u64>,
    ping_every: Option<Duration>,
}

const FAST: Pace = Pace {
    bytes_per_sec: None,
    ping_every: None,
};

/// Reads everything up to the close: the message seqs, the notice, the close
/// code. Panics on a frame that is not JSON or a stream that breaks (a reset,
/// bytes of one frame inside another).
async fn read_to_close(client: &mut Client) -> (Vec<i64>, Option<Value>, Option<u16>) {
    read_to_close_at(client, FAST).await
}

async fn read_to_close_at(
    client: &mut Client,
    pace: Pace,
) -> (Vec<i64>, Option<Value>, Option<u16>) {
    let (mut seqs, mut notice) = (Vec::new(), None);
    let mut pinged = Instant::now();
    loop {
        if pace
            .ping_every
            .is_some_and(|every| pinged.elapsed() >= every)
        {
            // The server may have stopped reading; what it does not read is its business.
            let _ = client.ws.send(Message::text(r#"{"type":"ping"}"#)).await;
            pinged = Instant::now();
        }
        let next = tokio::time::timeout(WAIT, client.ws.next())
            .await
            .expect("the close within the timeout");
        if let (Some(rate), Some(Ok(message))) = (pace.bytes_per_sec, &next) {
            let len = message.len() as u64;
            tokio::time::sleep(Duration::from_micros(len * 1_000_000 / rate)).await;
        }
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|err| panic!("a broken frame ({err}) after {seqs:?}"));
                match frame["type"].as_str() {
                    Some("message") => seqs.push(frame["seq"].as_i64().expect("seq")),
                    Some("notice") => notice = Some(frame),
                    _ => {}
                }
            }
            Some(Ok(Message::Close(frame))) => {
                return (seqs, notice, frame.map(|f| u16::from(f.code)))
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("the stream broke ({err}) after {seqs:?}"),
            None => panic!("no close frame after {seqs:?}"),
        }
    }
}

/// A guest "behind" in the lobby, over a socket with a 4 KiB receive buffer.
async fn small_buffer_in_lobby(app: &TestApp, site_key: &str) -> Client {
    let mut client = app.connect_small_buffer(site_key).await;
    client.hello(json!({"nick": "behind"})).await;
    client.join("lobby", None).await;
    client
}

/// The sockets between the server and `behind` full, and more queued for it:
/// `n` messages of ~1,900 bytes from a second guest.
async fn flood(app: &TestApp, site_key: &str, n: usize) {
    let (mut sender, _) = app.guest_in(site_key, "sender", "lobby").await;
    let text = "x".repeat(1900);
    for i in 0..n {
        sender.say("lobby", &i.to_string(), &text).await;
    }
}

/// Every seq from 1, once, in order.
fn assert_in_order(seqs: &[i64]) {
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "in order, none twice");
}

#[tokio::test]
async fn a_ban_while_the_server_is_writing_to_a_reader_that_is_behind_keeps_its_stream_whole() {
    let app = TestApp::builder()
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut behind = small_buffer_in_lobby(&app, &site.public_key).await;
    // 200 messages: within the connection's queue bound, far more than the
    // sockets between hold, so its task is stuck mid-write.
    flood(&app, &site.public_key, 200).await;
    // A few read, so that the server's write goes on part of the way and
    // stops again somewhere inside a frame; then the ban.
    let mut seqs = Vec::new();
    for _ in 0..60 {
        seqs.push(behind.recv_type("message").await["seq"].as_i64().unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.ban_named(&site, "behind", "spam").await;

    let (rest, notice, code) = read_to_close(&mut behind).await;
    seqs.extend(rest);
    assert!(!seqs.is_empty(), "what went out before the ban arrives");
    assert_in_order(&seqs);
    assert_eq!(notice.expect("the notice")["code"], "banned");
    assert_eq!(code, close::BANNED);
}

#[tokio::test]
async fn a_slow_consumer_that_reads_again_gets_whole_frames_then_its_notice() {
    let app = TestApp::builder()
        .limits(|l| l.outbound_queue_bytes = 256 * 1024)
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut behind = small_buffer_in_lobby(&app, &site.public_key).await;
    let (mut sender, _) = app.guest_in(&site.public_key, "sender", "lobby").await;

    // The sockets between fill up; `behind` reads a little, so that the
    // server's write goes on part of the way and stops again inside a frame,
    // then reads nothing until the server gives up on it: the first ack that
    // reached nobody else.
    let text = "x".repeat(1900);
    let mut sent = 0;
    while sent < 200 {
        sender.say("lobby", &sent.to_string(), &text).await;
        sent += 1;
    }
    let mut seqs = Vec::new();
    for _ in 0..60 {
        seqs.push(behind.recv_type("message").await["seq"].as_i64().unwrap());
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    loop {
        assert!(sent < 10_000, "the reader that is behind was never cut");
        let ack = sender.say("lobby", &sent.to_string(), &text).await;
        sent += 1;
        if ack["delivered"] == 0 {
            break;
        }
    }
    // Its queue's bound (256 KiB) plus the kernel's send buffer (bounded
    // too, not grown to megabytes): some 270 messages, not thousands.
    assert!(sent < 600, "cut only after {sent} messages");
    let (rest, notice, code) = read_to_close(&mut behind).await;
    seqs.extend(rest);
    assert_in_order(&seqs);
    assert_eq!(notice.expect("the notice")["code"], "slow_consumer");
    assert_eq!(code, close::SLOW_CONSUMER);
}

#[tokio::test]
async fn a_reader_behind_that_keeps_talking_gets_its_notice_not_a_reset() {
    let app = TestApp::builder()
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut behind = small_buffer_in_lobby(&app, &site.public_key).await;
    flood(&app, &site.public_key, 300).await;
    app.ban_named(&site, "behind", "spam").await;

    // ~260 KB in the sockets at 40 KB/s: the notice arrives some 7 s later,
    // and the server must not have closed the socket on the pings meanwhile.
    let pace = Pace {
        bytes_per_sec: Some(40_000),
        ping_every: Some(Duration::from_millis(250)),
    };
    let (seqs, notice, code) = read_to_close_at(&mut behind, pace).await;
    assert_in_order(&seqs);
    assert_eq!(notice.expect("the notice")["code"], "banned");
    assert_eq!(code, close::BANNED);
}

#[tokio::test]
async fn an_oversized_frame_from_a_reader_behind_gets_whole_frames_then_its_notice() {
    let app = TestApp::builder()
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut behind = small_buffer_in_lobby(&app, &site.public_key).await;
    flood(&app, &site.public_key, 200).await;

    // Over the 16 KiB frame limit: the server stops reading it half-way.
    let oversized = format!(r#"{{"type":"ping","pad":"{}"}}"#, "y".repeat(40_000));
    behind.ws.send(Message::text(oversized)).await.unwrap();
    let (seqs, notice, code) = read_to_close(&mut behind).await;
    assert_in_order(&seqs);
    assert_eq!(notice.expect("the notice")["code"], "frame_too_large");
    assert_eq!(code, close::FRAME_TOO_LARGE);
}

/// A client's TCP stream over a slow link: at most `chunk` bytes read every
/// `gap`, whatever has arrived.
struct SlowLink {
    inner: TcpStream,
    chunk: usize,
    gap: Duration,
    wait: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for SlowLink {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(wait) = self.wait.as_mut() {
            ready!(wait.as_mut().poll(cx));
            self.wait = None;
        }
        let mut scratch = [0u8; 4096];
        let limit = self.chunk.min(buf.remaining()).min(scratch.len());
        let mut part = ReadBuf::new(&mut scratch[..limit]);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut part))?;
        buf.put_slice(part.filled());
        let gap = self.gap;
        self.wait = Some(Box::pin(tokio::time::sleep(gap)));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for SlowLink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The next text frame of type `kind`, as JSON.
async fn next_of<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    kind: &str,
) -> Value {
    loop {
        let next = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame within the timeout");
        match next {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).expect("a whole frame");
                if frame["type"] == kind {
                    return frame;
                }
            }
            Some(Ok(_)) => {}
            other => panic!("the connection ended before a {kind}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_welcome_that_takes_longer_than_the_write_timeout_arrives_whole() {
    // Heartbeat 1 s: a write that makes no progress for 2.5 s is given up.
    let app = TestApp::builder()
        .limits(|l| l.heartbeat_secs = 1)
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    flood(&app, &site.public_key, 300).await;

    // One welcome of ~600 KB (every message since 0) over a link of ~100 KB/s.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let link = SlowLink {
        inner: socket.connect(app.addr).await.unwrap(),
        chunk: 4096,
        gap: Duration::from_millis(40),
        wait: None,
    };
    let mut request = app.ws_url(&site.public_key).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", ORIGIN.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(request, link)
        .await
        .unwrap();
    let send = |frame: Value| Message::text(frame.to_string());
    ws.send(send(json!({"type": "hello", "v": 1, "nick": "slow"})))
        .await
        .unwrap();
    next_of(&mut ws, "ready").await;
    let started = Instant::now();
    ws.send(send(json!({"type": "join", "room": "lobby", "since": 0})))
        .await
        .unwrap();
    let welcome = next_of(&mut ws, "welcome").await;
    assert!(
        started.elapsed() > Duration::from_millis(2500),
        "slower than the write timeout: {:?}",
        started.elapsed()
    );
    assert_eq!(welcome["messages"].as_array().map(Vec::len), Some(300));
    // Still connected: its reading was a sign of life.
    ws.send(send(json!({"type": "ping"}))).await.unwrap();
    next_of(&mut ws, "pong").await;
}
