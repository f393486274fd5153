//! Mutes: the participant keeps reading but cannot post until the mute ends.

use super::{audit, events, Actor, ModerationError, Result};
use crate::chat::cluster::Control;
use crate::chat::Chat;
use crate::db::models::audit::AuditAction;
use crate::db::models::{Mute, Participant, ParticipantId};
use crate::db::now_ms;

/// Longest mute: a week. Longer belongs to a ban.
const MAX_MINUTES: i64 = 7 * 24 * 60;

pub async fn mute(
    chat: &Chat,
    actor: Actor,
    participant: ParticipantId,
    minutes: i64,
    reason: &str,
) -> Result<Mute> {
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ModerationError::Invalid(format!(
            "A mute lasts 1 to {MAX_MINUTES} minutes; use a ban for longer."
        )));
    }
    let reason: String = reason.trim().chars().take(500).collect();
    let origin = Some(chat.instance);
    let mute = chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let who = Participant::find(conn, participant)?.ok_or(ModerationError::NotFound)?;
                super::bans::refuse_system(&who, "muted")?;
                let until = now_ms() + minutes * 60_000;
                let mute = Mute::create(
                    conn,
                    who.site_id,
                    participant,
                    &reason,
                    actor.admin(),
                    until,
                )?;
                audit(
                    conn,
                    actor,
                    Some(who.site_id),
                    AuditAction::ParticipantMute,
                    ("participant", participant.to_string()),
                    format!("{} for {minutes} min: {reason}", who.nick),
                )?;
                let site = who.site_id;
                events::record(conn, origin, &Control::MutesChanged { site })?;
                Ok(mute)
            })
        })
        .await?;
    chat.rules.invalidate_mutes(mute.site_id);
    chat.tell_others();
    Ok(mute)
}

pub async fn unmute(chat: &Chat, actor: Actor, participant: ParticipantId) -> Result<usize> {
    let origin = Some(chat.instance);
    let (lifted, site) = chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let who = Participant::find(conn, participant)?.ok_or(ModerationError::NotFound)?;
                let n = Mute::revoke_all(conn, participant)?;
                let site = who.site_id;
                events::record(conn, origin, &Control::MutesChanged { site })?;
                audit(
                    conn,
                    actor,
                    Some(who.site_id),
                    AuditAction::ParticipantUnmute,
                    ("participant", participant.to_string()),
                    who.nick,
                )?;
                Ok((n, who.site_id))
            })
        })
        .await?;
    chat.rules.invalidate_mutes(site);
    chat.tell_others();
    Ok(lifted)
}
