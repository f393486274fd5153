//! Malformed, oversized, hostile and out-of-order input, and every limit.

use std::time::Duration;

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::close;
use crate::support::*;

async fn error_for(client: &mut Client, raw: &str) -> Value {
    client.send_raw(Message::text(raw.to_owned())).await;
    let reply = client.recv().await;
    assert_eq!(reply["type"], "error", "{raw} → {reply}");
    reply
}

#[tokio::test]
async fn before_hello_only_ping_is_answered() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut client = app.connect(&site.public_key).await;
    assert_eq!(
        error_for(&mut client, r#"{"type":"join","room":"lobby"}"#).await["code"],
        "not_ready"
    );
    assert_eq!(
        error_for(
            &mut client,
            r#"{"type":"send","room":"lobby","cid":"1","text":"x"}"#
        )
        .await["code"],
        "not_ready"
    );
    assert_eq!(
        error_for(&mut client, r#"{"type":"who","room":"lobby","limit":5}"#).await["code"],
        "not_ready"
    );
    // Ping works at any time.
    client.send(json!({"type": "ping", "t": "abc"})).await;
    assert_eq!(client.recv().await, json!({"type": "pong", "t": "abc"}));
}

#[tokio::test]
async fn malformed_frames_get_clear_errors_and_break_nothing() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut bystander, _) = app.guest_in(&site.public_key, "bystander", "lobby").await;
    let mut client = app.connect(&site.public_key).await;
    client.hello(json!({"nick": "fuzzer"})).await;
    for (raw, code, hint) in [
        ("not json", "bad_json", ""),
        ("{\"type\":\"send\"", "bad_json", ""),
        ("", "bad_json", ""),
        ("[]", "bad_frame", ""),
        ("42", "bad_frame", ""),
        (r#"{"no_type":1}"#, "bad_frame", "type"),
        (r#"{"type":"explode"}"#, "bad_frame", "explode"),
        (r#"{"type":"join"}"#, "bad_frame", "room"),
        (r#"{"type":"join","room":5}"#, "bad_frame", ""),
        (
            r#"{"type":"join","room":"lobby","since":"yesterday"}"#,
            "bad_frame",
            "",
        ),
        (
            r#"{"type":"send","room":"lobby","cid":"1","text":"x","admin":true}"#,
            "bad_frame",
            "admin",
        ),
        (
            r#"{"type":"typing","room":"lobby","active":"yes"}"#,
            "bad_frame",
            "",
        ),
        (r#"{"type":"join","room":"a b"}"#, "invalid_room", ""),
        (r#"{"type":"join","room":""}"#, "invalid_room", ""),
        (
            r#"{"type":"send","room":"lobby","cid":"1","text":"x"}"#,
            "not_joined",
            "",
        ),
        (r#"{"type":"leave","room":"lobby"}"#, "not_joined", ""),
        (r#"{"type":"who"}"#, "bad_frame", "room"),
        (r#"{"type":"who","room":5}"#, "bad_frame", ""),
        (r#"{"type":"who","room":null}"#, "bad_frame", ""),
        (r#"{"type":"who","room":"lobby"}"#, "not_joined", ""),
        (
            r#"{"type":"who","room":"nowhere","limit":5}"#,
            "not_joined",
            "",
        ),
        (
            r#"{"type":"typing","room":"lobby","active":true}"#,
            "not_joined",
            "",
        ),
    ] {
        let reply = error_for(&mut client, raw).await;
        assert_eq!(reply["code"], code, "{raw} → {reply}");
        assert!(
            reply["message"].as_str().unwrap().contains(hint),
            "{raw} → {reply}"
        );
    }
    client
        .send_raw(Message::binary(vec![0u8, 159, 146, 150]))
        .await;
    assert_eq!(client.recv().await["code"], "unsupported_frame");

    // Still fully working, and the bystander saw none of it.
    client.join("lobby", None).await;
    let ack = client.say("lobby", "ok-1", "still here").await;
    assert_eq!(ack["seq"], 1);
    assert_eq!(
        bystander.recv_type_any(&["message"]).await["text"],
        "still here"
    );
}

/// A name no room can have is `invalid_room` in every frame that names a
/// room, as in `join` (outside tester F4: `who`, `history`, `leave` and
/// `seen` answered `not_joined`).
#[tokio::test]
async fn room_names_no_room_can_have_are_invalid_room_in_every_frame() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "named", "lobby").await;
    let long = "x".repeat(65);
    for room in ["Bad Room!", long.as_str(), ""] {
        for frame in [
            json!({"type": "send", "room": room, "cid": "c1", "text": "x"}),
            json!({"type": "history", "room": room, "before": 10}),
            json!({"type": "leave", "room": room}),
            json!({"type": "who", "room": room}),
            json!({"type": "seen", "room": room, "seq": 1}),
            json!({"type": "typing", "room": room, "active": true}),
            json!({"type": "report", "room": room, "seq": 1}),
        ] {
            let reply = error_for(&mut client, &frame.to_string()).await;
            assert_eq!(reply["code"], "invalid_room", "{frame} → {reply}");
        }
    }
    // A valid name one is not in is still `not_joined`.
    let reply = error_for(&mut client, r#"{"type":"who","room":"elsewhere"}"#).await;
    assert_eq!(reply["code"], "not_joined");
}

/// Frames refused with their error code: sends, history pages and `who`.
const REFUSED: &[(&str, &str)] = &[
    (
        r#"{"type":"send","room":"lobby","cid":"","text":"x"}"#,
        "invalid_cid",
    ),
    (
        r#"{"type":"send","room":"lobby","cid":"has space","text":"x"}"#,
        "invalid_cid",
    ),
    (
        r#"{"type":"send","room":"lobby","cid":"1","text":"   \n\t "}"#,
        "empty_message",
    ),
    (
        r#"{"type":"send","room":"lobby","cid":"1","text":"\u0000\u0007"}"#,
        "empty_message",
    ),
    (
        r#"{"type":"history","room":"lobby","before":5,"limit":0}"#,
        "bad_frame",
    ),
    (
        r#"{"type":"history","room":"lobby","before":5,"limit":1000}"#,
        "bad_frame",
    ),
    // `who` (issue 14): wrong types, numbers out of range, extra fields.
    (r#"{"type":"who","room":"lobby","after":"x"}"#, "bad_frame"),
    (r#"{"type":"who","room":"lobby","after":1.5}"#, "bad_frame"),
    (
        r#"{"type":"who","room":"lobby","after":99999999999999999999}"#,
        "bad_frame",
    ),
    (r#"{"type":"who","room":"lobby","after":[1]}"#, "bad_frame"),
    (r#"{"type":"who","room":"lobby","limit":"10"}"#, "bad_frame"),
    (r#"{"type":"who","room":"lobby","limit":-1}"#, "bad_frame"),
    (r#"{"type":"who","room":"lobby","limit":0}"#, "bad_frame"),
    (r#"{"type":"who","room":"lobby","limit":101}"#, "bad_frame"),
    (
        r#"{"type":"who","room":"lobby","limit":4294967296}"#,
        "bad_frame",
    ),
    (r#"{"type":"who","room":"lobby","limit":1e30}"#, "bad_frame"),
    (
        r#"{"type":"who","room":"lobby","limit":5,"admin":true}"#,
        "bad_frame",
    ),
    (
        r#"{"type":"who","room":"lobby","limit":5,"limit":6}"#,
        "bad_frame",
    ),
];

#[tokio::test]
async fn bad_sends_and_history_pages_are_refused_and_name_their_cid() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "sender", "lobby").await;
    for (raw, code) in REFUSED {
        let reply = error_for(&mut client, raw).await;
        assert_eq!(reply["code"], *code, "{raw} → {reply}");
        // Readable or not, each names its frame and room (PROTOCOL.md §11).
        assert_eq!(reply["room"], "lobby", "{raw} → {reply}");
        assert!(reply["ref"].is_string(), "{raw} → {reply}");
    }
    // What names a frame: a send's cid (even when the send is unreadable), else its type.
    for (raw, code, named) in [
        (
            r#"{"type":"send","room":"lobby","cid":"c-10","text":5}"#,
            "bad_frame",
            "c-10",
        ),
        (
            r#"{"type":"send","room":"lobby","cid":"c-9","text":""}"#,
            "empty_message",
            "c-9",
        ),
        (
            r#"{"type":"who","room":"lobby","limit":0}"#,
            "bad_frame",
            "who",
        ),
    ] {
        let reply = error_for(&mut client, raw).await;
        assert_eq!(
            (
                reply["code"].as_str(),
                reply["ref"].as_str(),
                reply["room"].as_str()
            ),
            (Some(code), Some(named), Some("lobby")),
            "{raw} → {reply}"
        );
    }
    // Cursors at either end of the range are pages, not errors.
    for after in [i64::MIN, -1, i64::MAX] {
        client
            .send(json!({"type": "who", "room": "lobby", "after": after, "limit": 100}))
            .await;
        let page = client.recv().await;
        assert_eq!(page["type"], "who", "after {after}: {page}");
    }
}

#[tokio::test]
async fn a_stream_of_garbage_closes_the_connection() {
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let mut client = app.connect(&site.public_key).await;
    for _ in 0..20 {
        client.send_raw(Message::text("garbage")).await;
    }
    let closed = client.closed().await;
    assert_eq!(closed.code, close::PROTOCOL_VIOLATION);
    assert_eq!(closed.notice.unwrap()["code"], "protocol_violation");
}

#[tokio::test]
async fn oversized_frames_close_with_1009() {
    let app = TestApp::builder()
        .limits(|l| l.max_frame_bytes = 1024)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, ready) = app.guest(&site.public_key, "big").await;
    assert_eq!(ready["limits"]["max_frame_bytes"], 1024);
    client.join("lobby", None).await;
    client
        .send(json!({"type": "send", "room": "lobby", "cid": "1", "text": "x".repeat(2000)}))
        .await;
    let closed = client.closed().await;
    assert_eq!(closed.code, close::FRAME_TOO_LARGE);
}

#[tokio::test]
async fn message_length_is_limited_in_characters() {
    let app = TestApp::builder()
        .limits(|l| l.max_message_chars = 10)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, ready) = app.guest(&site.public_key, "len").await;
    assert_eq!(ready["limits"]["max_message_chars"], 10);
    client.join("lobby", None).await;
    client.say("lobby", "1", "éééééééééé").await;
    client
        .send(json!({"type": "send", "room": "lobby", "cid": "2", "text": "01234567890"}))
        .await;
    let err = client.recv().await;
    assert_eq!(err["code"], "message_too_long");
    assert!(
        err["message"].as_str().unwrap().contains("limit is 10"),
        "{err}"
    );
}

#[tokio::test]
async fn sending_too_fast_is_rate_limited_with_a_retry_time() {
    let app = TestApp::builder()
        .limits(|l| {
            l.messages_per_second = 1;
            l.message_burst = 3;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "fast", "lobby").await;
    for i in 0..3 {
        client.say("lobby", &format!("ok{i}"), "burst").await;
    }
    client
        .send(json!({"type": "send", "room": "lobby", "cid": "over", "text": "too fast"}))
        .await;
    let err = client.recv_type("error").await;
    assert_eq!(
        (err["code"].as_str(), err["ref"].as_str()),
        (Some("rate_limited"), Some("over"))
    );
    let wait = err["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 1000, "{err}");
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    client.say("lobby", "over", "too fast").await;
}

#[tokio::test]
async fn the_ip_budget_is_shared_by_connections() {
    let app = TestApp::builder()
        .limits(|l| {
            l.messages_per_second = 100;
            l.message_burst = 100;
            l.ip_messages_per_second = 1;
            l.ip_message_burst = 2;
        })
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut one, _) = app.guest(&site.public_key, "one").await;
    let (mut two, _) = app.guest(&site.public_key, "two").await;
    one.join("lobby", None).await;
    two.join("lobby", None).await;
    one.say("lobby", "1", "a").await;
    two.say("lobby", "2", "b").await;
    one.send(json!({"type": "send", "room": "lobby", "cid": "3", "text": "c"}))
        .await;
    assert_eq!(one.recv_type("error").await["code"], "rate_limited");
}

#[tokio::test]
async fn joins_per_connection_are_capped() {
    let app = TestApp::builder()
        .limits(|l| l.max_joins_per_connection = 2)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut client, _) = app.guest_in(&site.public_key, "joiner", "a").await;
    client.join("b", None).await;
    client.send(json!({"type": "join", "room": "c"})).await;
    assert_eq!(client.recv().await["code"], "too_many_joins");
    client.send(json!({"type": "leave", "room": "a"})).await;
    client.recv_type("left").await;
    client.join("c", None).await;
}

#[tokio::test]
async fn silent_connections_are_closed_by_the_heartbeat() {
    let app = TestApp::builder()
        .limits(|l| l.heartbeat_secs = 1)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let (mut idle, ready) = app.guest(&site.public_key, "idle").await;
    assert_eq!(ready["heartbeat_ms"], 1000);
    let (mut alive, _) = app.guest(&site.public_key, "alive").await;
    // The idle client stops reading (so it answers no pings); the live one keeps reading.
    let keep_alive = tokio::spawn(async move {
        let end = tokio::time::Instant::now() + Duration::from_secs(4);
        while tokio::time::Instant::now() < end {
            let _ = tokio::time::timeout(
                Duration::from_millis(200),
                futures_util::StreamExt::next(&mut alive.ws),
            )
            .await;
        }
        alive
    });
    tokio::time::sleep(Duration::from_secs(4)).await;
    let closed = idle.closed().await;
    assert_eq!(closed.code, close::IDLE_TIMEOUT);
    let mut alive = keep_alive.await.unwrap();
    alive.send(json!({"type": "ping"})).await;
    assert_eq!(
        alive.recv().await["type"],
        "pong",
        "a client answering pings stays connected"
    );
}

#[tokio::test]
async fn a_reader_that_stops_reading_is_cut_and_others_are_unaffected() {
    let app = TestApp::builder()
        .limits(|l| l.outbound_queue_bytes = 256 * 1024)
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut stalled = app.connect_small_buffer(&site.public_key).await;
    stalled.hello(json!({"nick": "stalled"})).await;
    stalled.join("lobby", None).await;
    let (mut reader, _) = app.guest_in(&site.public_key, "reader", "lobby").await;
    let (mut sender, _) = app.guest_in(&site.public_key, "sender", "lobby").await;

    // The healthy reader drains in the background while `stalled` reads nothing.
    let reading = tokio::spawn(async move {
        let mut last = 0;
        loop {
            let frame = reader.recv_type("message").await;
            let seq = frame["seq"].as_i64().unwrap();
            assert_eq!(seq, last + 1, "the healthy reader misses nothing");
            last = seq;
            if frame["text"] == "done" {
                return last;
            }
        }
    });
    // Send until the server gives up on the stalled connection (bounded at ~20 MB),
    // in small bursts so the healthy reader never lags by more than the queue bound.
    // The server's decision shows in the acks at once: a message reaches one
    // connection instead of two. (Its socket task ends a little later.)
    let text = "x".repeat(1900);
    let mut sent = 0;
    let mut cut = false;
    while !cut {
        assert!(sent < 10_000, "the stalled connection was never cut");
        for _ in 0..20 {
            sender
                .send(
                    json!({"type": "send", "room": "lobby", "cid": sent.to_string(), "text": text}),
                )
                .await;
            sent += 1;
        }
        for _ in 0..20 {
            cut |= sender.recv_type("ack").await["delivered"] == 1;
        }
    }
    for _ in 0..200 {
        if app.state.chat.hub.connection_count() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.state.chat.hub.connection_count(),
        2,
        "the stalled connection is closed"
    );
    sender.say("lobby", "done", "done").await;
    let last = tokio::time::timeout(Duration::from_secs(30), reading)
        .await
        .expect("reader keeps up")
        .unwrap();
    assert_eq!(last, sent + 1, "the healthy reader got every message");
    // The connection is gone. A client that reads nothing at all cannot receive the
    // notice (its socket is full); one that reads again in time gets it with 4008.
    let closed = stalled.closed().await;
    match closed.code {
        Some(_) => {
            assert_eq!(closed.code, close::SLOW_CONSUMER);
            assert_eq!(
                closed.notice.expect("notice before close")["code"],
                "slow_consumer"
            );
        }
        None => assert!(closed.notice.is_none()),
    }
}
