//! Joining and leaving rooms. A `join` registers the connection in the room
//! first, then reads the history its `welcome` carries: whatever is committed
//! after that read reaches it live, and the connection's queue drops what the
//! welcome already had (its floor for the room, [`ConnHandle::set_floor`]). The history comes from the room's recent messages in
//! memory when they cover it (`hub::recent`), from the database otherwise;
//! both give the same page.

use super::*;
use crate::chat::hub::Lookup;
use crate::chat::recent::WelcomePage;
use crate::chat::rooms::{load_recent, load_welcome};
use crate::chat::rules::RoomRules;
use crate::db::DbError;

impl Session {
    pub(super) async fn join(&mut self, room: &str, since: Option<i64>) -> Result<(), Refusal> {
        let name = RoomName::parse(room)
            .map_err(|e| Refusal::new(ErrorCode::InvalidRoom, e.to_string()))?;
        if self
            .me
            .as_ref()
            .and_then(|me| me.rooms.as_ref())
            .is_some_and(|rooms| !rooms.contains(&name))
        {
            return Err(Refusal::new(
                ErrorCode::RoomForbidden,
                format!("Your sign-in does not give access to room {name:?}."),
            ));
        }
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
        // Joining tells the room (presence): it spends the signal budget.
        self.spend_signal()
            .map_err(|wait| too_fast("You are joining rooms too fast", wait))?;
        let room = self.find_or_open_room(&name).await?;
        let who = self.me()?.who.clone();
        let (online, online_total) =
            self.chat
                .hub
                .join(room.id, name.as_str(), &self.handle, &who, room.last_seq);
        // Registered before reading: anything committed after the read arrives live.
        let room_id = room.id;
        let welcome = match self.welcome_history(room_id, since).await {
            Ok(welcome) => welcome,
            Err(err) => {
                if !rejoin {
                    self.chat.hub.leave(room.id, name.as_str(), self.handle.id);
                    self.release_empty(&[room.id]);
                }
                return Err(err.into());
            }
        };
        let floor = welcome
            .messages
            .last()
            .map_or(welcome.seq, |m| m.seq.max(welcome.seq));
        self.joined.insert(
            name.as_str().to_owned(),
            Joined {
                id: room.id,
                typing_since: None,
            },
        );
        // The frames queued since `hub.join` that the welcome has are dropped.
        self.handle.set_floor(room.id, floor);
        let rules = RoomRules::from(&*room).view(&self.site, self.chat.limits.max_message_chars);
        self.chat.hub.rules_known(room_id, &rules);
        self.reply(ServerFrame::Welcome {
            room: name.into_inner(),
            seq: welcome.seq,
            mode: welcome.mode,
            messages: welcome.messages,
            more: welcome.more,
            deleted: welcome.deleted,
            online,
            online_total,
            seen: self.chat.hub.seen_in(room_id),
            presence_lines: self.site.presence_lines,
            rules,
        });
        Ok(())
    }

    pub(super) fn leave(&mut self, room: &str) -> Result<(), Refusal> {
        let joined = self
            .joined
            .remove(super::valid_room(room)?)
            .ok_or_else(|| Refusal::new(ErrorCode::NotJoined, format!("Not in room {room:?}.")))?;
        self.handle.forget_room(joined.id);
        self.chat.hub.leave(joined.id, room, self.handle.id);
        self.release_empty(&[joined.id]);
        self.reply(ServerFrame::Left {
            room: room.to_owned(),
        });
        Ok(())
    }

    /// The history of a `welcome`: from memory, or read from the database
    /// (and kept, when others in the room may join or resume too).
    async fn welcome_history(
        &self,
        room: RoomId,
        since: Option<i64>,
    ) -> Result<WelcomePage, DbError> {
        let (page, cap) = (self.chat.limits.history_page, self.chat.limits.resume_cap);
        let hub = self.chat.hub.clone();
        let mut waited = false;
        loop {
            match hub.recent_lookup(room, since, page, cap) {
                Lookup::Hit(answer) => {
                    self.count_history("hit");
                    return Ok(answer);
                }
                // Another join of the room is reading it: once, wait for it.
                Lookup::Wait(mut filled) if !waited => {
                    waited = true;
                    let _ = filled.changed().await;
                }
                Lookup::Fill(ticket) => {
                    self.count_history("miss");
                    let rows = ticket.rows();
                    let loaded = (self.chat.db)
                        .run(move |conn| load_recent(conn, room, rows))
                        .await?;
                    if let Some(answer) = hub.recent_fill(ticket, loaded, since, page, cap) {
                        return Ok(answer);
                    }
                    break;
                }
                Lookup::Wait(_) | Lookup::Database => {
                    self.count_history("miss");
                    break;
                }
            }
        }
        let (page, cap) = (page as i64, cap as i64);
        (self.chat.db)
            .run(move |conn| load_welcome(conn, room, since, page, cap))
            .await
    }

    fn count_history(&self, outcome: &'static str) {
        (self.chat.metrics.history_cache)
            .get_or_create(&crate::metrics::OutcomeLabel { outcome })
            .inc();
    }
}
