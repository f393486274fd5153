//! Bounded fuzzing with proptest against a real `chatctl serve` process:
//! client frames (arbitrary text, arbitrary JSON, valid frames with a field
//! mutated) and raw HTTP requests (paths, queries, upgrade headers). After
//! every input the server must still answer; at the end its stderr must hold
//! no panic. Every input tried is written to `fuzz-*.log` under cargo's test
//! tmp dir, and the counts are printed.
//!
//! `FUZZ_CASES` sets the number of inputs per target (default 400).

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::process::{create_api_key, create_site, ServerProcess, FAST};
use crate::support::{test_db, Client, TestDb, ORIGIN};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A `chatctl serve` under fuzzing, with a site, and the runtime that drives
/// it. The server's stderr goes to `fuzz-{name}-server.log`, every input tried
/// (with what came of it) to `fuzz-{name}.log`. The runner wants an `Fn`:
/// the input log and the count are shared state.
struct FuzzTarget {
    rt: tokio::runtime::Runtime,
    server: ServerProcess,
    key: String,
    server_log: PathBuf,
    inputs: RefCell<std::fs::File>,
    tried: Cell<u64>,
    database: TestDb,
}

impl FuzzTarget {
    fn start(name: &str, serve_args: &[&str]) -> FuzzTarget {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let database = test_db();
        let key = create_site(&database.url);
        let server_log = artifact(&format!("fuzz-{name}-server.log"));
        let server = rt.block_on(ServerProcess::start_logged(
            &database.url,
            serve_args,
            server_log.clone(),
        ));
        let inputs = std::fs::File::create(artifact(&format!("fuzz-{name}.log"))).unwrap();
        FuzzTarget {
            rt,
            server,
            key,
            server_log,
            inputs: RefCell::new(inputs),
            tried: Cell::new(0),
            database,
        }
    }

    /// `FUZZ_CASES` inputs, none remembered between runs.
    fn runner() -> TestRunner {
        TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        })
    }

    /// Counts one more input; returns its number (from 1).
    fn next_input(&self) -> u64 {
        self.tried.set(self.tried.get() + 1);
        self.tried.get()
    }

    /// Writes a line to the input log.
    fn record(&self, line: String) {
        let _ = writeln!(self.inputs.borrow_mut(), "{line}");
    }

    /// The status of `/healthz`, if the server answers.
    fn health(&self) -> Option<u16> {
        self.rt
            .block_on(async {
                reqwest::get(format!("http://{}/healthz", self.server.addr))
                    .await
                    .map(|r| r.status().as_u16())
            })
            .ok()
    }

    /// Waits (up to a minute) for `/widget.js`: its first answer waits for the
    /// start-up compression (Zopfli), which a busy machine can stretch past
    /// the 10 s a fuzz answer is given.
    fn warm_up(&self) {
        let url = format!("http://{}/widget.js", self.server.addr);
        let warmed = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), reqwest::get(url)).await
        });
        assert!(
            matches!(warmed, Ok(Ok(_))),
            "/widget.js did not answer: {warmed:?}"
        );
    }

    /// Stops the server and prints what was tried (`{n} {what}`); returns the
    /// server's stderr, to check with [`assert_no_panic`].
    fn stop(self, what: &str) -> String {
        drop(self.server);
        let stderr = std::fs::read_to_string(&self.server_log).unwrap_or_default();
        eprintln!(
            "fuzz: {} {what}, server log: {}",
            self.tried.get(),
            self.server_log.display()
        );
        stderr
    }
}

fn assert_no_panic(server_stderr: &str) {
    assert!(
        !server_stderr.contains("panicked"),
        "the server panicked:\n{server_stderr}"
    );
}

const FIELDS: &[&str] = &[
    "type",
    "v",
    "nick",
    "guest_token",
    "room",
    "since",
    "cid",
    "text",
    "active",
    "seq",
    "before",
    "limit",
    "t",
];
const TYPES: &[&str] = &[
    "hello", "join", "leave", "send", "typing", "seen", "history", "ping", "ready", "", "SEND",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
        prop::sample::select(TYPES).prop_map(|t| json!(t)),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|kv| {
                Value::Object(
                    kv.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    })
}

