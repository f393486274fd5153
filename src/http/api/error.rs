//! The server API's errors, each with its HTTP status and stable code (the
//! WebSocket protocol's name where the meaning is the same), answered as
//! `{"error": code, "message": text}` like the rest of the server. Storage
//! and internal errors are logged here and never shown.

use std::time::Duration;

use serde::Serialize;
use warp::http::{header, HeaderValue, StatusCode};

use crate::chat::publish::PublishError;
use crate::db::models::Scope;
use crate::db::DbError;
use crate::manage::ManageError;
use crate::moderation::ModerationError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no key, or one that is unknown or revoked.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 403: the key lacks the scope.
    #[error("This API key lacks the {0} scope.")]
    InsufficientScope(Scope),
    /// 403
    #[error("This site is disabled.")]
    SiteDisabled,
    /// 429: the key's request budget is spent.
    #[error("Too many requests with this API key; retry in {}.", in_seconds(*.0))]
    RateLimited(Duration),
    /// 429: the caller's address failed to authenticate too often.
    #[error("Too many requests without a valid API key from this address; retry in {}.", in_seconds(*.0))]
    TooManyFailures(Duration),
    /// 404: no such endpoint.
    #[error("No such endpoint: {0}.")]
    NoEndpoint(String),
    /// 404: what the request named went away meanwhile (deleted by someone else).
    #[error("It does not exist (any more).")]
    Gone,
    /// 405, with the methods that are (the `Allow` header).
    #[error("{0} is not allowed here.")]
    MethodNotAllowed(String, &'static [warp::http::Method]),
    /// 404
    #[error("There is no room {0:?} on this site.")]
    RoomNotFound(String),
    /// 404
    #[error("{0}")]
    MessageNotFound(String),
    /// 404
    #[error("{0}")]
    ParticipantNotFound(String),
    /// 404
    #[error("{0}")]
    BanNotFound(String),
    /// 409
    #[error("Room {0:?} exists already.")]
    RoomExists(String),
    /// 409: the cid was used for another message.
    #[error("{0}")]
    CidReused(String),
    /// 409: the site's room limit.
    #[error("This site has reached its room limit.")]
    TooManyRooms,
    /// 400: the body is not JSON.
    #[error("The body is not valid JSON: {0}")]
    BadJson(String),
    /// 400: JSON, but not what the endpoint takes, or a bad parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 400
    #[error("{0}")]
    InvalidRoom(String),
    /// 400
    #[error("{0}")]
    InvalidCid(String),
    /// 400: `user` is not a valid user.
    #[error("{0}")]
    InvalidUser(String),
    /// 400
    #[error("The message is empty.")]
    EmptyMessage,
    /// 400
    #[error("{0}")]
    MessageTooLong(String),
    /// 403: posting for a banned user.
    #[error("{0}")]
    Banned(String),
    /// 403: posting for a muted user.
    #[error("{message}")]
    Muted { message: String, left: Duration },
    /// 413
    #[error("The body is larger than {0} bytes.")]
    PayloadTooLarge(usize),
    /// 415
    #[error("Send the body as application/json.")]
    UnsupportedMediaType,
    /// 503: the database is unavailable; retry with backoff (a post with the same cid).
    #[error("{0}")]
    StorageUnavailable(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            Unauthorized(_) => StatusCode::UNAUTHORIZED,
            InsufficientScope(_) | SiteDisabled | Banned(_) | Muted { .. } => StatusCode::FORBIDDEN,
            RateLimited(_) | TooManyFailures(_) => StatusCode::TOO_MANY_REQUESTS,
            NoEndpoint(_)
            | RoomNotFound(_)
            | MessageNotFound(_)
            | ParticipantNotFound(_)
            | BanNotFound(_)
            | Gone => StatusCode::NOT_FOUND,
            MethodNotAllowed(..) => StatusCode::METHOD_NOT_ALLOWED,
            RoomExists(_) | TooManyRooms | CidReused(_) => StatusCode::CONFLICT,
            BadJson(_) | BadRequest(_) | InvalidRoom(_) | InvalidCid(_) | InvalidUser(_)
            | EmptyMessage | MessageTooLong(_) => StatusCode::BAD_REQUEST,
            PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable code; docs/API.md lists them all.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            Unauthorized(_) => "unauthorized",
            InsufficientScope(_) => "insufficient_scope",
            SiteDisabled => "site_disabled",
            RateLimited(_) | TooManyFailures(_) => "rate_limited",
            NoEndpoint(_) | Gone => "not_found",
            MethodNotAllowed(..) => "method_not_allowed",
            RoomNotFound(_) => "room_not_found",
            MessageNotFound(_) => "message_not_found",
            ParticipantNotFound(_) => "participant_not_found",
            BanNotFound(_) => "ban_not_found",
            RoomExists(_) => "room_exists",
            TooManyRooms => "too_many_rooms",
            CidReused(_) => "cid_reused",
            BadJson(_) => "bad_json",
            BadRequest(_) => "bad_request",
            InvalidRoom(_) => "invalid_room",
            InvalidCid(_) => "invalid_cid",
            InvalidUser(_) => "invalid_user",
            EmptyMessage => "empty_message",
            MessageTooLong(_) => "message_too_long",
            Banned(_) => "banned",
            Muted { .. } => "muted",
            PayloadTooLarge(_) => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            StorageUnavailable(_) => "storage_unavailable",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited(wait) | ApiError::TooManyFailures(wait) => Some(*wait),
            ApiError::Muted { left, .. } => Some(*left),
            ApiError::StorageUnavailable(_) => Some(Duration::from_secs(1)),
            _ => None,
        }
    }

    pub fn into_response(self) -> warp::reply::Response {
        let retry = self.retry_after();
        let retry_after_ms = retry.map(|d| d.as_millis().max(1) as u64);
        let body = Body {
            error: self.code(),
            message: self.to_string(),
            retry_after_ms,
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), self.status()).into_response();
        let headers = response.headers_mut();
        if let ApiError::Unauthorized(_) = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::MethodNotAllowed(_, allowed) = self {
            let allowed: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                headers.insert(header::ALLOW, value);
            }
        }
        if let Some(wait) = retry {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

use warp::Reply as _;

/// A wait for people: tenths of a second, rounded up (never "0.0 s").
fn in_seconds(wait: Duration) -> String {
    let tenths = wait.as_millis().div_ceil(100).max(1);
    format!("{}.{} s", tenths / 10, tenths % 10)
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        tracing::error!(error = %err, "database error in the server API");
        ApiError::StorageUnavailable("The chat's storage is unavailable; retry shortly.".into())
    }
}

