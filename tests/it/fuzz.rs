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

use crate::common::{test_db, Client, ORIGIN};
use crate::process::{create_site, ServerProcess, FAST};

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
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
    "before",
    "limit",
    "t",
];
const TYPES: &[&str] = &[
    "hello", "join", "leave", "send", "typing", "history", "ping", "ready", "", "SEND",
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
    let rt = tokio::runtime::Runtime::new().unwrap();
    let database = test_db();
    let key = create_site(&database.url);
    let server_log = artifact("fuzz-frames-server.log");
    let server = rt.block_on(ServerProcess::start_logged(
        &database.url,
        FAST,
        server_log.clone(),
    ));
    // Ready first: a ping before hello is refused (not_ready) instead of answered.
    let client = rt.block_on(async {
        let mut client = server.connect(&key).await;
        client.hello(json!({"nick": "fuzzer"})).await;
        client
    });
    // The runner wants an `Fn`; the connection and the log are shared state.
    let log = RefCell::new(std::fs::File::create(artifact("fuzz-frames.log")).unwrap());
    let client = RefCell::new(client);
    let n = Cell::new(0u64);
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&frame_text(), |text| {
        n.set(n.get() + 1);
        let answers = rt
            .block_on(exchange(&mut client.borrow_mut(), &text, n.get()))
            .map_err(TestCaseError::fail)?;
        let _ = writeln!(log.borrow_mut(), "{}\t{}", json!(text), answers.join(","));
        Ok(())
    });
    let n = n.get();
    drop(server);
    let stderr = std::fs::read_to_string(&server_log).unwrap_or_default();
    eprintln!(
        "fuzz: {n} client frames tried, server log: {}",
        server_log.display()
    );
    result.unwrap();
    assert!(
        !stderr.contains("panicked"),
        "the server panicked:\n{stderr}"
    );
}

fn http_request() -> impl Strategy<Value = String> {
    let path = prop_oneof![
        Just("/ws".to_owned()),
        Just("/ws/check".to_owned()),
        Just("/healthz".to_owned()),
        Just("/widget.js".to_owned()),
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
        ]),
        "[ -~]{0,60}",
    );
    let method = prop::sample::select(vec!["GET", "GET", "GET", "GET", "POST", "HEAD", "OPTIONS"]);
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
    let rt = tokio::runtime::Runtime::new().unwrap();
    let database = test_db();
    let key = create_site(&database.url);
    let server_log = artifact("fuzz-http-server.log");
    let server = rt.block_on(ServerProcess::start_logged(
        &database.url,
        &[],
        server_log.clone(),
    ));
    let log = RefCell::new(std::fs::File::create(artifact("fuzz-http.log")).unwrap());
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let n = Cell::new(0u64);
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
        } else {
            request
        }
    });
    let result = runner.run(&strategy, |request| {
        n.set(n.get() + 1);
        let status = rt
            .block_on(raw_status(server.addr, &request))
            .map_err(TestCaseError::fail)?;
        let _ = writeln!(log.borrow_mut(), "{status}\t{}", json!(request));
        prop_assert!(
            status < 500 || status == 503,
            "status {status} for {request:?}"
        );
        Ok(())
    });
    let healthy = rt.block_on(async {
        reqwest::get(format!("http://{}/healthz", server.addr))
            .await
            .map(|r| r.status().as_u16())
    });
    drop(server);
    let n = n.get();
    let stderr = std::fs::read_to_string(&server_log).unwrap_or_default();
    eprintln!(
        "fuzz: {n} HTTP requests tried, server log: {}",
        server_log.display()
    );
    result.unwrap();
    assert_eq!(healthy.ok(), Some(200), "still healthy after the fuzz");
    assert!(
        !stderr.contains("panicked"),
        "the server panicked:\n{stderr}"
    );
}