/// A valid frame of each kind, then one field replaced by something arbitrary.
fn mutated_frame() -> impl Strategy<Value = Value> {
    let valid = prop::sample::select(vec![
        json!({"type": "hello", "v": 1, "nick": "fuzz"}),
        json!({"type": "join", "room": "lobby", "since": 0}),
        json!({"type": "leave", "room": "lobby"}),
        json!({"type": "send", "room": "lobby", "cid": "c1", "text": "hi"}),
        json!({"type": "typing", "room": "lobby", "active": true}),
        json!({"type": "seen", "room": "lobby", "seq": 1}),
        json!({"type": "history", "room": "lobby", "before": 10, "limit": 5}),
        json!({"type": "ping", "t": 1}),
    ]);
    (valid, prop::sample::select(FIELDS), json_value()).prop_map(|(mut frame, field, value)| {
        frame[field] = value;
        frame
    })
}

/// Well-formed frames with edge values: what gets past the parser into the
/// session (unicode, control characters, huge or negative numbers).
fn edge_frame() -> impl Strategy<Value = Value> {
    let room = prop_oneof![Just("lobby".to_owned()), "[a-z:/._-]{1,70}", "\\PC{0,80}"];
    let text = prop_oneof!["\\PC{0,300}", "[\\x00-\\x1f \\u{200b}\\u{202e}a]{0,40}"];
    prop_oneof![
        (0u32..3, "\\PC{0,50}").prop_map(|(v, nick)| json!({"type": "hello", "v": v, "nick": nick})),
        (room.clone(), any::<Option<i64>>()).prop_map(|(room, since)| json!({"type": "join", "room": room, "since": since})),
        room.clone().prop_map(|room| json!({"type": "leave", "room": room})),
        (room.clone(), "[ -~]{0,80}", text).prop_map(|(room, cid, text)| json!({"type": "send", "room": room, "cid": cid, "text": text})),
        (room.clone(), any::<bool>()).prop_map(|(room, active)| json!({"type": "typing", "room": room, "active": active})),
        (room.clone(), any::<i64>()).prop_map(|(room, seq)| json!({"type": "seen", "room": room, "seq": seq})),
        (room, any::<i64>(), any::<Option<u32>>()).prop_map(|(room, before, limit)| json!({"type": "history", "room": room, "before": before, "limit": limit})),
    ]
}

fn frame_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => "\\PC{0,200}",
        1 => json_value().prop_map(|v| v.to_string()),
        2 => mutated_frame().prop_map(|v| v.to_string()),
        4 => edge_frame().prop_map(|v| v.to_string()),
    ]
}

/// Sends `text`, then a ping, and reads up to the pong: whatever the input
/// did, the connection must still be open and answering.
async fn exchange(client: &mut Client, text: &str, n: u64) -> Result<Vec<String>, String> {
    client
        .ws
        .send(Message::text(text))
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    client
        .ws
        .send(Message::text(json!({"type": "ping", "t": n}).to_string()))
        .await
        .map_err(|e| format!("send failed: {e}"))?;
    let mut answers = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), client.ws.next())
            .await
            .map_err(|_| "no answer within 10 s".to_owned())?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let frame: Value =
                    serde_json::from_str(&t).map_err(|e| format!("not JSON: {e}"))?;
                if frame["type"] == "pong" && frame["t"] == n {
                    return Ok(answers);
                }
                answers.push(
                    frame["code"]
                        .as_str()
                        .unwrap_or(frame["type"].as_str().unwrap_or("?"))
                        .to_owned(),
                );
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => return Err(format!("connection ended: {other:?}")),
        }
    }
}

