//! A minimal WebSocket client (RFC 6455) for the load generator.
//!
//! Why not tokio-tungstenite: the load generator shares two cores with the
//! server, so every cycle it spends is taken from the thing being measured.
//! Receivers here only look at frame headers (and, for probes, a few bytes of
//! the payload); nothing is copied, validated or allocated per frame.

use std::io;
use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;

pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;

/// Where and how to open a connection.
#[derive(Clone, Debug)]
pub struct Dial {
    pub addr: SocketAddr,
    /// `/ws?site=KEY`
    pub path: String,
    pub origin: String,
    /// Local address to bind before connecting (spreads sources over 127.0.0.0/8).
    pub source: Option<IpAddr>,
    /// SO_RCVBUF, to make a stalled reader fill up quickly.
    pub recv_buffer: Option<u32>,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum DialError {
    Io(io::Error),
    /// The server answered the upgrade with another status (and this body).
    Refused(u16, String),
}

impl std::fmt::Display for DialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DialError::Io(e) => write!(f, "{e}"),
            DialError::Refused(status, body) => write!(f, "upgrade refused: {status} {body}"),
        }
    }
}

impl From<io::Error> for DialError {
    fn from(e: io::Error) -> Self {
        DialError::Io(e)
    }
}

/// The i-th source address: 127.1.0.1, 127.1.0.2, ... skipping .0 and .255 hosts.
pub fn source_ip(i: usize) -> IpAddr {
    let n = i % (254 * 256 * 254);
    let (a, rest) = (1 + n / (256 * 254), n % (256 * 254));
    let (b, c) = (rest / 254, 1 + rest % 254);
    IpAddr::from([127, a as u8, b as u8, c as u8])
}

/// Opens a WebSocket: TCP connect from `dial.source`, HTTP upgrade.
pub async fn connect(dial: &Dial) -> Result<(Reader, Writer), DialError> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = dial.recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    if let Some(ip) = dial.source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(dial.addr).await?;
    stream.set_nodelay(true)?;
    let (mut rd, mut wr) = stream.into_split();
    let key = tokio_tungstenite::tungstenite::handshake::client::generate_key();
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n",
        dial.path, dial.addr, dial.origin
    );
    wr.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(1024);
    let head_len = loop {
        if let Some(pos) = find(&buf, b"\r\n\r\n") {
            break pos + 4;
        }
        if buf.len() > 16 * 1024 || rd.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no upgrade response").into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status != 101 {
        buf.advance(head_len);
        // Best effort: the JSON error body, if it came with the head.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(200), rd.read_buf(&mut buf))
            .await;
        return Err(DialError::Refused(
            status,
            String::from_utf8_lossy(&buf).into_owned(),
        ));
    }
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    if !head.contains(&accept) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad Sec-WebSocket-Accept").into());
    }
    buf.advance(head_len);
    Ok((
        Reader {
            rd,
            buf,
            pending: 0,
        },
        Writer {
            wr,
            mask: rand::random(),
            out: Vec::with_capacity(256),
        },
    ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One received frame, borrowed from the reader's buffer until the next read.
pub struct Frame<'a> {
    pub opcode: u8,
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// Server frames are JSON objects whose first field is `type` (serde's
    /// internally tagged enums write the tag first), so a prefix test suffices.
    pub fn is_type(&self, kind: &str) -> bool {
        let p = self.payload;
        p.starts_with(b"{\"type\":\"")
            && p[9..].starts_with(kind.as_bytes())
            && p.get(9 + kind.len()) == Some(&b'"')
    }

    /// The integer after `"name":` (first occurrence), without parsing JSON.
    pub fn int_field(&self, name: &str) -> Option<i64> {
        let key = format!("\"{name}\":");
        let at = find(self.payload, key.as_bytes())? + key.len();
        parse_int(&self.payload[at..])
    }

    /// The string after `"name":"` (first occurrence), up to the next quote; for
    /// values we chose ourselves, which never contain escapes.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        let key = format!("\"{name}\":\"");
        let at = find(self.payload, key.as_bytes())? + key.len();
        let len = self.payload[at..].iter().position(|&b| b == b'"')?;
        std::str::from_utf8(&self.payload[at..at + len]).ok()
    }

    /// The timestamp (µs) a load-generator message carries at the start of its text.
    pub fn stamp(&self) -> Option<u64> {
        let at = find(self.payload, b"\"text\":\"T")? + 9;
        parse_int(&self.payload[at..]).map(|v| v as u64)
    }

    /// The frame as `T`: only `T`'s fields are kept, the rest is skipped
    /// unread into memory (a welcome's 50 messages and 50 people parsed into
    /// `Value` trees were most of the load generator's CPU in bigroom-join).
    pub fn parse<'de, T: serde::Deserialize<'de>>(&'de self) -> Option<T> {
        serde_json::from_slice(self.payload).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.payload).into_owned()
    }
}

