//! What instances tell each other over the broker, as JSON.
//!
//! Message frames travel as the exact bytes every local recipient gets
//! (embedded raw, not re-encoded), so each message is still serialized once
//! per cluster.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Control;
use crate::chat::hub::SeqRange;
use crate::db::models::RoomId;

/// One published payload. `origin` is random per process start; `counter`
/// grows by one per payload an origin publishes, so a receiver that sees it
/// jump knows it lost something and reconciles from the database.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<F> {
    #[serde(rename = "o")]
    pub origin: u64,
    #[serde(rename = "n")]
    pub counter: u64,
    #[serde(rename = "b")]
    pub body: Body<F>,
}

// Externally tagged: an internally tagged enum buffers its content, which
// raw frames cannot go through.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Body<F> {
    /// The messages of one commit, per room.
    Messages { rooms: Vec<RoomBatch<F>> },
    /// Sent every second: the origin is alive, and its subscription (it
    /// hears its own) works.
    Heartbeat { name: String, connections: usize },
    /// The origin is shutting down.
    Leaving,
    /// A moderation event to apply everywhere.
    Control(Control),
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RoomBatch<F> {
    pub room: RoomId,
    pub name: String,
    pub after: i64,
    pub upto: i64,
    /// `(seq, frame)`; seqs in (`after`, `upto`] not listed were deleted or
    /// never stored.
    pub frames: Vec<(i64, F)>,
}

impl<F> RoomBatch<F> {
    pub fn range(&self) -> SeqRange {
        SeqRange {
            after: self.after,
            upto: self.upto,
        }
    }
}

/// As built by the writer: the frames it already encoded.
pub type Outgoing = Body<Arc<str>>;

impl Envelope<Arc<str>> {
    pub fn encode(&self) -> Result<Vec<u8>, serde_json::Error> {
        // The frames are JSON already; they are embedded as they are.
        let raw = |f: &Arc<str>| RawValue::from_string(f.to_string());
        let body = match &self.body {
            Body::Messages { rooms } => Body::Messages {
                rooms: rooms
                    .iter()
                    .map(|r| {
                        Ok(RoomBatch {
                            room: r.room,
                            name: r.name.clone(),
                            after: r.after,
                            upto: r.upto,
                            frames: r
                                .frames
                                .iter()
                                .map(|(seq, f)| Ok((*seq, raw(f)?)))
                                .collect::<Result<_, serde_json::Error>>()?,
                        })
                    })
                    .collect::<Result<_, serde_json::Error>>()?,
            },
            Body::Heartbeat { name, connections } => Body::Heartbeat {
                name: name.clone(),
                connections: *connections,
            },
            Body::Leaving => Body::Leaving,
            Body::Control(control) => Body::Control(control.clone()),
        };
        serde_json::to_vec(&Envelope {
            origin: self.origin,
            counter: self.counter,
            body,
        })
    }
}

/// As received: frames still raw, turned into shared text when delivered.
pub type Incoming = Envelope<Box<RawValue>>;

pub fn decode(payload: &[u8]) -> Result<Incoming, serde_json::Error> {
    serde_json::from_slice(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_travel_byte_for_byte() {
        let frame: Arc<str> =
            Arc::from(r#"{"type":"message","room":"lobby","message":{"seq":3,"text":"a \"b\""}}"#);
        let envelope = Envelope {
            origin: 7,
            counter: 9,
            body: Body::Messages {
                rooms: vec![RoomBatch {
                    room: RoomId(1),
                    name: "lobby".into(),
                    after: 2,
                    upto: 4,
                    frames: vec![(3, frame.clone())],
                }],
            },
        };
        let back = decode(&envelope.encode().unwrap()).unwrap();
        assert_eq!((back.origin, back.counter), (7, 9));
        let Body::Messages { rooms } = back.body else {
            panic!("messages expected");
        };
        assert_eq!(rooms[0].range(), SeqRange { after: 2, upto: 4 });
        assert_eq!(rooms[0].frames[0].0, 3);
        assert_eq!(rooms[0].frames[0].1.get(), &*frame);
    }
}
