//! The send path's checks beyond size and cid: room settings, mutes, rate
//! limits, the word filter and slow mode, in the order a sender should hear
//! about them; approve-first holding; and visitor reports. Kept apart from the
//! session's core so moderation rules can grow without touching the protocol flow.

use super::*;
use crate::chat::refusal as moderation_refusal;
use crate::chat::word_filter::Verdict;
use crate::chat::writer::{is_retry, CidReused, REJECTED};
use crate::db::models::{HeldMessage, Report, Room};
use crate::db::DbError;
use crate::webhooks::outbox::{enqueue, report_created};

impl Session {
    /// The site's longest message, capped by the server's `--max-message-chars`.
    pub(super) fn max_message_chars(&self) -> usize {
        crate::chat::rules::max_message_chars(self.chat.limits.max_message_chars, &self.site, None)
    }

    /// The text to post, after every check; in an approve-first room the
    /// message is held for a moderator and refused with `held_for_review`.
    /// A retry of a message stored (or held) before is answered from what is
    /// stored, although the rules may have changed since: a rule that would
    /// refuse it, or a filter that would now mask it, does not apply to it
    /// (it stores nothing). Being in the room, a valid cid, a text, and not
    /// being banned still do. Looked up only when a rule objects, so a
    /// plain send costs no query here.
    pub(super) async fn checked_text(
        &mut self,
        room_id: RoomId,
        cid: &ClientId,
        text: &str,
    ) -> Result<String, Refusal> {
        let participant = self.me()?.participant;
        self.refresh_site().await?;
        // The text as it would be stored, whatever the limits and filters.
        let sent = input::message_text(text, usize::MAX)
            .map_err(|_| Refusal::new(ErrorCode::EmptyMessage, "The message is empty."))?;
        match self.ruled_text(room_id, participant, cid, text).await {
            Ok(ruled) if ruled == sent => Ok(ruled),
            // Masked by a filter: perhaps a retry of a message stored before it.
            Ok(ruled) => Ok(
                match self.retry_of(room_id, participant, cid, &sent).await? {
                    Some(Retry::Stored(body) | Retry::Held(body)) => body,
                    Some(Retry::Rejected) => return Err(rejected()),
                    None => ruled,
                },
            ),
            Err(refusal) if spares_retries(refusal.code) => {
                match self.retry_of(room_id, participant, cid, &sent).await? {
                    // The writer answers with the original's ack.
                    Some(Retry::Stored(body)) => Ok(body),
                    Some(Retry::Held(_)) => Err(held_for_review()),
                    Some(Retry::Rejected) => Err(rejected()),
                    None => Err(refusal),
                }
            }
            Err(refusal) => Err(refusal),
        }
    }

    /// The message this cid names, if `sent` into `room_id` is a retry of it:
    /// the same room, and the text as sent or as today's filter makes it.
    async fn retry_of(
        &mut self,
        room_id: RoomId,
        participant: ParticipantId,
        cid: &ClientId,
        sent: &str,
    ) -> Result<Option<Retry>, Refusal> {
        let mut texts = vec![sent.to_owned()];
        if let Verdict::Pass(masked) = self.chat.rules.filters(self.site.id).await?.apply(sent) {
            texts.push(masked);
        }
        let cid = cid.as_str().to_owned();
        let found = self
            .chat
            .db
            .run(move |conn| -> Result<_, DbError> {
                let is_it =
                    |room, body: &str| texts.iter().any(|t| is_retry(room_id, t, room, body));
                if let Some(m) = Message::find_by_cid(conn, participant, &cid)? {
                    return Ok(is_it(m.room_id, &m.body).then_some(Retry::Stored(m.body)));
                }
                Ok(HeldMessage::find_by_cid(conn, participant, &cid)?
                    .filter(|h| is_it(h.room_id, &h.body))
                    .map(|h| match h.rejected_at {
                        Some(_) => Retry::Rejected,
                        None => Retry::Held(h.body),
                    }))
            })
            .await?;
        Ok(found)
    }

    /// The text after every rule of today (see [`Session::checked_text`]).
    async fn ruled_text(
        &mut self,
        room_id: RoomId,
        participant: ParticipantId,
        cid: &ClientId,
        text: &str,
    ) -> Result<String, Refusal> {
        let rules = self.chat.rules.room(room_id).await?;
        let max_chars = rules
            .max_message_chars
            .map_or(self.max_message_chars(), |n| {
                n.min(self.max_message_chars())
            });
        let text = input::message_text(text, max_chars).map_err(|e| match e {
            MessageTextError::Empty => {
                Refusal::new(ErrorCode::EmptyMessage, "The message is empty.")
            }
            MessageTextError::TooLong { .. } => {
                Refusal::new(ErrorCode::MessageTooLong, capitalized(&e.to_string()))
            }
        })?;
        if let Some(mute) = self.chat.rules.mute(self.site.id, participant).await? {
            return Err(moderation_refusal::muted(&mute));
        }
        if rules.locked {
            return Err(Refusal::new(
                ErrorCode::RoomLocked,
                "This room is read-only for now.",
            ));
        }
        // Per connection, per address, and per participant (one identity
        // may speak through many connections and addresses).
        let allowed = limits::check(&self.limiter, &self.chat.ip_limiter, &self.ip)
            .and_then(|()| self.chat.quotas.message(participant));
        if let Err(wait) = allowed {
            let ms = wait.as_millis().max(1) as u64;
            return Err(Refusal {
                code: ErrorCode::RateLimited,
                message: format!(
                    "You are sending too fast. Retry in {:.1} s.",
                    ms as f64 / 1000.0
                ),
                retry_after_ms: Some(ms),
                suggestion: None,
                reason: None,
            });
        }
        let text = match self.chat.rules.filters(self.site.id).await?.apply(&text) {
            Verdict::Pass(text) => text,
            Verdict::Blocked => {
                return Err(Refusal::new(
                    ErrorCode::MessageBlocked,
                    "This message contains words that are not allowed here.",
                ))
            }
        };
        if let Err(wait) = self
            .chat
            .rules
            .slow_mode(room_id, participant, rules.slow_mode_secs)
        {
            return Err(moderation_refusal::slow_mode(rules.slow_mode_secs, wait));
        }
        if rules.approve_first {
            return self.hold(room_id, participant, cid, text).await;
        }
        Ok(text)
    }

