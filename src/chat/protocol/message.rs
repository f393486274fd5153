//! A stored message as clients see it, and the JSON it keeps for welcomes.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::Who;

/// A stored message as clients see it (read back from another instance's
/// `message` frame too, for the room's recent history).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MessageView {
    pub seq: i64,
    pub id: i64,
    pub author: Who,
    pub text: String,
    /// Unix time in milliseconds, set by the server at commit.
    pub ts: i64,
    #[serde(skip)]
    json: EncodedOnce,
}

impl MessageView {
    pub fn new(seq: i64, id: i64, author: Who, text: String, ts: i64) -> Self {
        MessageView {
            seq,
            id,
            author,
            text,
            ts,
            json: EncodedOnce::default(),
        }
    }

    /// Its JSON, made the first time it is asked for and kept: a message of
    /// a room's recent history goes into every welcome of that room (ten
    /// thousand of them when a big room joins at once). `None` if it cannot
    /// be encoded.
    pub fn json(&self) -> Option<&RawValue> {
        self.json
            .0
            .get_or_init(|| serde_json::value::to_raw_value(self).ok())
            .as_deref()
    }

    /// The bytes of the JSON kept with it (0 until [`Self::json`] made it):
    /// what tests see of the cache.
    #[cfg(test)]
    pub fn encoded_len(&self) -> usize {
        self.json
            .0
            .get()
            .and_then(Option::as_ref)
            .map_or(0, |json| json.get().len())
    }
}

/// The JSON of a [`MessageView`] once made (`None` inside: it could not be).
/// A clone starts empty (the clone may be changed); equality ignores it.
#[derive(Default)]
struct EncodedOnce(std::sync::OnceLock<Option<Box<RawValue>>>);

/// Left out of a message's `Debug`: the same fields again.
impl std::fmt::Debug for EncodedOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("_")
    }
}

impl Clone for EncodedOnce {
    fn clone(&self) -> Self {
        EncodedOnce::default()
    }
}

impl PartialEq for EncodedOnce {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A welcome's messages, each as the JSON it keeps ([`MessageView::json`]).
pub(super) fn encoded_once<S: serde::Serializer>(
    messages: &[Arc<MessageView>],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = serializer.serialize_seq(Some(messages.len()))?;
    for message in messages {
        match message.json() {
            Some(json) => seq.serialize_element(json)?,
            None => seq.serialize_element(&**message)?,
        }
    }
    seq.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::protocol::{RoomRulesView, ServerFrame, WelcomeMode};

    fn message() -> Arc<MessageView> {
        let author = Who {
            id: 7,
            nick: "ann \"the\" <b>".into(),
            kind: "guest".into(),
            avatar: None,
            look: None,
        };
        Arc::new(MessageView::new(
            3,
            30,
            author,
            "a\nb \u{1F600}".into(),
            1_000,
        ))
    }

    /// A welcome sends the JSON a message keeps; a `message` frame, where
    /// the fields sit beside `room` and `type`, still has them all, before
    /// and after that JSON was made.
    #[test]
    fn welcomes_and_message_frames_carry_every_field_of_a_message() {
        let message = message();
        let expected = serde_json::json!({
            "seq": 3, "id": 30, "ts": 1000, "text": "a\nb \u{1F600}",
            "author": {"id": 7, "nick": "ann \"the\" <b>", "kind": "guest"},
        });
        let frame = |message: &Arc<MessageView>| {
            let text = ServerFrame::Message {
                room: "lobby".into(),
                message: message.clone(),
            }
            .encode();
            serde_json::from_str::<serde_json::Value>(&text).unwrap()
        };
        let before = frame(&message);
        let welcome = ServerFrame::Welcome {
            room: "lobby".into(),
            seq: 3,
            mode: WelcomeMode::Latest,
            messages: vec![message.clone(), message.clone()],
            more: false,
            deleted: Vec::new(),
            online: Arc::new(crate::chat::protocol::WhoPage::new(Vec::new())),
            online_total: 0,
            seen: Vec::new(),
            presence_lines: true,
            rules: RoomRulesView {
                max_message_chars: 10,
                slow_mode_secs: 0,
                locked: false,
                approve_first: false,
            },
        }
        .encode();
        assert!(message.encoded_len() > 0, "kept");
        let welcome: serde_json::Value = serde_json::from_str(&welcome).unwrap();
        assert_eq!(welcome["messages"], serde_json::json!([expected, expected]));
        for frame in [before, frame(&message)] {
            assert_eq!(frame["type"], "message");
            assert_eq!(frame["room"], "lobby");
            for field in ["seq", "id", "ts", "text", "author"] {
                assert_eq!(frame[field], expected[field], "{field}");
            }
        }
    }
}
