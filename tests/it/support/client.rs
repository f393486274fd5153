//! A real WebSocket client over TCP speaking the chat protocol, with typed
//! steps (`hello`, `join`, `say`) and waits that fail with a clear message.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::wait::WAIT;

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How the server ended a connection.
#[derive(Debug)]
pub struct Closed {
    pub code: Option<u16>,
    pub notice: Option<Value>,
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::text(frame.to_string()))
            .await
            .expect("send frame");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send raw frame");
    }

    /// Next JSON frame (control frames skipped); panics on timeout or close.
    pub async fn recv(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("frame within timeout");
            match msg {
                Some(Ok(Message::Text(text))) => {
                    return serde_json::from_str(&text).expect("server sends JSON")
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn recv_type(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.recv().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Asserts that no text frame arrives within `wait` (pings do not end the wait).
    pub async fn expect_silence(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, self.ws.next()).await {
            if let Message::Text(text) = message {
                panic!("expected no frame, got {text}");
            }
        }
    }

    /// Reads until the server closes; returns the close code and any notice before it.
    pub async fn closed(&mut self) -> Closed {
        let mut notice = None;
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close within timeout")
            {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == "notice" {
                        notice = Some(frame);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Closed {
                        code: frame.map(|f| u16::from(f.code)),
                        notice,
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Closed { code: None, notice },
            }
        }
    }

    pub async fn hello(&mut self, fields: Value) -> Value {
        let mut frame = json!({"type": "hello", "v": 1});
        frame
            .as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        self.send(frame).await;
        self.recv().await
    }

    pub async fn join(&mut self, room: &str, since: Option<i64>) -> Value {
        let mut frame = json!({"type": "join", "room": room});
        if let Some(since) = since {
            frame["since"] = json!(since);
        }
        self.send(frame).await;
        self.recv_type("welcome").await
    }

    /// Sends a message and returns its ack.
    pub async fn say(&mut self, room: &str, cid: &str, text: &str) -> Value {
        self.send(json!({"type": "send", "room": room, "cid": cid, "text": text}))
            .await;
        let reply = self.recv_type_any(&["ack", "error"]).await;
        assert_eq!(reply["type"], "ack", "send refused: {reply}");
        reply
    }

    pub async fn recv_type_any(&mut self, kinds: &[&str]) -> Value {
        loop {
            let frame = self.recv().await;
            if kinds.iter().any(|k| frame["type"] == *k) {
                return frame;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self
            .ws
            .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await;
    }
}

/// What of a `welcome` is history (to compare two welcomes' history: from memory and from
/// the database, on one instance and another).
pub fn history(welcome: &Value) -> Value {
    serde_json::json!({
        "seq": welcome["seq"],
        "mode": welcome["mode"],
        "messages": welcome["messages"],
        "more": welcome["more"],
        "deleted": welcome["deleted"],
    })
}

/// Message texts in a welcome/history frame, in order.
pub fn texts(frame: &Value) -> Vec<String> {
    frame["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}
