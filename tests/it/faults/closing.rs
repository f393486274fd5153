//! Closing a connection that is behind (a ban, a slow consumer): the server
//! was in the middle of writing to it, and what the client reads must still
//! be whole frames, in order, then the notice and the close.

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::close;
use crate::support::wait::WAIT;
use crate::support::*;

/// Reads everything up to the close: the message seqs, the notice, the close
/// code. Panics on a frame that is not JSON or a stream that breaks: either
/// means bytes of one frame landed inside another.
async fn read_to_close(client: &mut Client) -> (Vec<i64>, Option<Value>, Option<u16>) {
    let (mut seqs, mut notice) = (Vec::new(), None);
    loop {
        let next = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut client.ws))
            .await
            .expect("the close within the timeout");
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

#[tokio::test]
async fn a_ban_while_the_server_is_writing_to_a_reader_that_is_behind_keeps_its_stream_whole() {
    let app = TestApp::builder()
        .messages_unthrottled(100_000)
        .spawn()
        .await;
    let site = app.site(&[ORIGIN]).await;
    let mut behind = app.connect_small_buffer(&site.public_key).await;
    behind.hello(json!({"nick": "behind"})).await;
    behind.join("lobby", None).await;
    let (mut sender, _) = app.guest_in(&site.public_key, "sender", "lobby").await;

    // 200 messages of ~1,900 bytes: within the connection's queue bound, far
    // more than the sockets between hold, so its task is stuck mid-write.
    let text = "x".repeat(1900);
    for i in 0..200 {
        sender.say("lobby", &i.to_string(), &text).await;
    }
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
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "in order, none twice");
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
    let mut behind = app.connect_small_buffer(&site.public_key).await;
    behind.hello(json!({"nick": "behind"})).await;
    behind.join("lobby", None).await;
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
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "in order, none twice");
    assert_eq!(notice.expect("the notice")["code"], "slow_consumer");
    assert_eq!(code, close::SLOW_CONSUMER);
}
