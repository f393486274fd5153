//! The two halves of an upgraded chat connection's TCP socket: the read side
//! for tungstenite (with what hyper had read past the request), and the write
//! side, shared by the connection's task and, while that sleeps, the
//! publisher's write-through ([`crate::chat::queue`]).

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::frames::Header;
use crate::chat::queue::{SocketWrite, TryWrite, THROUGH_MAX};

/// The read side, after the bytes hyper read ahead of the upgrade (a client
/// may send its first frame without waiting for the `101`).
pub struct ReadSide {
    ahead: Bytes,
    socket: OwnedReadHalf,
}

impl ReadSide {
    pub fn new(ahead: Bytes, socket: OwnedReadHalf) -> Self {
        // An empty slice of hyper's read buffer would keep all of it.
        let ahead = if ahead.is_empty() {
            Bytes::new()
        } else {
            ahead
        };
        ReadSide { ahead, socket }
    }
}

impl AsyncRead for ReadSide {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.ahead.is_empty() {
            return Pin::new(&mut self.socket).poll_read(cx, buf);
        }
        let n = self.ahead.len().min(buf.remaining());
        buf.put_slice(&self.ahead[..n]);
        self.ahead.advance(n);
        if self.ahead.is_empty() {
            // Drops hyper's read buffer, which the slice kept alive.
            self.ahead = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

/// The write side. Writes go through `&TcpStream`, so the task's writer and
/// the publisher can share it (never at once: the queue's lock decides who).
#[derive(Clone)]
pub struct WriteSide(Arc<OwnedWriteHalf>);

impl WriteSide {
    pub fn new(socket: OwnedWriteHalf) -> Self {
        WriteSide(Arc::new(socket))
    }

    fn stream(&self) -> &TcpStream {
        (*self.0).as_ref()
    }
}

impl AsyncWrite for WriteSide {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = self.stream();
        loop {
            ready!(stream.poll_write_ready(cx))?;
            match stream.try_write(buf) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// TCP FIN now, whoever else still holds the socket.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(self.stream()).shutdown(Shutdown::Write))
    }
}

impl WriteSide {
    /// Bytes written to the socket that the peer has not acknowledged yet
    /// (`SIOCOUTQ`, tcp(7)): while a connection closes, whether the peer is
    /// still reading. `None` where the kernel cannot be asked.
    pub fn unacknowledged(&self) -> Option<usize> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let mut bytes: libc::c_int = 0;
            // SAFETY: SIOCOUTQ (= TIOCOUTQ) writes one int for the TCP socket
            // `self` keeps open; `bytes` outlives the call.
            let done =
                unsafe { libc::ioctl(self.stream().as_raw_fd(), libc::TIOCOUTQ, &mut bytes) };
            (done == 0).then_some(usize::try_from(bytes).unwrap_or(0))
        }
        #[cfg(not(target_os = "linux"))]
        None
    }

    /// The same socket, for the queue's write-through.
    pub fn shared(&self) -> Arc<dyn SocketWrite> {
        self.0.clone()
    }
}

