//! WebSocket framing itself (opcodes, lengths, masks, fragments, control
//! frames): the server neither crashes nor hangs, and valid frames still work.

use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{assert_no_panic, FuzzTarget};
use crate::support::process::FAST;
use crate::support::ORIGIN;

/// One client frame as it goes on the wire, any field possibly wrong.
#[derive(Debug, Clone)]
struct RawFrame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    /// `None`: the true payload length, minimally encoded. `Some`: a declared
    /// length in a chosen encoding, true or not (7-bit, 16-bit or 64-bit form).
    declared: Option<(u8, u64)>,
    mask: [u8; 4],
    payload: Vec<u8>,
}

impl RawFrame {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 15));
        let mask_bit = u8::from(self.masked) << 7;
        let len = self.payload.len() as u64;
        let (form, value) = self.declared.unwrap_or(match len {
            0..=125 => (0, len),
            126..=65535 => (1, len),
            _ => (2, len),
        });
        match form {
            0 => out.push(mask_bit | (value as u8).min(125)),
            1 => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(value as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&value.to_be_bytes());
            }
        }
        if self.masked {
            out.extend_from_slice(&self.mask);
        }
        let mask = if self.masked { self.mask } else { [0; 4] };
        out.extend(
            self.payload
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4]),
        );
    }

    /// Frames the server must accept without closing: masked, no reserved
    /// bits, honest length, final, a data or ping/pong opcode, UTF-8 text,
    /// control payloads within 125 bytes, data payloads within the frame limit.
    fn is_valid(&self) -> bool {
        let honest = self.declared.is_none();
        let op_ok = match self.opcode {
            1 => std::str::from_utf8(&self.payload).is_ok() && self.payload.len() <= 16384,
            2 => self.payload.len() <= 16384,
            9 | 10 => self.payload.len() <= 125,
            _ => false,
        };
        self.fin && self.rsv == 0 && self.masked && honest && op_ok
    }
}

fn raw_frame() -> impl Strategy<Value = RawFrame> {
    let opcode = prop_oneof![
        4 => prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]),
        1 => 0u8..16,
    ];
    let payload = prop_oneof![
        2 => Just(json!({"type": "ping", "t": 7}).to_string().into_bytes()),
        2 => "\\PC{0,60}".prop_map(String::into_bytes),
        2 => prop::collection::vec(any::<u8>(), 0..200),
        1 => (any::<u16>(), "[ -~]{0,20}").prop_map(|(code, reason)| {
            let mut p = code.to_be_bytes().to_vec();
            p.extend_from_slice(reason.as_bytes());
            p
        }),
        1 => (126usize..70_000).prop_map(|n| vec![b'x'; n]),
    ];
    let declared = prop_oneof![
        6 => Just(None),
        1 => (0u8..3, any::<u64>()).prop_map(Some),
        1 => (0u8..3, 0u64..300).prop_map(Some),
    ];
    (
        prop::bool::weighted(0.85),
        prop_oneof![6 => Just(0u8), 1 => 0u8..8],
        opcode,
        prop::bool::weighted(0.9),
        declared,
        any::<[u8; 4]>(),
        payload,
    )
        .prop_map(
            |(fin, rsv, opcode, masked, declared, mask, payload)| RawFrame {
                fin,
                rsv,
                opcode,
                masked,
                declared,
                mask,
                payload,
            },
        )
}

/// A client text frame, properly masked.
fn text_frame(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    RawFrame {
        fin: true,
        rsv: 0,
        opcode: 1,
        masked: true,
        declared: None,
        mask: [0x37, 0xfa, 0x21, 0x3d],
        payload: text.as_bytes().to_vec(),
    }
    .encode(&mut out);
    out
}

/// Server frames parsed from the bytes read so far: (opcode, payload) each.
fn server_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 15;
        let (len, head) = match bytes[1] & 127 {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(n) as usize, 10)
            }
            126 | 127 => break,
            n => (n as usize, 2),
        };
        if bytes.len() < head + len {
            break;
        }
        frames.push((opcode, bytes[head..head + len].to_vec()));
        bytes = &bytes[head + len..];
    }
    frames
}

/// Opens a raw WebSocket (our own handshake), says hello, sends `frames`
/// then a ping, half-closes, and reads until the server ends the connection.
/// Returns a short description of what the server did.
async fn framing_case(
    addr: std::net::SocketAddr,
    key: &str,
    frames: &[RawFrame],
) -> Result<String, String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let request = format!(
        "GET /ws?site={key} HTTP/1.1\r\nHost: fuzz\r\nOrigin: {ORIGIN}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let mut bytes = request.into_bytes();
    bytes.extend(text_frame(
        &json!({"type": "hello", "v": 1, "nick": "framer"}).to_string(),
    ));
    for frame in frames {
        frame.encode(&mut bytes);
    }
    bytes.extend(text_frame(&json!({"type": "ping", "t": 99}).to_string()));
    // The server may close (and stop reading) before it has read everything.
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return Err("the server neither answered nor closed within 10 s".into());
    }
    let head_end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no HTTP answer")?;
    if !got.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "upgrade refused: {:?}",
            String::from_utf8_lossy(&got[..head_end])
        ));
    }
    let frames = server_frames(&got[head_end + 4..]);
    let pong = frames.iter().any(|(op, p)| {
        *op == 1 && serde_json::from_slice::<Value>(p).is_ok_and(|v| v["type"] == "pong")
    });
    let close = frames.iter().find(|(op, _)| *op == 8).map(|(_, p)| {
        if p.len() >= 2 {
            u16::from_be_bytes([p[0], p[1]])
        } else {
            0
        }
    });
    Ok(format!(
        "{}{}",
        if pong { "pong" } else { "no-pong" },
        close.map(|c| format!(" close {c}")).unwrap_or_default()
    ))
}

#[test]
fn websocket_framing_never_crashes_or_hangs_the_server() {
    let target = FuzzTarget::start("ws", FAST);
    let (pongs, valid) = (Cell::new(0u64), Cell::new(0u64));
    let frame_runs = prop::collection::vec(raw_frame(), 1..5);
    let result = FuzzTarget::runner().run(&frame_runs, |frames| {
        target.next_input();
        let outcome = target
            .rt
            .block_on(framing_case(target.server.addr, &target.key, &frames))
            .map_err(TestCaseError::fail)?;
        let summary: Vec<String> = frames
            .iter()
            .map(|f| {
                format!(
                    "op{}{}{}{} len{}{}",
                    f.opcode,
                    if f.fin { "" } else { " nofin" },
                    if f.rsv != 0 { " rsv" } else { "" },
                    if f.masked { "" } else { " unmasked" },
                    f.payload.len(),
                    f.declared
                        .map(|d| format!(" declared{d:?}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        target.record(format!("{outcome}\t{}", summary.join(", ")));
        if outcome.starts_with("pong") {
            pongs.set(pongs.get() + 1);
        }
        // A sequence of valid frames leaves the connection working: the ping
        // after it is answered.
        if frames.iter().all(RawFrame::is_valid) {
            valid.set(valid.get() + 1);
            prop_assert!(
                outcome.starts_with("pong"),
                "{outcome} after valid frames {summary:?}"
            );
        }
        Ok(())
    });
    let healthy = target.health();
    let stderr = target.stop(&format!(
        "WebSocket frame sequences tried ({} all valid, {} answered)",
        valid.get(),
        pongs.get()
    ));
    result.unwrap();
    assert_eq!(healthy, Some(200), "still healthy after the fuzz");
    assert_no_panic(&stderr);
}
