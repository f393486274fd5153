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

use tokio::io::{AsyncWrite, AsyncWriteExt};

const OP_TEXT: u8 = 0x1;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// Control frames carry at most 125 bytes of payload (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

pub struct FrameWriter<W> {
    io: W,
    buf: Vec<u8>,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub fn new(io: W) -> Self {
        FrameWriter {
            io,
            buf: Vec::new(),
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

    /// Sends everything queued in as few system calls as the socket allows.
    pub async fn flush(&mut self) -> io::Result<()> {
        let result = async {
            self.io.write_all(&self.buf).await?;
            self.io.flush().await
        }
        .await;
        // Released, not cleared: most connections are idle most of the time,
        // and one allocation per flush is nothing next to the system call.
        self.buf = Vec::new();
        result
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
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let header = Header::new(opcode, payload.len());
        self.buf.reserve(header.len + payload.len());
        self.buf.extend_from_slice(header.bytes());
        self.buf.extend_from_slice(payload);
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
