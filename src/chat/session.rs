//! One WebSocket connection's conversation: hello, joins, sends, typing.
//!
//! The transport feeds text frames to [`Session::on_text`] and writes the
//! replies it returns at once; frames from the room (via the [`ConnQueue`])
//! are written after passing [`Session::accepts`]. Because replies are written
//! before the queue is drained, a `welcome` always precedes the live messages
//! that follow it, and `accepts` drops the ones the welcome already carried.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use governor::DefaultDirectRateLimiter;
use tokio::time::Instant;

use super::hub::{ConnHandle, ConnQueue, IpSlot};
use super::limits;
use super::protocol::*;
use super::refusal::Refusal;
use super::rooms::{load_welcome, resolve_room, view};
use super::writer::Post;
use super::{Admission, Chat};
use crate::db::models::{Ban, Message, Participant, ParticipantId, RoomId, Site};
use crate::identity::TokenError;
use crate::input::{self, ClientId, MessageTextError, Nickname, RoomName};

/// Consecutive invalid frames tolerated before the connection is closed.
const MAX_INVALID_STREAK: u32 = 20;
/// "Typing" notices relayed per connection at most this often.
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
}

struct Joined {
    id: RoomId,
    /// Highest seq this connection has been given; live frames at or below it are dropped.
    floor: i64,
}

