//! Wire protocol v1: JSON text frames, one object per frame, tagged by `type`.
//!
//! `docs/PROTOCOL.md` is the user-facing specification; this module is its
//! source of truth. Every client frame is parsed into [`ClientFrame`]; every
//! server frame is a [`ServerFrame`] serialized once.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

mod codes;
mod error_frame;
mod message;
mod who_page;
pub use codes::{CloseReason, ErrorCode};
pub use error_frame::ErrorFrame;
pub use message::MessageView;
pub use who_page::WhoPage;

/// Protocol version spoken by this server.
pub const PROTOCOL_VERSION: u32 = 1;

/// Frames a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// First frame of every connection: protocol version and identity.
    Hello {
        v: u32,
        #[serde(default)]
        nick: Option<String>,
        #[serde(default)]
        guest_token: Option<String>,
        /// A user token signed by the host site (JWT, HS256 with the site secret).
        #[serde(default)]
        token: Option<String>,
        /// A session from `login` (registered accounts).
        #[serde(default)]
        account_token: Option<String>,
    },
    /// Create an account; a confirmation link is emailed.
    Register {
        name: String,
        email: String,
        password: String,
        #[serde(default)]
        lang: Option<String>,
    },
    /// Open a session for a confirmed account; then `hello` with the `account_token`.
    Login {
        email: String,
        password: String,
    },
    /// End a session.
    Logout {
        account_token: String,
    },
    ResendVerification {
        email: String,
        #[serde(default)]
        lang: Option<String>,
    },
    ForgotPassword {
        email: String,
        #[serde(default)]
        lang: Option<String>,
    },
    /// Subscribe to a room; `since` is the last seq the client has (resume).
    Join {
        room: String,
        #[serde(default)]
        since: Option<i64>,
    },
    Leave {
        room: String,
    },
    /// Post a message; `cid` is a client-chosen id that makes retries idempotent.
    Send {
        room: String,
        cid: String,
        text: String,
    },
    Typing {
        room: String,
        active: bool,
    },
    /// Older messages than `before` (exclusive), newest last.
    History {
        room: String,
        before: i64,
        #[serde(default)]
        limit: Option<u32>,
    },
    Ping {
        #[serde(default)]
        t: Option<serde_json::Value>,
    },
    /// Read receipt: the client has shown the room's messages up to `seq`.
    Seen {
        room: String,
        seq: i64,
    },
    /// A page of who is present in a joined room: up to `limit` (1..=100,
    /// default 50) participants with ids above `after`, in id order.
    Who {
        room: String,
        #[serde(default)]
        after: Option<i64>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// Flag a message for the site's moderators.
    Report {
        room: String,
        seq: i64,
        #[serde(default)]
        reason: Option<String>,
    },
}

impl ClientFrame {
    pub fn kind(&self) -> &'static str {
        match self {
            ClientFrame::Hello { .. } => "hello",
            ClientFrame::Register { .. } => "register",
            ClientFrame::Login { .. } => "login",
            ClientFrame::Logout { .. } => "logout",
            ClientFrame::ResendVerification { .. } => "resend_verification",
            ClientFrame::ForgotPassword { .. } => "forgot_password",
            ClientFrame::Join { .. } => "join",
            ClientFrame::Leave { .. } => "leave",
            ClientFrame::Send { .. } => "send",
            ClientFrame::Typing { .. } => "typing",
            ClientFrame::History { .. } => "history",
            ClientFrame::Ping { .. } => "ping",
            ClientFrame::Report { .. } => "report",
            ClientFrame::Seen { .. } => "seen",
            ClientFrame::Who { .. } => "who",
        }
    }
}

/// Who wrote a message or is present in a room. Cloned into every post, room
/// membership and presence entry, hence the shared strings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Who {
    pub id: i64,
    pub nick: Arc<str>,
    /// `guest`, `verified` or `member`.
    pub kind: Arc<str>,
    /// http(s) URL of a picture, for host-verified users who have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<Arc<str>>,
    /// The same for names that look alike (a hash of the name's key): the
    /// widget tells apart people present whose names share it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look: Option<Arc<str>>,
}

/// How a `welcome` relates to what the client already had.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum WelcomeMode {
    /// No `since`: the latest page of history.
    Latest,
    /// `since` honoured: exactly the messages after it.
    Resumed,
    /// The gap after `since` exceeds the resume cap: drop local history and use this page.
    Reset,
}

/// Limits announced in `ready` so clients can validate before sending.
#[derive(Debug, Clone, Serialize)]
pub struct AnnouncedLimits {
    pub max_message_chars: usize,
    pub max_frame_bytes: usize,
    pub messages_per_second: u32,
    pub burst: u32,
}

