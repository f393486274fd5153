//! Writing server → client WebSocket frames (RFC 6455 §5.2) ourselves.
//!
//! tungstenite parses what clients send; we encode what we send, because:
//! - its write buffer keeps the capacity of the largest batch ever written,
//!   for the life of the connection (kilobytes on every idle connection),
//!   while ours is released after each flush;
//! - a shared frame (`Arc<str>`) is copied once, straight into the buffer,
//!   instead of first into a `Message` of its own per recipient.
//!
//! Server frames are never masked and never fragmented here, which keeps the
//! encoding to a header and the payload.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Control frames carry at most 125 bytes of payload (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// Frames queued for one flush. A flush cut short (its deadline passed, or
/// the hub closed the connection) leaves the writer knowing how much went
/// out, so that the next flush resumes there: resending from the start would
/// put a frame's first bytes inside another frame on the wire.
pub struct FrameWriter<W> {
    io: W,
    buf: Vec<u8>,
    /// Bytes of `buf` already written to the socket.
    sent: usize,
    /// Where each frame in `buf` ends, so that a close can drop the frames
    /// not begun (see [`FrameWriter::drop_unbegun`]).
    ends: Vec<usize>,
    /// `buf` up to here must go out whole: the end of a frame whose start
    /// went out by write-through.
    begun: usize,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub fn new(io: W) -> Self {
        FrameWriter {
            io,
            buf: Vec::new(),
            sent: 0,
            ends: Vec::new(),
            begun: 0,
        }
    }

    /// Queues a text frame; nothing is sent before [`FrameWriter::flush`].
    pub fn text(&mut self, payload: &str) {
        self.frame(OP_TEXT, payload.as_bytes());
    }

    pub fn ping(&mut self) {
        self.frame(OP_PING, &[]);
    }

    pub fn pong(&mut self, payload: &[u8]) {
        self.frame(OP_PONG, &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)]);
    }

    /// A close frame with a status code and a short reason.
    pub fn close(&mut self, code: u16, reason: &str) {
        let mut payload = code.to_be_bytes().to_vec();
        let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        payload.extend_from_slice(&reason.as_bytes()[..end]);
        self.frame(OP_CLOSE, &payload);
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Queued bytes not yet written to the socket.
    pub fn unwritten(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// The socket written to.
    pub fn io(&self) -> &W {
        &self.io
    }

    /// Sends everything queued in as few system calls as the socket allows.
    ///
    /// Cancel-safe: dropped before it completes, it keeps what is left, and
    /// the next flush goes on from the first byte not written (each `write`
    /// either wrote and was counted, or wrote nothing). After an error the
    /// queued bytes are dropped: the connection is broken.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.write_out(None).await
    }

    /// [`FrameWriter::flush`], giving up (`TimedOut`, keeping what is left)
    /// once the socket has taken nothing for `stall`: a peer that reads
    /// slowly but steadily gets a large frame whole, however long it takes,
    /// and one that stopped reading does not hold the connection.
    pub async fn flush_unless_stalled(&mut self, stall: Duration) -> io::Result<()> {
        self.write_out(Some(stall)).await
    }

    async fn write_out(&mut self, stall: Option<Duration>) -> io::Result<()> {
        while self.sent < self.buf.len() {
            let write = self.io.write(&self.buf[self.sent..]);
            let written = match stall {
                Some(stall) => timeout(stall, write)
                    .await
                    .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?,
                None => write.await,
            };
            match written {
                Ok(0) => {
                    self.release();
                    return Err(io::ErrorKind::WriteZero.into());
                }
                Ok(n) => self.sent += n,
                Err(err) => {
                    self.release();
                    return Err(err);
                }
            }
        }
        self.release();
        self.io.flush().await
    }

    /// Drops the queued frames that have not begun to go out, keeping the
    /// rest of one that has: a peer must never get part of a frame. Called
    /// before a close notice after a flush was cut short, so that the notice
    /// does not wait behind frames a slow or stalled peer may never read
    /// (the client resumes them with `since` when it reconnects).
    pub fn drop_unbegun(&mut self) {
        let boundary = match self.sent {
            0 => 0,
            sent => self
                .ends
                .iter()
                .copied()
                .find(|&end| end >= sent)
                .unwrap_or(self.buf.len()),
        };
        let keep = boundary.max(self.begun);
        self.buf.truncate(keep);
        self.ends.retain(|&end| end <= keep);
    }

    /// Released, not cleared: most connections are idle most of the time,
    /// and one allocation per flush is nothing next to the system call.
    fn release(&mut self) {
        self.buf = Vec::new();
        self.ends = Vec::new();
        self.sent = 0;
        self.begun = 0;
    }

    /// Ends the write side (TCP FIN) after flushing.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.io.shutdown().await
    }

    /// Bytes that are already framed: the end of a frame whose start went
    /// out by write-through (see [`crate::chat::queue`]).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.ends.push(self.buf.len());
        self.begun = self.buf.len();
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let header = Header::new(opcode, payload.len());
        self.buf.reserve(header.len + payload.len());
        self.buf.extend_from_slice(header.bytes());
        self.buf.extend_from_slice(payload);
        self.ends.push(self.buf.len());
    }
}

