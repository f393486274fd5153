//! A frame the session refuses, and the `error` frame that answers it.

use std::time::Duration;

use super::protocol::ErrorCode;
use super::rules::MuteInfo;
use crate::db::DbError;

/// A failed frame: the error frame to send back.
pub struct Refusal {
    pub code: ErrorCode,
    pub message: String,
    pub retry_after_ms: Option<u64>,
    /// A name to offer instead of a refused one.
    pub suggestion: Option<String>,
    /// A moderator's reason (a mute), apart for clients that say the rest in their words.
    pub reason: Option<String>,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            retry_after_ms: None,
            suggestion: None,
            reason: None,
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

/// A muted participant tried to post.
pub fn muted(mute: &MuteInfo) -> Refusal {
    let left = (mute.until - crate::db::now_ms()).max(1000);
    let minutes = (left + 59_999) / 60_000;
    let reason = if mute.reason.is_empty() {
        String::new()
    } else {
        format!(" Reason: {}", mute.reason)
    };
    Refusal {
        code: ErrorCode::Muted,
        message: format!(
            "A moderator muted you; you can post again in {minutes} minute{}.{reason}",
            if minutes == 1 { "" } else { "s" }
        ),
        retry_after_ms: Some(left as u64),
        suggestion: None,
        reason: (!mute.reason.is_empty()).then(|| mute.reason.clone()),
    }
}

/// Slow mode: the participant posted in this room too recently.
pub fn slow_mode(secs: u32, wait: Duration) -> Refusal {
    let ms = wait.as_millis().max(1) as u64;
    Refusal {
        code: ErrorCode::SlowMode,
        message: format!(
            "Slow mode: one message every {secs} s in this room. Wait {} s.",
            ms.div_ceil(1000)
        ),
        retry_after_ms: Some(ms),
        suggestion: None,
        reason: None,
    }
}

/// A budget (rate limit) ran out: `what` says which, in a few words.
pub fn too_fast(what: &str, wait: Duration) -> Refusal {
    let ms = wait.as_millis().max(1) as u64;
    let after = if ms >= 120_000 {
        format!("{} minutes", ms.div_ceil(60_000))
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    };
    Refusal {
        code: ErrorCode::RateLimited,
        message: format!("{what}; retry in {after}."),
        retry_after_ms: Some(ms),
        suggestion: None,
        reason: None,
    }
}