impl From<ModerationError> for ApiError {
    fn from(err: ModerationError) -> Self {
        match err {
            ModerationError::NotFound => ApiError::Gone,
            ModerationError::Invalid(text) => ApiError::BadRequest(text),
            ModerationError::TooManyRooms => ApiError::TooManyRooms,
            ModerationError::RoomExists(name) => ApiError::RoomExists(name),
            ModerationError::Db(db) => db.into(),
        }
    }
}

impl From<ManageError> for ApiError {
    fn from(err: ManageError) -> Self {
        match err {
            ManageError::NotFound => ApiError::Gone,
            ManageError::Invalid(text) => ApiError::BadRequest(text),
            ManageError::Db(db) => db.into(),
        }
    }
}

impl From<PublishError> for ApiError {
    fn from(err: PublishError) -> Self {
        match err {
            PublishError::RoomNotFound(room) => ApiError::RoomNotFound(room),
            PublishError::InvalidCid(why) => ApiError::InvalidCid(why),
            PublishError::InvalidAuthor(why) => ApiError::InvalidUser(format!("user: {why}")),
            PublishError::Empty => ApiError::EmptyMessage,
            PublishError::TooLong(why) => ApiError::MessageTooLong(why),
            err @ PublishError::Banned { .. } => ApiError::Banned(err.to_string()),
            PublishError::Muted {
                name,
                reason,
                until,
            } => {
                let left = (until - crate::db::now_ms()).max(1) as u64;
                ApiError::Muted {
                    message: format!("{name} is muted: {reason}"),
                    left: Duration::from_millis(left),
                }
            }
            PublishError::CidReused(err) => ApiError::CidReused(err.to_string()),
            PublishError::TooManyRooms => ApiError::TooManyRooms,
            // The cid names a message of its author's that will never be posted.
            err @ PublishError::Rejected => ApiError::CidReused(err.to_string()),
            PublishError::NotStored(why) => ApiError::StorageUnavailable(why.to_string()),
            PublishError::Db(db) => db.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_wait_is_never_said_as_zero_seconds() {
        let said = |ms| ApiError::RateLimited(Duration::from_millis(ms)).to_string();
        assert!(said(11).contains("retry in 0.1 s"), "{}", said(11));
        assert!(said(0).contains("retry in 0.1 s"));
        assert!(said(100).contains("retry in 0.1 s"));
        assert!(said(101).contains("retry in 0.2 s"));
        assert!(said(2500).contains("retry in 2.5 s"));
    }
}
