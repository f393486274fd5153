//! One WebSocket connection's conversation: sends and history here; joins,
//! leaves and the `welcome` in `join`, identity (`hello`, account frames) in
//! `identity`, the send path's moderation checks and reports in `moderate`,
//! typing and read receipts in `signals`.
//!
//! The transport feeds text frames to [`Session::on_text`] and writes the
//! replies it returns at once; frames from the room (via the [`ConnQueue`])
//! are written if they are above the connection's floor for their room (set
//! at each join, [`ConnHandle::set_floor`]). Replies are written before the
//! queue is drained, and nothing is written through to the socket while a
//! frame is being handled, so a `welcome` always precedes the live messages
//! that follow it, and the floor drops the ones the welcome already carried.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use tokio::time::Instant;

use super::hub::{ConnHandle, ConnQueue, IpSlot};
use super::identify::{capitalized, Credentials};
use super::limits;
use super::protocol::*;
use super::refusal::{too_fast, Refusal};
use super::rooms::{view, who};
use super::writer::{Post, Reply, SlowMode};
use super::{Admission, Chat};
use crate::db::models::{Message, ParticipantId, RoomId, Site};
use crate::input::{self, ClientId, MessageTextError, RoomName};

mod identity;
mod join;
mod moderate;
mod open_room;
mod signals;

/// Consecutive invalid frames tolerated before the connection is closed.
const MAX_INVALID_STREAK: u32 = 20;
/// A repeated "typing" notice is relayed at most this often per room.
const TYPING_INTERVAL: Duration = Duration::from_millis(500);

/// What the transport should do after a frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Close {
        reason: CloseReason,
        message: String,
        until: Option<i64>,
    },
}

struct Me {
    participant: ParticipantId,
    who: Who,
    /// Rooms a host-verified token limits this user to.
    rooms: Option<Vec<RoomName>>,
}

struct Joined {
    id: RoomId,
    /// When "typing" was last relayed for this room, while typing.
    typing_since: Option<Instant>,
}

pub struct Session {
    chat: Arc<Chat>,
    /// The site's settings as last read (see [`Session::refresh_site`]).
    site: Arc<Site>,
    ip: IpAddr,
    handle: ConnHandle,
    _slot: IpSlot,
    me: Option<Me>,
    joined: HashMap<String, Joined>,
    limiter: DefaultDirectRateLimiter,
    report_limiter: DefaultDirectRateLimiter,
    seen_limiter: DefaultDirectRateLimiter,
    /// `history` pages: each is a database read, for this client alone.
    history_limiter: DefaultDirectRateLimiter,
    /// Everything this connection makes the server tell others (see `signals`).
    signal_limiter: DefaultDirectRateLimiter,
    invalid_streak: u32,
    /// Sends whose `ack` (or error) has not reached the client yet.
    in_flight: usize,
    replies: Vec<Arc<str>>,
}

impl Session {
    pub fn new(chat: Arc<Chat>, admission: Admission) -> (Session, ConnQueue) {
        let (handle, queue) = chat.hub.connect(
            admission.site.id,
            admission.ip,
            chat.limits.outbound_queue_bytes,
        );
        chat.metrics.connections.inc();
        let limiter =
            limits::connection_limiter(chat.limits.messages_per_second, chat.limits.message_burst);
        let signal_limiter =
            limits::connection_limiter(chat.limits.signals_per_second, chat.limits.signal_burst);
        let history_limiter =
            limits::connection_limiter(chat.limits.history_per_second, chat.limits.history_burst);
        let site = admission.site;
        let session = Session {
            chat,
            site,
            ip: admission.ip,
            handle,
            _slot: admission.slot,
            me: None,
            joined: HashMap::new(),
            limiter,
            report_limiter: limits::report_limiter(),
            seen_limiter: limits::connection_limiter(2, 4),
            history_limiter,
            signal_limiter,
            invalid_streak: 0,
            in_flight: 0,
            replies: Vec::new(),
        };
        (session, queue)
    }

    /// Frames to write now, in order.
    pub fn take_replies(&mut self) -> Vec<Arc<str>> {
        std::mem::take(&mut self.replies)
    }

