//! The `error` frame's fields, set one by one: a new optional field touches
//! no caller.

use serde::Serialize;

use super::{ErrorCode, ServerFrame};

/// An `error` frame: built with [`ErrorFrame::new`] and the setters for what
/// it answers, so that a new optional field touches no caller.
#[derive(Debug, Serialize)]
pub struct ErrorFrame {
    code: ErrorCode,
    message: String,
    /// The frame type (or `cid` for sends) the error answers.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
    /// A free name like the refused one (`nick_in_use`).
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestion: Option<String>,
    /// A moderator's reason (`muted`), as they wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl ErrorFrame {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorFrame {
            code,
            message: message.into(),
            reference: None,
            room: None,
            retry_after_ms: None,
            suggestion: None,
            reason: None,
        }
    }

    // The setters take an Option too: a caller passes on what it may have.

    /// The frame type, or the `cid` of the send, it answers.
    pub fn reference(mut self, reference: impl Into<Option<String>>) -> Self {
        self.reference = reference.into();
        self
    }

    pub fn room(mut self, room: impl Into<Option<String>>) -> Self {
        self.room = room.into();
        self
    }

    pub fn retry_after_ms(mut self, ms: impl Into<Option<u64>>) -> Self {
        self.retry_after_ms = ms.into();
        self
    }

    pub fn suggestion(mut self, suggestion: impl Into<Option<String>>) -> Self {
        self.suggestion = suggestion.into();
        self
    }

    pub fn reason(mut self, reason: impl Into<Option<String>>) -> Self {
        self.reason = reason.into();
        self
    }
}

impl From<ErrorFrame> for ServerFrame {
    fn from(error: ErrorFrame) -> Self {
        ServerFrame::Error(error)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wire(frame: ErrorFrame) -> serde_json::Value {
        serde_json::from_str(&ServerFrame::from(frame).encode()).unwrap()
    }

    #[test]
    fn fields_left_unset_stay_off_the_wire() {
        assert_eq!(
            wire(ErrorFrame::new(ErrorCode::StorageUnavailable, "not stored")),
            json!({"type": "error", "code": "storage_unavailable", "message": "not stored"})
        );
        assert_eq!(
            wire(
                ErrorFrame::new(ErrorCode::StorageUnavailable, "not stored")
                    .reference(None)
                    .retry_after_ms(None)
            ),
            json!({"type": "error", "code": "storage_unavailable", "message": "not stored"})
        );
    }

    #[test]
    fn each_setter_sets_its_field_under_its_wire_name() {
        let frame = ErrorFrame::new(ErrorCode::StorageUnavailable, "not stored")
            .reference("c1".to_owned())
            .room("lobby".to_owned())
            .retry_after_ms(1000)
            .suggestion("alice 2".to_owned())
            .reason("spam".to_owned());
        assert_eq!(
            wire(frame),
            json!({"type": "error", "code": "storage_unavailable", "message": "not stored",
                   "ref": "c1", "room": "lobby", "retry_after_ms": 1000,
                   "suggestion": "alice 2", "reason": "spam"})
        );
    }
}
