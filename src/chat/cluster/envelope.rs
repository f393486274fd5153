//! What instances tell each other over the broker, as JSON.
//!
//! Message frames travel as the exact bytes every local recipient gets
//! (embedded raw, not re-encoded), so each message is still serialized once
//! per cluster.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::chat::hub::SeqRange;
use crate::chat::protocol::Who;
use crate::db::models::{RoomId, SiteId};

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
    Heartbeat(Heartbeat),
    /// The origin is shutting down: its people are gone.
    Leaving,
    /// New changes are recorded in the database (`cluster_events`): read
    /// them now rather than at the next poll.
    Events,
    /// One participant's presence changed on the origin.
    Presence(PresenceChange),
    /// Everyone present on the origin, at `version`.
    PresenceState {
        version: u64,
        rooms: Vec<RoomPresence>,
    },
    /// Asks the instance `of` (every instance when `None`) for its state.
    PresenceWanted { of: Option<u64> },
    /// A typing notice, as its recipients get it.
    Signal { room: RoomId, frame: F },
    /// A read receipt.
    Seen(Receipt),
}

// The variants below carry no frames; as newtype variants they encode as the
// struct variants they were (`{"presence": {"version": ..}}`).

#[derive(Debug, Serialize, Deserialize)]
pub struct Heartbeat {
    pub name: String,
    pub connections: usize,
    /// The version of the origin's presence.
    pub presence: u64,
    /// Open connections per site, for the dashboards of every instance.
    pub sites: Vec<(SiteId, usize)>,
}

/// `who` now has `connections` connections in the room on the origin (0: gone
/// from there); the origin's presence is now at `version`.
#[derive(Debug, Serialize, Deserialize)]
pub struct PresenceChange {
    pub version: u64,
    pub room: RoomId,
    pub name: String,
    pub site: SiteId,
    pub who: Who,
    pub connections: usize,
}

/// Participant `who` has seen the room up to `seq`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Receipt {
    pub room: RoomId,
    pub name: String,
    pub who: i64,
    pub seq: i64,
}

/// The participants present in one room on one instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoomPresence {
    pub room: RoomId,
    pub name: String,
    pub site: SiteId,
    /// Each with their connections in the room.
    pub present: Vec<(Who, usize)>,
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
    pub fn encode(self) -> Result<Vec<u8>, serde_json::Error> {
        // The frames are JSON already; they are embedded as they are.
        let raw = |f: Arc<str>| RawValue::from_string(f.to_string());
        let body = match self.body {
            Body::Messages { rooms } => Body::Messages {
                rooms: rooms
                    .into_iter()
                    .map(|r| {
                        Ok(RoomBatch {
                            room: r.room,
                            name: r.name,
                            after: r.after,
                            upto: r.upto,
                            frames: r
                                .frames
                                .into_iter()
                                .map(|(seq, f)| Ok((seq, raw(f)?)))
                                .collect::<Result<_, serde_json::Error>>()?,
                        })
                    })
                    .collect::<Result<_, serde_json::Error>>()?,
            },
            Body::Signal { room, frame } => Body::Signal {
                room,
                frame: raw(frame)?,
            },
            Body::Heartbeat(beat) => Body::Heartbeat(beat),
            Body::Leaving => Body::Leaving,
            Body::Events => Body::Events,
            Body::Presence(change) => Body::Presence(change),
            Body::PresenceState { version, rooms } => Body::PresenceState { version, rooms },
            Body::PresenceWanted { of } => Body::PresenceWanted { of },
            Body::Seen(receipt) => Body::Seen(receipt),
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

    #[test]
    fn presence_encodes_as_its_fields_under_its_name() {
        let who = Who {
            id: 5,
            nick: "ann".into(),
            kind: "guest".into(),
            avatar: None,
            look: None,
        };
        let change = Body::<Arc<str>>::Presence(PresenceChange {
            version: 2,
            room: RoomId(1),
            name: "lobby".into(),
            site: SiteId(3),
            who: who.clone(),
            connections: 1,
        });
        let wire = serde_json::to_value(&change).unwrap();
        assert_eq!(
            wire,
            serde_json::json!({"presence": {"version": 2, "room": 1, "name": "lobby",
                "site": 3, "who": serde_json::to_value(&who).unwrap(), "connections": 1}})
        );
    }
}
