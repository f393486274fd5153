//! Signals about people rather than messages: typing indicators and read
//! receipts. Neither is stored; both are throttled per connection.

use super::*;

impl Session {
    pub(super) fn typing(&mut self, room: &str, active: bool) -> Result<(), Refusal> {
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

    pub(super) fn seen(&mut self, room: &str, seq: i64) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        if seq < 1 {
            return Err(Refusal::new(
                ErrorCode::BadFrame,
                "seq must be the number of a message in the room.",
            ));
        }
        if let Err(not_until) = self.seen_limiter.check() {
            let wait = not_until.wait_time_from(limits::now());
            return Err(Refusal {
                code: ErrorCode::RateLimited,
                message: "Read receipts are sent at most twice a second.".into(),
                retry_after_ms: Some(wait.as_millis().max(1) as u64),
            });
        }
        // Nobody has seen what this connection was never given.
        let given = self
            .floors
            .iter()
            .find(|(id, _)| *id == room_id)
            .map_or(0, |(_, floor)| *floor);
        let me = self.me()?.participant.0;
        self.chat
            .hub
            .seen(room_id, room, me, seq.min(given), self.handle.id);
        Ok(())
    }
}