    /// Holds a message of an approve-first room for the moderators
    /// (`held_for_review`, again for a retry). A cid its author used for
    /// another message is refused (`cid_reused`); one stored as a message
    /// already (approved since) goes on to the writer, which answers with the
    /// original's ack or `cid_reused`.
    async fn hold(
        &mut self,
        room_id: RoomId,
        participant: ParticipantId,
        cid: &ClientId,
        text: String,
    ) -> Result<String, Refusal> {
        let (site, cid, ip) = (self.site.id, cid.as_str().to_owned(), self.ip.to_string());
        let body = text.clone();
        let holding = self
            .chat
            .db
            .run(move |conn| -> Result<_, DbError> {
                if Message::find_by_cid(conn, participant, &cid)?.is_some() {
                    return Ok(Holding::Posted);
                }
                let earlier =
                    HeldMessage::hold(conn, site, room_id, participant, &cid, &body, Some(&ip))?;
                Ok(match earlier {
                    Some(e)
                        if e.rejected_at.is_some()
                            && is_retry(room_id, &body, e.room_id, &e.body) =>
                    {
                        Holding::Rejected
                    }
                    Some(e) if !is_retry(room_id, &body, e.room_id, &e.body) => {
                        let room = Room::find(conn, e.room_id)?.name;
                        Holding::Reused(CidReused {
                            room: Some(room),
                            seq: None,
                        })
                    }
                    _ => Holding::Waits,
                })
            })
            .await?;
        match holding {
            Holding::Posted => Ok(text),
            Holding::Waits => Err(held_for_review()),
            Holding::Rejected => Err(rejected()),
            Holding::Reused(reused) => Err(Refusal::new(ErrorCode::CidReused, reused.to_string())),
        }
    }

    /// A visitor flags a message for the moderators.
    pub(super) async fn report(
        &mut self,
        room: &str,
        seq: i64,
        reason: Option<&str>,
    ) -> Result<(), Refusal> {
        let room_id = self.joined(room)?.id;
        let reporter = self.me()?.participant;
        let reason: String = reason
            .unwrap_or_default()
            .trim()
            .chars()
            .take(500)
            .collect();
        // Reports reach the moderators (and their mailboxes): per connection
        // and per participant, on top of the signal budget.
        limits::take_direct(&self.report_limiter)
            .and_then(|()| self.chat.quotas.report(reporter))
            .and_then(|()| self.spend_signal())
            .map_err(|wait| {
                too_fast(
                    "You have reported several messages in a short time; wait a moment",
                    wait,
                )
            })?;
        let site = self.site.id;
        let filed = self
            .chat
            .db
            .run(move |conn| -> Result<_, Refusal> {
                let message = Message::find_by_seq(conn, room_id, seq)?.ok_or_else(|| {
                    Refusal::new(
                        ErrorCode::MessageNotFound,
                        format!(
                            "There is no message {seq} in this room (it may have been removed)."
                        ),
                    )
                })?;
                conn.write_transaction(|conn| {
                    let filed = Report::file(conn, site, message.id, reporter, &reason)?;
                    if let Some((report, _)) = filed {
                        let event = report_created(conn, (report, reporter), &message, &reason)?;
                        enqueue(conn, Some(site), &event)?;
                    }
                    Ok(filed)
                })
            })
            .await?;
        if let Some((report, first_open)) = filed {
            self.chat.webhooks.ring();
            if first_open {
                self.chat.report_alerts.reported(site, report);
            }
        }
        self.reply(ServerFrame::Reported {
            room: room.to_owned(),
            seq,
        });
        Ok(())
    }
}

/// Refusals of rules that may have changed since a message was stored (or
/// held): none of them refuses a retry of it.
fn spares_retries(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::MessageTooLong
            | ErrorCode::Muted
            | ErrorCode::RoomLocked
            | ErrorCode::RateLimited
            | ErrorCode::MessageBlocked
            | ErrorCode::SlowMode
    )
}

/// A retry of a message a moderator rejected: refused, never queued again.
fn rejected() -> Refusal {
    Refusal::new(ErrorCode::MessageBlocked, REJECTED)
}

fn held_for_review() -> Refusal {
    Refusal::new(
        ErrorCode::HeldForReview,
        "Your message was sent to the moderators and will appear once approved.",
    )
}

/// A retry's original, as stored.
enum Retry {
    Stored(String),
    Held(String),
    /// Held, then rejected by a moderator.
    Rejected,
}

/// What becomes of a message for an approve-first room.
enum Holding {
    /// Held for the moderators (now, or by an earlier send of it).
    Waits,
    /// An earlier send of it was rejected by a moderator.
    Rejected,
    /// Its cid is a stored message's: the writer judges it.
    Posted,
    Reused(CidReused),
}