pub struct Session {
    chat: Arc<Chat>,
    site: Site,
    ip: IpAddr,
    handle: ConnHandle,
    _slot: IpSlot,
    me: Option<Me>,
    joined: HashMap<String, Joined>,
    rooms_by_id: HashMap<RoomId, String>,
    limiter: DefaultDirectRateLimiter,
    last_typing: Option<Instant>,
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
        let session = Session {
            chat,
            site: admission.site,
            ip: admission.ip,
            handle,
            _slot: admission.slot,
            me: None,
            joined: HashMap::new(),
            rooms_by_id: HashMap::new(),
            limiter,
            last_typing: None,
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

    /// Whether a frame from the room queue should reach this client.
    pub fn accepts(&mut self, room: RoomId, seq: Option<i64>) -> bool {
        let Some(name) = self.rooms_by_id.get(&room) else {
            return false;
        };
        let Some(joined) = self.joined.get_mut(name) else {
            return false;
        };
        match seq {
            Some(seq) if seq <= joined.floor => false,
            Some(seq) => {
                joined.floor = seq;
                true
            }
            None => true,
        }
    }

    pub fn on_binary(&mut self) -> Flow {
        self.invalid(
            Refusal::new(
                ErrorCode::UnsupportedFrame,
                "Binary frames are not supported; send JSON text frames.",
            ),
            None,
        )
    }

    pub async fn on_text(&mut self, text: &str) -> Flow {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(err) => {
                let refusal = match err.classify() {
                    serde_json::error::Category::Data => {
                        Refusal::new(ErrorCode::BadFrame, format!("Invalid frame: {err}"))
                    }
                    _ => Refusal::new(
                        ErrorCode::BadJson,
                        format!("Frames must be JSON objects: {err}"),
                    ),
                };
                return self.invalid(refusal, None);
            }
        };
        let kind = frame.kind();
        let (reference, room) = match &frame {
            ClientFrame::Send { cid, room, .. } => (cid.clone(), Some(room.clone())),
            ClientFrame::Join { room, .. }
            | ClientFrame::Leave { room }
            | ClientFrame::Typing { room, .. }
            | ClientFrame::History { room, .. } => (kind.to_owned(), Some(room.clone())),
            _ => (kind.to_owned(), None),
        };
        let result = match frame {
            ClientFrame::Ping { t } => {
                self.reply(ServerFrame::Pong { t });
                Ok(Flow::Continue)
            }
            ClientFrame::Hello {
                v,
                nick,
                guest_token,
            } => self.hello(v, nick, guest_token).await,
            _ if self.me.is_none() => Err(Refusal::new(
                ErrorCode::NotReady,
                "Send a hello frame first.",
            )),
            ClientFrame::Join { room, since } => {
                self.join(&room, since).await.map(|_| Flow::Continue)
            }
            ClientFrame::Leave { room } => self.leave(&room).map(|_| Flow::Continue),
            ClientFrame::Send { room, cid, text } => {
                self.send(&room, &cid, &text).map(|_| Flow::Continue)
            }
            ClientFrame::Typing { room, active } => {
                self.typing(&room, active).map(|_| Flow::Continue)
            }
            ClientFrame::History {
                room,
                before,
                limit,
            } => self
                .history(&room, before, limit)
                .await
                .map(|_| Flow::Continue),
        };
        match result {
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

    /// Leaves every room; call once the socket is gone.
    pub fn close(self) {
        self.chat.metrics.connections.dec();
        let rooms: Vec<_> = self
            .joined
            .iter()
            .map(|(name, j)| (j.id, name.clone()))
            .collect();
        self.chat.hub.disconnect(self.handle.id, rooms);
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
        self.reply(ServerFrame::Error {
            code: refusal.code,
            message: refusal.message,
            reference,
            room,
            retry_after_ms: refusal.retry_after_ms,
        });
    }

    /// Answers a malformed frame; too many in a row close the connection.
    fn invalid(&mut self, refusal: Refusal, reference: Option<String>) -> Flow {
        self.error_frame(refusal, reference, None);
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

    async fn hello(
        &mut self,
        v: u32,
        nick: Option<String>,
        guest_token: Option<String>,
    ) -> Result<Flow, Refusal> {
        if self.me.is_some() {
            return Err(Refusal::new(
                ErrorCode::AlreadyReady,
                "This connection already said hello.",
            ));
        }
        if v != PROTOCOL_VERSION {
            return Err(Refusal::new(
                ErrorCode::UnsupportedVersion,
                format!(
                    "Protocol version {v} is not supported; this server speaks {PROTOCOL_VERSION}."
                ),
            ));
        }
        let nick = nick
            .map(|n| Nickname::parse(&n))
            .transpose()
            .map_err(|e| Refusal::new(ErrorCode::InvalidNick, e.to_string()))?;
        let returning = match guest_token {
            Some(token) => Some(
                self.chat
                    .guest_tokens
                    .verify(&token, self.site.id)
                    .map_err(|e| {
                        let message = match e {
                            TokenError::Invalid => {
                                "The guest token is invalid or expired. Choose a nickname again."
                            }
                            TokenError::WrongSite => {
                                "The guest token belongs to another site. Choose a nickname again."
                            }
                        };
                        Refusal::new(ErrorCode::InvalidToken, message)
                    })?,
            ),
            None => None,
        };
        if returning.is_none() && !self.site.guests_allowed {
            return Err(Refusal::new(
                ErrorCode::GuestsNotAllowed,
                "This site does not allow guests.",
            ));
        }
        if returning.is_none() && nick.is_none() {
            return Err(Refusal::new(ErrorCode::InvalidNick, "Choose a nickname."));
        }
        let (site_id, ip, ip_text) = (self.site.id, self.ip, self.ip.to_string());
        let outcome = self
            .chat
            .db
            .run(move |conn| {
                let participant = match returning {
                    Some(id) => match Participant::find(conn, id)? {
                        Some(mut p) if p.site_id == site_id => {
                            let nick = nick
                                .as_ref()
                                .map_or(p.nick.clone(), |n| n.as_str().to_owned());
                            p.touch(conn, &nick, Some(&ip_text))?;
                            p
                        }
                        _ => return Ok(Err(())),
                    },
                    None => {
                        let nick = nick.as_ref().map(Nickname::as_str).unwrap_or_default();
                        Participant::create_guest(conn, site_id, nick, Some(&ip_text))?
                    }
                };
                let ban = Ban::find_active(conn, site_id, Some(participant.id), Some(ip))?;
                Ok(Ok((participant, ban)))
            })
            .await?;
        let Ok((participant, ban)) = outcome else {
            return Err(Refusal::new(
                ErrorCode::InvalidToken,
                "This guest identity no longer exists. Choose a nickname again.",
            ));
        };
        if let Some(ban) = ban {
            return Ok(Flow::Close {
                reason: CloseReason::Banned,
                message: format!("You are banned from this chat: {}", ban.reason),
                until: ban.expires_at,
            });
        }
        let who = Who {
            id: participant.id.0,
            nick: participant.nick.clone(),
            kind: participant.kind.clone(),
        };
        self.chat.hub.identify(self.handle.id, participant.id);
        let limits = &self.chat.limits;
        self.reply(ServerFrame::Ready {
            v: PROTOCOL_VERSION,
            me: who.clone(),
            guest_token: self.chat.guest_tokens.issue(participant.id, self.site.id),
            limits: AnnouncedLimits {
                max_message_chars: self.max_message_chars(),
                max_frame_bytes: limits.max_frame_bytes,
                messages_per_second: limits.messages_per_second,
                burst: limits.message_burst,
            },
            heartbeat_ms: limits.heartbeat_secs * 1000,
        });
        self.me = Some(Me {
            participant: participant.id,
            who,
        });
        Ok(Flow::Continue)
    }

    fn max_message_chars(&self) -> usize {
        (self.site.max_message_chars.max(1) as usize).min(self.chat.limits.max_message_chars)
    }

    fn me(&self) -> Result<&Me, Refusal> {
        self.me
            .as_ref()
            .ok_or_else(|| Refusal::new(ErrorCode::NotReady, "Send a hello frame first."))
    }

    fn joined(&self, room: &str) -> Result<&Joined, Refusal> {
        self.joined
            .get(room)
            .ok_or_else(|| Refusal::new(ErrorCode::NotJoined, format!("Join room {room:?} first.")))
    }

    async fn join(&mut self, room: &str, since: Option<i64>) -> Result<(), Refusal> {
        let name = RoomName::parse(room)
            .map_err(|e| Refusal::new(ErrorCode::InvalidRoom, e.to_string()))?;
        let rejoin = self.joined.contains_key(name.as_str());
        if !rejoin && self.joined.len() >= self.chat.limits.max_joins_per_connection {
            return Err(Refusal::new(
                ErrorCode::TooManyJoins,
                format!(
                    "A connection may be in at most {} rooms.",
                    self.chat.limits.max_joins_per_connection
                ),
            ));
        }
        let site = self.site.clone();
        let room_name = name.as_str().to_owned();
        let room = self
            .chat
            .db
            .run(move |conn| resolve_room(conn, &site, &room_name))
            .await??;
        let who = self.me()?.who.clone();
        let online = self
            .chat
            .hub
            .join(room.id, name.as_str(), &self.handle, &who);
        // Registered before reading: anything committed after the read arrives live.
        let (page, cap) = (
            self.chat.limits.history_page as i64,
            self.chat.limits.resume_cap as i64,
        );
        let room_id = room.id;
        let loaded = self
            .chat
            .db
            .run(move |conn| load_welcome(conn, room_id, since, page, cap))
            .await;
        let welcome = match loaded {
            Ok(welcome) => welcome,
            Err(err) => {
                if !rejoin {
                    self.chat.hub.leave(room.id, name.as_str(), self.handle.id);
                }
                return Err(err.into());
            }
        };
        let floor = welcome
            .messages
            .last()
            .map_or(welcome.seq, |m| m.0.seq.max(welcome.seq));
        self.joined
            .insert(name.as_str().to_owned(), Joined { id: room.id, floor });
        self.rooms_by_id.insert(room.id, name.as_str().to_owned());
        self.reply(ServerFrame::Welcome {
            room: name.into_inner(),
            seq: welcome.seq,
            mode: welcome.mode,
            messages: welcome.messages.into_iter().map(view).collect(),
            more: welcome.more,
            online,
        });
        Ok(())
    }

    fn leave(&mut self, room: &str) -> Result<(), Refusal> {
        let joined = self
            .joined
            .remove(room)
            .ok_or_else(|| Refusal::new(ErrorCode::NotJoined, format!("Not in room {room:?}.")))?;
        self.rooms_by_id.remove(&joined.id);
        self.chat.hub.leave(joined.id, room, self.handle.id);
        self.reply(ServerFrame::Left {
            room: room.to_owned(),
        });
        Ok(())
    }

    fn send(&mut self, room: &str, cid: &str, text: &str) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        let cid =
            ClientId::parse(cid).map_err(|e| Refusal::new(ErrorCode::InvalidCid, e.to_string()))?;
        let text = input::message_text(text, self.max_message_chars()).map_err(|e| match e {
            MessageTextError::Empty => {
                Refusal::new(ErrorCode::EmptyMessage, "The message is empty.")
            }
            MessageTextError::TooLong { .. } => Refusal::new(
                ErrorCode::MessageTooLong,
                format!("{}.", capitalize(&e.to_string())),
            ),
        })?;
        if let Err(wait) = limits::check(&self.limiter, &self.chat.ip_limiter, &self.ip) {
            let ms = wait.as_millis().max(1) as u64;
            return Err(Refusal {
                code: ErrorCode::RateLimited,
                message: format!(
                    "You are sending too fast. Retry in {:.1} s.",
                    ms as f64 / 1000.0
                ),
                retry_after_ms: Some(ms),
            });
        }
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
            sender: self.handle.clone(),
        });
        self.in_flight += 1;
        Ok(())
    }

    fn typing(&mut self, room: &str, active: bool) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        let now = Instant::now();
        // Typing notices are advisory: a repeated "active" within the interval is
        // dropped, not refused. "Stopped" always goes through and re-arms it, so a
        // change of state is never lost.
        if active {
            if self
                .last_typing
                .is_some_and(|t| now.duration_since(t) < TYPING_INTERVAL)
            {
                return Ok(());
            }
            self.last_typing = Some(now);
        } else {
            self.last_typing = None;
        }
        let who = self.me()?.who.clone();
        let frame = ServerFrame::Typing {
            room: room.to_owned(),
            who,
            active,
        }
        .encode();
        self.chat
            .hub
            .publish(room_id, &frame, None, Some(self.handle.id));
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

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}
