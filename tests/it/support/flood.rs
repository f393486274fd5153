//! A sender that does not wait for its acks (pipelined), as a busy client
//! keeps sending while a server is killed: how many sends went out, and
//! which acks came back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::client::Client;

/// The `send` numbered `i`: cid `i`, text `m{i}`, in `lobby`.
pub fn send_frame(i: u64) -> Message {
    Message::text(
        json!({"type": "send", "room": "lobby", "cid": i.to_string(), "text": format!("m{i}")})
            .to_string(),
    )
}

pub struct Flood {
    sending: JoinHandle<u64>,
    acking: JoinHandle<()>,
    /// The acks so far: the send's number (its cid) to its seq.
    acked: Arc<Mutex<BTreeMap<u64, i64>>>,
}

/// Sends `send_frame(0)`, `send_frame(1)`, ... `pause` apart until `max`
/// are sent or the connection fails, reading acks meanwhile.
pub fn flood(sender: Client, max: u64, pause: Duration) -> Flood {
    let (mut sink, mut stream) = sender.ws.split();
    let sending = tokio::spawn(async move {
        let mut sent = 0u64;
        while sent < max && sink.send(send_frame(sent)).await.is_ok() {
            sent += 1;
            tokio::time::sleep(pause).await;
        }
        sent
    });
    let acked: Arc<Mutex<BTreeMap<u64, i64>>> = Arc::default();
    let acks = acked.clone();
    let acking = tokio::spawn(async move {
        // Until the connection ends; pings and other non-text frames are skipped.
        while let Some(Ok(message)) = stream.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).unwrap_or_default();
            if frame["type"] == "ack" {
                let cid: u64 = frame["cid"].as_str().unwrap().parse().unwrap();
                let seq = frame["seq"].as_i64().unwrap();
                acks.lock().unwrap().insert(cid, seq);
            }
        }
    });
    Flood {
        sending,
        acking,
        acked,
    }
}

impl Flood {
    /// Waits until `n` sends are acknowledged; fails after `within`.
    pub async fn until_acked(&self, n: usize, within: Duration) {
        tokio::time::timeout(within, async {
            while self.acked.lock().unwrap().len() < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("messages flow");
    }

    /// Once the connection has ended: how many were sent, and the acks.
    pub async fn finish(self) -> (u64, BTreeMap<u64, i64>) {
        let sent = self.sending.await.unwrap();
        self.acking.await.unwrap();
        let acked = self.acked.lock().unwrap().clone();
        (sent, acked)
    }
}
