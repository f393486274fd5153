//! The server killed (SIGKILL) or stopped (SIGTERM) while messages flow:
//! nothing acknowledged is lost, receivers resume with no gap and no
//! duplicate, and the stop drains within ten seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::seq_by_text;
use crate::support::close;
use crate::support::flood::{flood, send_frame};
use crate::support::process::{create_site, ServerProcess, FAST};
use crate::support::*;

/// Reads `message` seqs until the connection ends.
fn collect_messages(mut client: Client) -> tokio::task::JoinHandle<Vec<i64>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(Ok(msg)) = client.ws.next().await {
            if let Message::Text(text) = msg {
                let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                if frame["type"] == "message" {
                    seen.push(frame["seq"].as_i64().unwrap_or(-1));
                }
            }
        }
        seen
    })
}

fn seqs(frame: &Value) -> Vec<i64> {
    frame["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["seq"].as_i64()).collect())
        .unwrap_or_default()
}

/// Every acknowledged message (send number to seq) is in `history` with
/// the seq it was acked with, and the seqs after `base` have no hole;
/// returns the stored seq of each text, and the highest seq.
fn kept_in_order(
    history: &[Value],
    acked: &BTreeMap<u64, i64>,
    base: i64,
) -> (BTreeMap<String, i64>, i64) {
    let stored = seq_by_text(history);
    for (cid, seq) in acked {
        assert_eq!(
            stored.get(&format!("m{cid}")),
            Some(seq),
            "acked m{cid} survives kill -9"
        );
    }
    let stored_seqs: Vec<i64> = history.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    let top = *stored_seqs.last().unwrap();
    assert_eq!(
        stored_seqs,
        (base + 1..=top).collect::<Vec<_>>(),
        "no holes in seq"
    );
    (stored, top)
}

/// Each of the `sent` messages is in `history` exactly once.
fn stored_once(history: &[Value], sent: u64) {
    let texts: Vec<&str> = history
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = texts.iter().copied().collect();
    assert_eq!(unique.len(), texts.len(), "no message stored twice");
    assert_eq!(
        texts.len() as u64,
        sent,
        "every message stored once after retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_message_and_receivers_resume_exactly() {
    let database = test_db();
    let key = create_site(&database.url);
    let mut server = ServerProcess::start(&database.url, FAST).await;
    let (receiver, receiver_ready, welcome) = server
        .joined(&key, json!({"nick": "receiver"}), "lobby", None)
        .await;
    let base = welcome["seq"].as_i64().unwrap();
    let (sender, sender_ready, _) = server
        .joined(&key, json!({"nick": "sender"}), "lobby", None)
        .await;

    // Messages flow (pipelined, not waiting for acks) until the server dies.
    let receiving = collect_messages(receiver);
    let flood = flood(sender, 50_000, Duration::from_millis(1));
    flood.until_acked(200, Duration::from_secs(30)).await;
    server.kill9();
    let (sent, acked) = flood.finish().await;
    let seen = receiving.await.unwrap();

    server.restart().await;
    let (stored, top) = kept_in_order(&server.history(&key, "lobby").await, &acked, base);

    // The receiver had a prefix, and resuming gives exactly the rest.
    let last = seen.last().copied().unwrap_or(base);
    assert_eq!(
        seen,
        (base + 1..=last).collect::<Vec<_>>(),
        "live: in order, no gap"
    );
    let token = json!({"guest_token": receiver_ready["guest_token"]});
    let (mut receiver, _, resumed) = server.joined(&key, token, "lobby", Some(last)).await;
    assert_eq!(resumed["mode"], "resumed");
    assert_eq!(
        seqs(&resumed),
        (last + 1..=top).collect::<Vec<_>>(),
        "resume: exactly the missed ones"
    );

    // The sender retries what it has no ack for, with the same cids: what was
    // stored before the kill is acknowledged as a duplicate, the rest is posted once.
    let token = json!({"guest_token": sender_ready["guest_token"]});
    let (mut sender, _, _) = server.joined(&key, token, "lobby", None).await;
    let retries: Vec<u64> = (0..sent).filter(|i| !acked.contains_key(i)).collect();
    for i in &retries {
        sender.send_raw(send_frame(*i)).await;
    }
    let mut newest = top;
    for _ in &retries {
        let ack = sender.recv_type("ack").await;
        let cid = ack["cid"].as_str().unwrap();
        let was_stored = stored.contains_key(&format!("m{cid}"));
        assert_eq!(ack["duplicate"], was_stored, "{ack}");
        newest = newest.max(ack["seq"].as_i64().unwrap());
    }
    let mut live = Vec::new();
    while live.last().copied().unwrap_or(top) < newest {
        live.push(receiver.recv_type("message").await["seq"].as_i64().unwrap());
    }
    assert_eq!(
        live,
        (top + 1..=newest).collect::<Vec<_>>(),
        "after resume: in order, no gap"
    );

    stored_once(&server.history(&key, "lobby").await, sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_within_ten_seconds_and_keeps_what_was_acked() {
    let database = test_db();
    let key = create_site(&database.url);
    let mut server = ServerProcess::start(&database.url, FAST).await;
    let mut idle = Vec::new();
    for i in 0..20 {
        let (client, _, _) = server
            .joined(&key, json!({"nick": format!("idle{i}")}), "lobby", None)
            .await;
        idle.push(client);
    }
    let (mut sender, _, _) = server
        .joined(&key, json!({"nick": "sender"}), "lobby", None)
        .await;
    for i in 0..300 {
        sender.send_raw(send_frame(i)).await;
    }
    // SIGTERM once the server is busy with them, so sends are in flight when
    // it arrives (earlier, the server might not have read a single one yet).
    let mut acked: BTreeMap<String, i64> = BTreeMap::new();
    let first = sender.recv_type("ack").await;
    acked.insert(
        format!("m{}", first["cid"].as_str().unwrap()),
        first["seq"].as_i64().unwrap(),
    );
    let took = server
        .terminate(Duration::from_secs(10))
        .await
        .expect("the server exits within 10 s of SIGTERM");
    eprintln!("SIGTERM to exit: {took:?}");

    for mut client in idle {
        let closed = client.closed().await;
        assert_eq!(closed.code, close::RESTARTING);
        assert_eq!(closed.notice.unwrap()["code"], "restarting");
    }
    let mut sender_close = None;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), sender.ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: Value = serde_json::from_str(&text).unwrap();
                if frame["type"] == "ack" {
                    let text = format!("m{}", frame["cid"].as_str().unwrap());
                    acked.insert(text, frame["seq"].as_i64().unwrap());
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                sender_close = frame.map(|f| u16::from(f.code));
                break;
            }
            Ok(Some(Ok(_))) => continue,
            _ => break,
        }
    }
    assert_eq!(
        sender_close,
        close::RESTARTING,
        "the busy sender is told to reconnect too"
    );

    server.restart().await;
    let stored = seq_by_text(&server.history(&key, "lobby").await);
    for (text, seq) in &acked {
        assert_eq!(stored.get(text), Some(seq), "acked {text} kept");
    }
}