#[test]
fn client_frames_never_crash_the_server_or_close_the_connection() {
    let target = FuzzTarget::start("frames", FAST);
    // Ready first: a ping before hello is refused (not_ready) instead of answered.
    let client = target.rt.block_on(async {
        let mut client = target.server.connect(&target.key).await;
        client.hello(json!({"nick": "fuzzer"})).await;
        client
    });
    // The runner wants an `Fn`; the connection is shared state.
    let client = RefCell::new(client);
    let result = FuzzTarget::runner().run(&frame_text(), |text| {
        let n = target.next_input();
        let answers = target
            .rt
            .block_on(exchange(&mut client.borrow_mut(), &text, n))
            .map_err(TestCaseError::fail)?;
        target.record(format!("{}\t{}", json!(text), answers.join(",")));
        Ok(())
    });
    drop(client); // before the runtime it was made on
    let stderr = target.stop("client frames tried");
    result.unwrap();
    assert_no_panic(&stderr);
}

fn http_request() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just("/ws".to_owned()),
        Just("/ws/check".to_owned()),
        Just("/healthz".to_owned()),
        Just("/widget.js".to_owned()),
        Just("/api/v1/rooms".to_owned()),
        Just("/api/v1/openapi.json".to_owned()),
        "/api/v1/(rooms|participants|bans)(/[a-zA-Z0-9._%:~-]{0,20}){0,3}",
        "/[a-zA-Z0-9/._%~-]{0,40}",
    ];
    let query = prop_oneof![
        Just(String::new()),
        "\\?site=[a-zA-Z0-9_%]{0,30}",
        "\\?[a-zA-Z0-9=&%_+.-]{0,60}",
    ];
    let header = (
        prop::sample::select(vec![
            "Origin",
            "Upgrade",
            "Connection",
            "Sec-WebSocket-Key",
            "Sec-WebSocket-Version",
            "If-None-Match",
            "Accept-Encoding",
            "Authorization",
            "Content-Type",
        ]),
        "[ -~]{0,60}",
    );
    let method = prop::sample::select(vec![
        "GET", "GET", "GET", "GET", "POST", "HEAD", "OPTIONS", "PATCH", "DELETE",
    ]);
    (method, path, query, prop::collection::vec(header, 0..5)).prop_map(
        |(method, path, query, headers)| {
            let mut request = format!("{method} {path}{query} HTTP/1.1\r\nHost: fuzz\r\n");
            for (name, value) in headers {
                request.push_str(&format!("{name}: {}\r\n", value.trim()));
            }
            request.push_str("Connection: close\r\n\r\n");
            request
        },
    )
}

/// The status code of the server's answer to a raw request.
async fn raw_status(addr: std::net::SocketAddr, request: &str) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut head = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut head))
        .await
        .map_err(|_| "no answer within 10 s".to_owned())?
        .map_err(|e| format!("read: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]).into_owned();
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))
}

#[test]
fn http_inputs_get_a_proper_answer_and_never_a_server_error() {
    // The server API's budget would answer most requests 429 before they reach a handler.
    let target = FuzzTarget::start(
        "http",
        &[
            "--api-requests-per-second",
            "100000",
            "--api-request-burst",
            "100000",
        ],
    );
    let key = target.key.clone();
    let api_key = create_api_key(&target.database.url, &key);
    target.warm_up();
    // Some requests carry the real site key and origin, so the checks past them run too.
    let strategy = (http_request(), any::<bool>()).prop_map(move |(request, real)| {
        if real {
            request
                .replacen(
                    "\r\nHost: fuzz\r\n",
                    &format!("\r\nHost: fuzz\r\nOrigin: {ORIGIN}\r\n"),
                    1,
                )
                .replacen("?site=", &format!("?site={key}&x="), 1)
                .replacen(
                    "\r\nHost: fuzz\r\n",
                    &format!("\r\nHost: fuzz\r\nAuthorization: Bearer {api_key}\r\n"),
                    1,
                )
        } else {
            request
        }
    });
    let result = FuzzTarget::runner().run(&strategy, |request| {
        target.next_input();
        let status = target
            .rt
            .block_on(raw_status(target.server.addr, &request))
            .map_err(TestCaseError::fail)?;
        target.record(format!("{status}\t{}", json!(request)));
        prop_assert!(
            status < 500 || status == 503,
            "status {status} for {request:?}"
        );
        Ok(())
    });
    let healthy = target.health();
    let stderr = target.stop("HTTP requests tried");
    result.unwrap();
    assert_eq!(healthy, Some(200), "still healthy after the fuzz");
    assert_no_panic(&stderr);
}

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
