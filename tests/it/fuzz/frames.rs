//! Client frames: arbitrary text, arbitrary JSON, and valid frames with a
//! field mutated, on one connection that must stay open and answer.

use std::cell::RefCell;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{assert_no_panic, FuzzTarget};
use crate::support::process::FAST;
use crate::support::Client;

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
    "after",
    "reason",
    "t",
];

const TYPES: &[&str] = &[
    "hello", "join", "leave", "send", "typing", "seen", "history", "who", "report", "ping",
    "ready", "", "SEND",
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
        json!({"type": "who", "room": "lobby", "after": 0, "limit": 10}),
        json!({"type": "report", "room": "lobby", "seq": 1, "reason": "spam"}),
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
        (room.clone(), any::<i64>(), any::<Option<u32>>()).prop_map(|(room, before, limit)| json!({"type": "history", "room": room, "before": before, "limit": limit})),
        (room.clone(), any::<Option<i64>>(), any::<Option<u32>>()).prop_map(|(room, after, limit)| json!({"type": "who", "room": room, "after": after, "limit": limit})),
        (room, any::<i64>(), proptest::option::of("\\PC{0,600}")).prop_map(|(room, seq, reason)| json!({"type": "report", "room": room, "seq": seq, "reason": reason})),
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