/// A frame's header: FIN, opcode and the payload length in 7, 7+16 or 7+64
/// bits (RFC 6455 §5.2), unmasked.
#[derive(Clone, Copy)]
pub struct Header {
    buf: [u8; 10],
    len: usize,
}

impl Header {
    pub const EMPTY: Header = Header {
        buf: [0; 10],
        len: 0,
    };

    pub fn text(payload_len: usize) -> Header {
        Header::new(OP_TEXT, payload_len)
    }

    fn new(opcode: u8, payload_len: usize) -> Header {
        let mut buf = [0u8; 10];
        buf[0] = 0x80 | opcode;
        let len = if payload_len < 126 {
            buf[1] = payload_len as u8;
            2
        } else if let Ok(short) = u16::try_from(payload_len) {
            buf[1] = 126;
            buf[2..4].copy_from_slice(&short.to_be_bytes());
            4
        } else {
            buf[1] = 127;
            buf[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        };
        Header { buf, len }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    /// Reads `n` messages as tungstenite's client does; an error means the
    /// stream broke (a frame's bytes inside another's).
    async fn read_back(theirs: tokio::io::DuplexStream, n: usize) -> Vec<Message> {
        let mut client = WebSocketStream::from_raw_socket(theirs, Role::Client, None).await;
        let mut got = Vec::new();
        for _ in 0..n {
            got.push(client.next().await.unwrap().unwrap());
        }
        got
    }

    /// Three frames of 3,000 bytes queued on a pipe of 1,024 that nobody reads.
    fn stalled_writer() -> (
        FrameWriter<tokio::io::DuplexStream>,
        tokio::io::DuplexStream,
        Vec<String>,
    ) {
        let (ours, theirs) = tokio::io::duplex(1024);
        let mut writer = FrameWriter::new(ours);
        let texts: Vec<String> = (0..3).map(|k| k.to_string().repeat(3000)).collect();
        for text in &texts {
            writer.text(text);
        }
        (writer, theirs, texts)
    }

    #[tokio::test]
    async fn a_flush_cut_short_resumes_where_it_stopped() {
        let (mut writer, theirs, texts) = stalled_writer();
        let cut = tokio::time::timeout(Duration::from_millis(50), writer.flush()).await;
        assert!(cut.is_err(), "the pipe is full");
        assert!(!writer.is_empty(), "what is left stays queued");
        let reading = tokio::spawn(read_back(theirs, 3));
        writer.flush().await.unwrap();
        let got = reading.await.unwrap();
        assert_eq!(
            got,
            texts.into_iter().map(Message::text).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_close_after_a_cut_flush_finishes_the_frame_begun_and_drops_the_rest() {
        let (mut writer, theirs, texts) = stalled_writer();
        let cut = tokio::time::timeout(Duration::from_millis(50), writer.flush()).await;
        assert!(cut.is_err(), "the pipe is full");
        writer.drop_unbegun();
        writer.close(4003, "banned");
        let reading = tokio::spawn(read_back(theirs, 2));
        writer.flush().await.unwrap();
        let got = reading.await.unwrap();
        assert_eq!(got[0], Message::text(texts[0].clone()));
        assert!(
            matches!(&got[1], Message::Close(Some(frame)) if u16::from(frame.code) == 4003),
            "the close follows at once: {:?}",
            got[1]
        );
    }

    #[test]
    fn the_end_of_a_frame_begun_elsewhere_is_never_dropped() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let mut writer = FrameWriter::new(ours);
        writer.raw(b"the end of a frame");
        writer.text("not begun");
        writer.drop_unbegun();
        assert_eq!(writer.buf, b"the end of a frame");
        writer.text("next");
        assert_eq!(writer.ends.len(), 2);
    }

    /// What we write must parse as the same frames in tungstenite's client.
    #[tokio::test]
    async fn frames_read_back_through_tungstenite() {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let mut writer = FrameWriter::new(ours);
        let long = "é".repeat(40_000);
        writer.text("{\"type\":\"pong\"}");
        writer.text(&"x".repeat(300));
        writer.text(&long);
        writer.ping();
        writer.pong(b"abc");
        writer.close(4008, &"slow ".repeat(40));
        writer.flush().await.unwrap();
        assert!(writer.buf.capacity() == 0, "the buffer is released");

        let mut client = WebSocketStream::from_raw_socket(theirs, Role::Client, None).await;
        let mut got = Vec::new();
        for _ in 0..6 {
            got.push(client.next().await.unwrap().unwrap());
        }
        assert_eq!(got[0], Message::text("{\"type\":\"pong\"}"));
        assert_eq!(got[1], Message::text("x".repeat(300)));
        assert_eq!(got[2], Message::text(long));
        assert!(matches!(&got[3], Message::Ping(p) if p.is_empty()));
        assert!(matches!(&got[4], Message::Pong(p) if &p[..] == b"abc"));
        match &got[5] {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 4008);
                assert_eq!(frame.reason.len(), 123);
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}
