//! The codes the protocol names (docs/PROTOCOL.md, sections 11 and 12): the
//! `code` of `error` frames, and why a connection is closed with which
//! WebSocket close code.

use serde::Serialize;

/// Stable error codes carried by `error` frames.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadJson,
    BadFrame,
    UnsupportedFrame,
    UnsupportedVersion,
    NotReady,
    AlreadyReady,
    InvalidNick,
    InvalidToken,
    GuestsNotAllowed,
    InvalidRoom,
    RoomNotFound,
    TooManyRooms,
    TooManyJoins,
    NotJoined,
    InvalidCid,
    CidReused,
    EmptyMessage,
    MessageTooLong,
    RateLimited,
    RoomLocked,
    Banned,
    Muted,
    SlowMode,
    MessageBlocked,
    HeldForReview,
    MessageNotFound,
    StorageUnavailable,
    Internal,
    VerificationRequired,
    NickTaken,
    /// A name kept for the chat's staff or the site itself.
    NickReserved,
    NickInUse,
    RoomForbidden,
    RegistrationClosed,
    InvalidEmail,
    WeakPassword,
    EmailTaken,
    InvalidCredentials,
    EmailNotVerified,
    SessionExpired,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::UnsupportedFrame => "unsupported_frame",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::AlreadyReady => "already_ready",
            ErrorCode::InvalidNick => "invalid_nick",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::GuestsNotAllowed => "guests_not_allowed",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::RoomNotFound => "room_not_found",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::TooManyJoins => "too_many_joins",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::InvalidCid => "invalid_cid",
            ErrorCode::CidReused => "cid_reused",
            ErrorCode::EmptyMessage => "empty_message",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::RoomLocked => "room_locked",
            ErrorCode::Banned => "banned",
            ErrorCode::Muted => "muted",
            ErrorCode::SlowMode => "slow_mode",
            ErrorCode::MessageBlocked => "message_blocked",
            ErrorCode::HeldForReview => "held_for_review",
            ErrorCode::MessageNotFound => "message_not_found",
            ErrorCode::StorageUnavailable => "storage_unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::VerificationRequired => "verification_required",
            ErrorCode::NickTaken => "nick_taken",
            ErrorCode::NickReserved => "nick_reserved",
            ErrorCode::NickInUse => "nick_in_use",
            ErrorCode::RoomForbidden => "room_forbidden",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::EmailTaken => "email_taken",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::EmailNotVerified => "email_not_verified",
            ErrorCode::SessionExpired => "session_expired",
        }
    }
}

/// Why the server closes a connection; each maps to one WebSocket close code.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// Server shutting down or restarting: reconnect with backoff and resume.
    Restarting,
    /// The participant or their address is banned.
    Banned,
    /// The account's sessions ended (its password changed): sign in again.
    SignedOut,
    /// The site was disabled or removed.
    SiteDisabled,
    /// The connection could not keep up with its room: reconnect and resume.
    SlowConsumer,
    /// No frame or pong within the heartbeat window.
    IdleTimeout,
    /// Too many invalid frames in a row.
    ProtocolViolation,
    /// A frame exceeded the size limit.
    FrameTooLarge,
}

impl CloseReason {
    pub const fn close_code(self) -> u16 {
        match self {
            CloseReason::Restarting => 4000,
            CloseReason::SignedOut => 4001,
            CloseReason::Banned => 4003,
            CloseReason::SiteDisabled => 4004,
            CloseReason::SlowConsumer => 4008,
            CloseReason::IdleTimeout => 4009,
            CloseReason::ProtocolViolation => 4010,
            CloseReason::FrameTooLarge => 1009,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Restarting => "restarting",
            CloseReason::SignedOut => "signed_out",
            CloseReason::Banned => "banned",
            CloseReason::SiteDisabled => "site_disabled",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::ProtocolViolation => "protocol_violation",
            CloseReason::FrameTooLarge => "frame_too_large",
        }
    }
}