/// A room's rules as its visitors' clients need them, to say so before a
/// `send` is refused: the longest message in characters (the smallest of the
/// server's, the site's and the room's limits), slow mode in seconds (0:
/// off), read-only, and messages held for a moderator's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoomRulesView {
    pub max_message_chars: usize,
    pub slow_mode_secs: u32,
    pub locked: bool,
    pub approve_first: bool,
}

/// Frames the server sends.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Ready {
        v: u32,
        me: Who,
        /// Only for guests: store it and send it in the next `hello` to stay the same guest.
        #[serde(skip_serializing_if = "Option::is_none")]
        guest_token: Option<String>,
        limits: AnnouncedLimits,
        heartbeat_ms: u64,
        /// The room a page joins when its tag names none: `lobby` for every
        /// page, or `null` for a room per page (named after its path).
        default_room: Option<&'static str>,
    },
    Welcome {
        room: String,
        /// Highest seq in the room when the page was read.
        seq: i64,
        mode: WelcomeMode,
        /// Shared with the room's recent history in memory, and so is the
        /// JSON of each.
        #[serde(serialize_with = "message::encoded_once")]
        messages: Vec<Arc<MessageView>>,
        /// Older messages exist before the first one in `messages`.
        more: bool,
        /// Resumed only: seqs at or below `since` deleted while the client was away.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        deleted: Vec<i64>,
        /// Who is present: the first page (at most 50, by participant id) of
        /// `online_total`; `who` frames page through the rest. Shared by
        /// the welcomes of a room until someone on it comes or goes.
        online: Arc<WhoPage>,
        /// How many participants are present, on every instance.
        online_total: usize,
        /// How far each participant present has read (read receipts; empty in large rooms).
        seen: Vec<SeenCursor>,
        /// Whether the site shows "X joined" / "X left" lines (clients print
        /// none either in rooms of more than 50 people).
        presence_lines: bool,
        /// What the room's moderators set; `room_rules` tells of changes.
        rules: RoomRulesView,
    },
    Left {
        room: String,
    },
    /// The account exists; the confirmation link went to `email`.
    Registered {
        email: String,
    },
    LoggedIn {
        account_token: String,
        name: String,
        email: String,
    },
    LoggedOut {},
    /// Answer to `resend_verification`, whether or not the address has an unconfirmed account.
    VerificationSent {
        email: String,
    },
    /// Answer to `forgot_password`, whether or not the address has an account.
    ResetSent {
        email: String,
    },
    Message {
        room: String,
        #[serde(flatten)]
        message: Arc<MessageView>,
    },
    Ack {
        cid: String,
        room: String,
        seq: i64,
        id: i64,
        ts: i64,
        /// Connections the message was delivered to, besides the sender's.
        delivered: usize,
        /// True when this `cid` had already been stored: nothing new was posted.
        duplicate: bool,
    },
    History {
        room: String,
        messages: Vec<MessageView>,
        more: bool,
    },
    Presence {
        room: String,
        event: PresenceEvent,
        who: Who,
        online: usize,
    },
    /// Replaces `presence` in a crowd (over 50 present): how many are
    /// present now, sent at most every 2 s and only when it changed.
    PresenceCount {
        room: String,
        online: usize,
    },
    /// The answer to `who`: a page of who is present and the `after` of
    /// the next page (`null`: none).
    #[serde(rename = "who")]
    WhoPage {
        room: String,
        online: Vec<Who>,
        next: Option<i64>,
        online_total: usize,
    },
    Typing {
        room: String,
        who: Who,
        active: bool,
    },
    Deleted {
        room: String,
        seq: i64,
    },
    /// The room's rules changed (a moderator, or the site's length limit).
    RoomRules {
        room: String,
        rules: RoomRulesView,
    },
    /// Participant `id` has seen the room up to `seq`.
    Seen {
        room: String,
        #[serde(flatten)]
        cursor: SeenCursor,
    },
    /// The answer to a `report`: moderators will see it.
    Reported {
        room: String,
        seq: i64,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        t: Option<serde_json::Value>,
    },
    Error(ErrorFrame),
    /// Sent right before the server closes the connection.
    Notice {
        code: CloseReason,
        message: String,
        /// A ban's reason, as the moderator wrote it.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Unix ms until which a ban or mute lasts, when it expires.
        #[serde(skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
    },
}

/// How far one participant has read a room.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct SeenCursor {
    pub id: i64,
    pub seq: i64,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PresenceEvent {
    Join,
    Leave,
}

impl ServerFrame {
    /// Serialize once; the result is shared by every recipient.
    pub fn encode(&self) -> Arc<str> {
        // Serializing our own enum of plain data cannot fail.
        serde_json::to_string(self)
            .unwrap_or_else(|_| {
                String::from(r#"{"type":"error","code":"internal","message":"encoding failed"}"#)
            })
            .into()
    }
}