impl SocketWrite for OwnedWriteHalf {
    /// Text frames, headers and payloads in one `writev`, without blocking.
    fn try_texts(&self, texts: &[&str]) -> TryWrite {
        let texts = &texts[..texts.len().min(THROUGH_MAX)];
        let mut headers = [Header::EMPTY; THROUGH_MAX];
        for (header, text) in headers.iter_mut().zip(texts) {
            *header = Header::text(text.len());
        }
        let mut parts = [IoSlice::new(&[]); 2 * THROUGH_MAX];
        for (k, (header, text)) in headers.iter().zip(texts).enumerate() {
            parts[2 * k] = IoSlice::new(header.bytes());
            parts[2 * k + 1] = IoSlice::new(text.as_bytes());
        }
        let stream: &TcpStream = self.as_ref();
        let mut n = match stream.try_write_vectored(&parts[..2 * texts.len()]) {
            Ok(0) | Err(_) => return TryWrite::Nothing,
            Ok(n) => n,
        };
        for (whole, (header, text)) in headers.iter().zip(texts).enumerate() {
            let (head, body) = (header.bytes(), text.as_bytes());
            if n >= head.len() + body.len() {
                n -= head.len() + body.len();
                continue;
            }
            let mut rest = Vec::with_capacity(head.len() + body.len() - n);
            if n < head.len() {
                rest.extend_from_slice(&head[n..]);
                rest.extend_from_slice(body);
            } else {
                rest.extend_from_slice(&body[n - head.len()..]);
            }
            return TryWrite::Partly {
                whole,
                rest: rest.into_boxed_slice(),
            };
        }
        TryWrite::Sent
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    use std::time::Duration;

    use super::*;
    use crate::chat::queue::{self, ConnHandle, ConnId, ConnQueue, Outbound};
    use crate::db::models::RoomId;
    use crate::http::ws::frames::FrameWriter;

    const ROOM: RoomId = RoomId(1);

    /// A connection's queue over a real loopback socket, and the client's end.
    async fn connection() -> (ConnHandle, ConnQueue, WriteSide, OwnedReadHalf, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (read, write) = server.into_split();
        let write = WriteSide::new(write);
        let (handle, queue) = queue::new(ConnId(1), 1 << 30);
        queue.attach(write.shared());
        (handle, queue, write, read, client)
    }

    fn frame(room: RoomId, seq: i64, text: &str) -> Outbound {
        Outbound::Frame {
            text: Arc::from(text),
            room,
            seq: Some(seq),
        }
    }

    /// Queues `items` as the hub does: their bytes reserved, then pushed.
    fn publish(handle: &ConnHandle, items: Vec<Outbound>) -> bool {
        let len = items
            .iter()
            .map(|item| match item {
                Outbound::Frame { text, .. } => text.len(),
                _ => 0,
            })
            .sum();
        assert!(handle.reserve(len));
        handle.push_reserved(items.into_iter())
    }

    async fn texts(client: &mut WebSocketStream<TcpStream>, n: usize) -> Vec<String> {
        let mut got = Vec::new();
        while got.len() < n {
            match client.next().await.unwrap().unwrap() {
                Message::Text(text) => got.push(text.to_string()),
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
        got
    }

    #[tokio::test]
    async fn room_frames_to_an_idle_socket_go_straight_out_in_order() {
        let (handle, queue, _write, _read, client) = connection().await;
        handle.set_floor(ROOM, 10);
        queue.idle();
        let idle = publish(
            &handle,
            vec![
                frame(ROOM, 10, "in the welcome already"),
                frame(ROOM, 11, "eleven"),
                frame(RoomId(2), 5, "a room it never joined"),
                frame(ROOM, 12, "twelve"),
            ],
        );
        assert!(idle, "nobody is woken: the publisher writes");
        handle.write_through();
        assert!(queue.try_recv().is_none(), "nothing is left for the task");
        assert_eq!(handle.floor(ROOM), 12);
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        assert_eq!(texts(&mut client, 2).await, ["eleven", "twelve"]);
    }

    #[tokio::test]
    async fn an_ack_in_line_hands_the_rest_to_the_task() {
        let (handle, queue, _write, _read, client) = connection().await;
        handle.set_floor(ROOM, 0);
        queue.idle();
        let ack = Outbound::Reply(Arc::from("ack"));
        assert!(publish(
            &handle,
            vec![frame(ROOM, 1, "one"), ack, frame(ROOM, 2, "two")]
        ));
        handle.write_through();
        assert!(matches!(queue.try_recv(), Some(Outbound::Reply(_))));
        assert!(matches!(
            queue.try_recv(),
            Some(Outbound::Frame { seq: Some(2), .. })
        ));
        let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        assert_eq!(texts(&mut client, 1).await, ["one"]);
    }

    #[tokio::test]
    async fn a_busy_task_keeps_the_socket_to_itself() {
        let (handle, queue, _write, _read, _client) = connection().await;
        handle.set_floor(ROOM, 0);
        queue.idle();
        assert!(queue.busy().is_none());
        assert!(
            !publish(&handle, vec![frame(ROOM, 1, "one")]),
            "the task is woken"
        );
        handle.write_through();
        assert!(matches!(
            queue.try_recv(),
            Some(Outbound::Frame { seq: Some(1), .. })
        ));
    }

    /// Fills the socket's buffers (the client reads nothing) until a frame
    /// goes out not at all. What went out is not a valid stream any more.
    fn fill(write: &WriteSide) {
        let big = "x".repeat(1 << 16);
        while write.shared().try_texts(&[&big]) != TryWrite::Nothing {}
    }

    /// Frames a full socket took none of go back in line with their seqs: a
    /// join meanwhile whose welcome covers them drops them (they went back
    /// without a seq, and out again after the welcome, at first).
    #[tokio::test]
    async fn frames_put_back_are_dropped_by_a_welcome_that_covers_them() {
        let (handle, queue, write, _read, _client) = connection().await;
        handle.set_floor(ROOM, 0);
        fill(&write);
        queue.idle();
        let batch = (1..=3).map(|seq| frame(ROOM, seq, "m")).collect();
        assert!(publish(&handle, batch));
        handle.write_through();
        assert_eq!(queue.queued_items(), 3, "nothing went out");
        assert_eq!(
            handle.floor(ROOM),
            0,
            "the floor moves only for what went out"
        );
        handle.set_floor(ROOM, 3);
        let mut items = Vec::new();
        queue.drain_writable(&mut items, 63);
        assert!(items.is_empty(), "all three were in the welcome");
    }

    /// A write-through stopped part-way into a frame: the task, woken for
    /// anything (a ping to answer), gets the end of that frame before it
    /// writes a byte of its own.
    #[tokio::test]
    async fn the_end_of_a_frame_begun_goes_before_the_tasks_own_writes() {
        let (handle, queue, write, _read, mut client) = connection().await;
        handle.set_floor(ROOM, 0);
        // The client reads (and drops) everything: a 4 MiB frame still does
        // not fit in the socket's buffers at once.
        let reader = tokio::spawn(async move {
            let mut buf = vec![0; 1 << 16];
            while tokio::io::AsyncReadExt::read(&mut client, &mut buf)
                .await
                .unwrap_or(0)
                > 0
            {}
        });
        let big = "y".repeat(4 << 20);
        let mut seq = 0;
        let rest = loop {
            seq += 1;
            assert!(seq < 100, "no write stopped part-way into a frame");
            let ready = write.0.writable();
            tokio::time::timeout(Duration::from_secs(5), ready)
                .await
                .unwrap()
                .unwrap();
            queue.idle();
            if publish(&handle, vec![frame(ROOM, seq, &big)]) {
                handle.write_through();
            }
            if let Some(rest) = queue.busy() {
                break rest;
            }
            // Sent whole, or not at all: the task's way, then try again.
            while let Some(item) = queue.try_recv() {
                if let Outbound::Frame { text, .. } = item {
                    let mut out = FrameWriter::new(write.clone());
                    out.text(&text);
                    out.flush().await.unwrap();
                }
            }
        };
        assert!(!rest.is_empty() && rest.len() < big.len() + 10);
        assert!(queue.busy().is_none(), "handed over once");
        assert_eq!(handle.floor(ROOM), seq, "the frame begun counts as given");
        reader.abort();
    }

    /// The client stops reading: a write-through stops, part-way into a
    /// frame, and the task, writing the rest, keeps the stream whole and in order.
    #[tokio::test]
    async fn a_full_socket_leaves_the_end_of_a_frame_to_the_task() {
        let (handle, queue, write, _read, client) = connection().await;
        handle.set_floor(ROOM, 0);
        let body = |seq: i64| format!("{seq}:{}", "x".repeat(50_000));
        // Three at a time: a write stops within a batch, after some whole frames.
        let mut seq = 0;
        while seq < 2_000 {
            let batch = (seq + 1..=seq + 3)
                .map(|k| frame(ROOM, k, &body(k)))
                .collect();
            seq += 3;
            queue.idle();
            if publish(&handle, batch) {
                handle.write_through();
            }
            if queue.queued_items() > 0 {
                break;
            }
        }
        assert!(
            seq < 2_000,
            "the socket took 100 MB without its peer reading"
        );
        // As a rule the end of a frame (`Rest`), or a whole frame when the
        // socket took none of it.
        let mut firsts = queue.try_recv();
        let sent = seq;
        let reader = tokio::spawn(async move {
            let mut client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
            texts(&mut client, sent as usize).await
        });
        // What the connection's task does (see `conn::queue_frames`).
        let mut out = FrameWriter::new(write);
        while let Some(first) = firsts.take().or_else(|| queue.try_recv()) {
            let mut items = vec![first];
            queue.drain_writable(&mut items, 63);
            for item in items {
                match item {
                    Outbound::Frame { text, .. } => out.text(&text),
                    Outbound::Rest(rest) => out.raw(&rest),
                    other => panic!("unexpected {other:?}"),
                }
            }
            out.flush().await.unwrap();
        }
        let got = reader.await.unwrap();
        let expected: Vec<String> = (1..=sent).map(body).collect();
        assert!(got == expected, "every frame whole, once, in order");
    }
}
