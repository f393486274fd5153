//! The room a `join` names: found, or opened when the site lets visitors
//! open rooms. Opening is bounded per participant and per address, so one
//! visitor cannot fill the site with rooms; rooms nobody is in and nobody
//! wrote in do not count toward the site's room quota (see [`open_room`]),
//! and entering a room not in use yet is bounded by it (`Holds::hold`; a
//! room opened is held in the transaction that creates it).

use super::*;
use crate::chat::rooms::open_room;
use crate::db::models::{Room, RoomPolicy};

impl Session {
    /// The room, held for this server (see `chat::holds`) when a prune
    /// could otherwise take it while the joiner is in it.
    pub(super) async fn find_or_open_room(
        &mut self,
        name: &RoomName,
    ) -> Result<Arc<Room>, Refusal> {
        let room = self.find_or_open(name).await?;
        if self.chat.holds.wanted(&room) {
            let (chat, held) = (self.chat.clone(), Arc::clone(&room));
            chat.db
                .clone()
                .run(move |conn| chat.holds.hold(conn, &held))
                .await?;
        }
        Ok(room)
    }

    async fn find_or_open(&mut self, name: &RoomName) -> Result<Arc<Room>, Refusal> {
        self.refresh_site().await?;
        let found = (self.chat.rules)
            .room_named(&self.chat.hub, self.site.id, name.as_str())
            .await?;
        if let Some(room) = found {
            return Ok(room);
        }
        if self.site.room_policy == RoomPolicy::Precreated {
            return Err(Refusal::new(
                ErrorCode::RoomNotFound,
                format!("Room {:?} does not exist on this site.", name.as_str()),
            ));
        }
        let participant = self.me()?.participant;
        self.chat
            .quotas
            .new_room(participant, self.ip)
            .map_err(|wait| too_fast("You are opening new rooms too fast", wait))?;
        let (site, name) = (self.site.id, name.as_str().to_owned());
        let chat = self.chat.clone();
        let room = self
            .chat
            .db
            .run(move |conn| open_room(conn, &chat.holds, site, &name))
            .await?;
        // A new room may have a `room.created` webhook to send.
        self.chat.webhooks.ring();
        Ok(Arc::new(room))
    }
}