fn parse_int(bytes: &[u8]) -> Option<i64> {
    let (neg, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut value: i64 = 0;
    let mut any = false;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
        any = true;
    }
    any.then_some(if neg { -value } else { value })
}

pub struct Reader {
    rd: OwnedReadHalf,
    buf: BytesMut,
    /// Bytes of the frame handed out last, dropped on the next call.
    pending: usize,
}

impl Reader {
    /// Makes the coming drop reset the connection (RST) instead of closing it,
    /// as a crashed or unplugged client would.
    pub fn abort_on_drop(&self) {
        let _ = self.rd.as_ref().set_zero_linger();
    }

    /// The next complete frame; `None` when the server closed the TCP stream.
    pub async fn next(&mut self) -> io::Result<Option<Frame<'_>>> {
        self.buf.advance(self.pending);
        self.pending = 0;
        loop {
            if let Some((header, len, opcode)) = parse_header(&self.buf)? {
                if self.buf.len() >= header + len {
                    self.pending = header + len;
                    return Ok(Some(Frame {
                        opcode,
                        payload: &self.buf[header..header + len],
                    }));
                }
                self.buf.reserve(header + len - self.buf.len());
            } else if self.buf.capacity() - self.buf.len() < 512 {
                self.buf.reserve(4096);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Ok(None);
            }
        }
    }
}

/// (header length, payload length, opcode) once the header is complete.
fn parse_header(buf: &[u8]) -> io::Result<Option<(usize, usize, u8)>> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (buf[0], buf[1]);
    if b0 & 0x80 == 0 || b1 & 0x80 != 0 {
        // Our server never fragments and never masks; anything else is a bug worth seeing.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "fragmented or masked server frame",
        ));
    }
    let (header, len) = match b1 & 0x7f {
        126 if buf.len() >= 4 => (4, u16::from_be_bytes([buf[2], buf[3]]) as usize),
        127 if buf.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (10, u64::from_be_bytes(n) as usize)
        }
        126 | 127 => return Ok(None),
        n => (2, n as usize),
    };
    Ok(Some((header, len, b0 & 0x0f)))
}

pub struct Writer {
    wr: OwnedWriteHalf,
    mask: u32,
    out: Vec<u8>,
}

impl Writer {
    pub async fn text(&mut self, payload: &str) -> io::Result<()> {
        self.frame(OP_TEXT, payload.as_bytes()).await
    }

    pub async fn pong(&mut self, payload: &[u8]) -> io::Result<()> {
        self.frame(0xA, payload).await
    }

    /// Sends a close frame (1000) and shuts the write side down.
    pub async fn close(&mut self) -> io::Result<()> {
        self.frame(OP_CLOSE, &1000u16.to_be_bytes()).await?;
        self.wr.shutdown().await
    }

    async fn frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        // Clients must mask; the key need not be strong for a load test.
        self.mask = self
            .mask
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mask = self.mask.to_be_bytes();
        self.out.clear();
        self.out.push(0x80 | opcode);
        match payload.len() {
            n if n < 126 => self.out.push(0x80 | n as u8),
            n if n <= u16::MAX as usize => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&mask);
        self.out
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.wr.write_all(&self.out).await
    }
}