    /// Call when a send's answer ([`Outbound::Reply`](super::hub::Outbound)) is written.
    pub fn replied(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn awaiting_replies(&self) -> bool {
        self.in_flight > 0
    }

    pub fn on_binary(&mut self) -> Flow {
        self.invalid(
            Refusal::new(
                ErrorCode::UnsupportedFrame,
                "Binary frames are not supported; send JSON text frames.",
            ),
            None,
            None,
        )
    }

    pub async fn on_text(&mut self, text: &str) -> Flow {
        let frame = match parse(text) {
            Ok(frame) => frame,
            Err(refusal) => {
                let (reference, room) = echo_of_unreadable(text);
                return self.invalid(refusal, reference, room);
            }
        };
        let (reference, room) = echo_of(&frame);
        match self.dispatch(frame).await {
            Ok(flow) => {
                self.invalid_streak = 0;
                flow
            }
            Err(refusal) => {
                self.error_frame(refusal, Some(reference), room);
                Flow::Continue
            }
        }
    }

    /// Runs one well-formed frame; a refusal becomes the `error` frame.
    async fn dispatch(&mut self, frame: ClientFrame) -> Result<Flow, Refusal> {
        match frame {
            ClientFrame::Ping { t } => {
                self.reply(ServerFrame::Pong { t });
                Ok(Flow::Continue)
            }
            ClientFrame::Hello {
                v,
                nick,
                guest_token,
                token,
                account_token,
            } => {
                self.hello(
                    v,
                    Credentials {
                        nick,
                        guest_token,
                        token,
                        account_token,
                    },
                )
                .await
            }
            frame @ (ClientFrame::Register { .. }
            | ClientFrame::Login { .. }
            | ClientFrame::Logout { .. }
            | ClientFrame::ResendVerification { .. }
            | ClientFrame::ForgotPassword { .. }) => {
                self.account(frame).await.map(|_| Flow::Continue)
            }
            _ if self.me.is_none() => Err(Refusal::new(
                ErrorCode::NotReady,
                "Send a hello frame first.",
            )),
            ClientFrame::Join { room, since } => {
                self.join(&room, since).await.map(|_| Flow::Continue)
            }
            ClientFrame::Leave { room } => self.leave(&room).map(|_| Flow::Continue),
            ClientFrame::Send { room, cid, text } => {
                self.send(&room, &cid, &text).await.map(|_| Flow::Continue)
            }
            ClientFrame::Report { room, seq, reason } => self
                .report(&room, seq, reason.as_deref())
                .await
                .map(|_| Flow::Continue),
            ClientFrame::Typing { room, active } => {
                self.typing(&room, active).await.map(|_| Flow::Continue)
            }
            ClientFrame::Seen { room, seq } => self.seen(&room, seq).await.map(|_| Flow::Continue),
            ClientFrame::Who { room, after, limit } => {
                self.who(&room, after, limit).map(|_| Flow::Continue)
            }
            ClientFrame::History {
                room,
                before,
                limit,
            } => self
                .history(&room, before, limit)
                .await
                .map(|_| Flow::Continue),
        }
    }

    /// Leaves every room; call once the socket is gone.
    pub fn close(self) {
        self.chat.metrics.connections.dec();
        let rooms: Vec<_> = self
            .joined
            .iter()
            .map(|(name, j)| (j.id, name.clone()))
            .collect();
        let ids: Vec<RoomId> = rooms.iter().map(|(id, _)| *id).collect();
        self.chat.hub.disconnect(self.handle.id, rooms);
        self.release_empty(&ids);
    }

    /// Rooms nobody is in here any more stop being held against prunes.
    fn release_empty(&self, rooms: &[RoomId]) {
        let (hub, holds) = (&self.chat.hub, &self.chat.holds);
        // Not `connections_in`: listing a room of thousands at each leave
        // made a crowd's leaving cost the square of its size.
        holds.release_empty(&self.chat.db, rooms, |room| hub.has_connections(room));
    }

    fn reply(&mut self, frame: ServerFrame) {
        self.replies.push(frame.encode());
    }

    fn error_frame(&mut self, refusal: Refusal, reference: Option<String>, room: Option<String>) {
        self.chat
            .metrics
            .frame_errors
            .get_or_create(&crate::metrics::CodeLabel {
                code: refusal.code.as_str(),
            })
            .inc();
        let frame = ErrorFrame::new(refusal.code, refusal.message)
            .reference(reference)
            .room(room)
            .retry_after_ms(refusal.retry_after_ms)
            .suggestion(refusal.suggestion)
            .reason(refusal.reason);
        self.reply(frame.into());
    }

    /// Answers a malformed frame; too many in a row close the connection.
    fn invalid(
        &mut self,
        refusal: Refusal,
        reference: Option<String>,
        room: Option<String>,
    ) -> Flow {
        self.error_frame(refusal, reference, room);
        self.invalid_streak += 1;
        if self.invalid_streak >= MAX_INVALID_STREAK {
            return Flow::Close {
                reason: CloseReason::ProtocolViolation,
                message: format!("Closed after {MAX_INVALID_STREAK} invalid frames in a row."),
                until: None,
            };
        }
        Flow::Continue
    }

    /// Reads the site's settings again (a cached lookup): a change made in
    /// the panel or from the command line applies to open connections too.
    async fn refresh_site(&mut self) -> Result<(), Refusal> {
        self.site = self.chat.rules.site(self.site.id).await?;
        Ok(())
    }

    fn me(&self) -> Result<&Me, Refusal> {
        self.me
            .as_ref()
            .ok_or_else(|| Refusal::new(ErrorCode::NotReady, "Send a hello frame first."))
    }

    /// The room `room` names, if this connection is in it: a name no room
    /// can have is `invalid_room` (as for `join`), not `not_joined`.
    fn joined(&self, room: &str) -> Result<&Joined, Refusal> {
        self.joined
            .get(valid_room(room)?)
            .ok_or_else(|| Refusal::new(ErrorCode::NotJoined, format!("Join room {room:?} first.")))
    }

    async fn send(&mut self, room: &str, cid: &str, text: &str) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        let cid =
            ClientId::parse(cid).map_err(|e| Refusal::new(ErrorCode::InvalidCid, e.to_string()))?;
        let text = self.checked_text(room_id, &cid, text).await?;
        // Cached since `checked_text`; the writer holds it against the stored messages.
        let secs = self.chat.rules.room(room_id).await?.slow_mode_secs;
        let slow_mode = (secs > 0).then(|| SlowMode {
            secs,
            marks: self.chat.rules.slow_marks(),
        });
        let me = self.me()?;
        self.chat.writer.post(Post {
            site: self.site.id,
            room: room_id,
            room_name: room.to_owned(),
            author: me.who.clone(),
            participant: me.participant,
            cid: cid.into_inner(),
            text,
            ip: Some(self.ip.to_string()),
            slow_mode,
            reply: Reply::Connection(self.handle.clone()),
        });
        self.in_flight += 1;
        Ok(())
    }

