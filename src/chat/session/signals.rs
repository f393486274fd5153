//! Signals: frames that make the server tell other people something without
//! storing a message — presence (joining a room), typing indicators, read
//! receipts and reports. Each one spends from three budgets, checked in
//! order: the connection's, the participant's (all their connections) and the
//! address's. A muted participant's typing and read receipts go nowhere.

use super::*;
use crate::chat::hub::CROWD;

impl Session {
    /// Takes one signal from each budget, or says how long to wait.
    pub(super) fn spend_signal(&self) -> Result<(), Duration> {
        let participant = self.me.as_ref().map(|me| me.participant);
        limits::take_direct(&self.signal_limiter)?;
        match participant {
            Some(participant) => self.chat.quotas.signal(participant, self.ip),
            None => Ok(()),
        }
    }

    async fn muted(&self) -> Result<bool, Refusal> {
        let participant = self.me()?.participant;
        Ok(self
            .chat
            .rules
            .mute(self.site.id, participant)
            .await?
            .is_some())
    }

    /// Typing notices are advisory: what would not change what others see
    /// (a repeated "active" within [`TYPING_INTERVAL`], a "stopped" when not
    /// typing) is dropped, and so is whatever is over budget or from a muted
    /// participant — silently, as nothing is lost.
    pub(super) async fn typing(&mut self, room: &str, active: bool) -> Result<(), Refusal> {
        let joined = self.joined(room)?;
        let (room_id, since) = (joined.id, joined.typing_since);
        let now = Instant::now();
        let changes = match (active, since) {
            (true, Some(at)) => now.duration_since(at) >= TYPING_INTERVAL,
            (true, None) | (false, Some(_)) => true,
            (false, None) => false,
        };
        if !changes || self.muted().await? || self.spend_signal().is_err() {
            return Ok(());
        }
        if let Some(joined) = self.joined.get_mut(room) {
            joined.typing_since = active.then_some(now);
        }
        let who = self.me()?.who.clone();
        let frame = ServerFrame::Typing {
            room: room.to_owned(),
            who,
            active,
        }
        .encode();
        self.chat.hub.signal(room_id, &frame, self.handle.id);
        Ok(())
    }

    pub(super) async fn seen(&mut self, room: &str, seq: i64) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        if seq < 1 {
            return Err(Refusal::new(
                ErrorCode::BadFrame,
                "seq must be the number of a message in the room.",
            ));
        }
        if let Err(wait) = limits::take_direct(&self.seen_limiter) {
            return Err(too_fast(
                "Read receipts are sent at most twice a second",
                wait,
            ));
        }
        if self.muted().await? {
            return Ok(());
        }
        self.spend_signal()
            .map_err(|wait| too_fast("You are sending read receipts too fast", wait))?;
        // Nobody has seen what this connection was never given.
        let given = self.handle.floor(room_id);
        let me = self.me()?.participant.0;
        self.chat
            .hub
            .seen(room_id, room, me, seq.min(given), self.handle.id);
        Ok(())
    }

    /// A page of who is present (`who`): a signal, as it makes the server
    /// walk the room, and spends the same budgets.
    pub(super) fn who(
        &mut self,
        room: &str,
        after: Option<i64>,
        limit: Option<u32>,
    ) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        let limit = limit.unwrap_or(CROWD as u32);
        if !(1..=100).contains(&limit) {
            return Err(Refusal::new(
                ErrorCode::BadFrame,
                "who limit must be between 1 and 100",
            ));
        }
        self.spend_signal()
            .map_err(|wait| too_fast("You are asking who is online too fast", wait))?;
        let (online, next, online_total) = self.chat.hub.who_page(room_id, after, limit as usize);
        self.reply(ServerFrame::WhoPage {
            room: room.to_owned(),
            online,
            next,
            online_total,
        });
        Ok(())
    }
}
