//! A frame the session refuses, and the `error` frame that answers it.

use super::protocol::ErrorCode;
use crate::db::DbError;

/// A failed frame: the error frame to send back.
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }
}

impl From<DbError> for Refusal {
    fn from(err: DbError) -> Self {
        tracing::error!(error = %err, "database error while handling a frame");
        Refusal::new(
            ErrorCode::StorageUnavailable,
            "The chat is temporarily unavailable. Try again shortly.",
        )
    }
}