    async fn history(
        &mut self,
        room: &str,
        before: i64,
        limit: Option<u32>,
    ) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        let limit = limit.unwrap_or(50);
        if !(1..=100).contains(&limit) {
            return Err(Refusal::new(
                ErrorCode::BadFrame,
                "history limit must be between 1 and 100",
            ));
        }
        limits::take_direct(&self.history_limiter)
            .map_err(|wait| too_fast("You are loading history too fast", wait))?;
        let limit = i64::from(limit);
        let mut page = self
            .chat
            .db
            .run(move |conn| Message::before(conn, room_id, before, limit + 1))
            .await?;
        let more = page.len() as i64 > limit;
        if more {
            page.remove(0);
        }
        self.reply(ServerFrame::History {
            room: room.to_owned(),
            messages: page.into_iter().map(view).collect(),
            more,
        });
        Ok(())
    }
}

/// A client frame from its text: `bad_json` when it is not a JSON object,
/// `bad_frame` when it is not a frame the protocol knows.
/// `room` if it is a valid room name (see [`RoomName`]), else `invalid_room`.
fn valid_room(room: &str) -> Result<&str, Refusal> {
    RoomName::parse(room)
        .map(|_| room)
        .map_err(|e| Refusal::new(ErrorCode::InvalidRoom, e.to_string()))
}

fn parse(text: &str) -> Result<ClientFrame, Refusal> {
    serde_json::from_str::<ClientFrame>(text).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => {
            Refusal::new(ErrorCode::BadFrame, format!("Invalid frame: {err}"))
        }
        _ => Refusal::new(
            ErrorCode::BadJson,
            format!("Frames must be JSON objects: {err}"),
        ),
    })
}

/// What an `error` frame about `frame` names: its `ref` (the cid of a send,
/// else the frame's type) and its room.
fn echo_of(frame: &ClientFrame) -> (String, Option<String>) {
    let kind = frame.kind();
    match frame {
        ClientFrame::Send { cid, room, .. } => (cid.clone(), Some(room.clone())),
        ClientFrame::Join { room, .. }
        | ClientFrame::Report { room, .. }
        | ClientFrame::Leave { room }
        | ClientFrame::Typing { room, .. }
        | ClientFrame::Seen { room, .. }
        | ClientFrame::History { room, .. }
        | ClientFrame::Who { room, .. } => (kind.to_owned(), Some(room.clone())),
        _ => (kind.to_owned(), None),
    }
}

/// What an `error` frame about a frame that could not be read still names
/// (PROTOCOL.md §11), read leniently: the type as `ref` (for a `send`, its
/// cid), and the room, each only when well-formed; nothing for text that is
/// not a JSON object with a type.
fn echo_of_unreadable(text: &str) -> (Option<String>, Option<String>) {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(text) else {
        return (None, None);
    };
    let field = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
    let is_kind = |k: &&str| {
        (1..=32).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    };
    let Some(kind) = field("type").filter(is_kind) else {
        return (None, None);
    };
    let room = field("room")
        .filter(|r| RoomName::parse(r).is_ok())
        .map(str::to_owned);
    let reference = match field("cid") {
        Some(cid) if kind == "send" && ClientId::parse(cid).is_ok() => cid,
        _ => kind,
    };
    (Some(reference.to_owned()), room)
}
