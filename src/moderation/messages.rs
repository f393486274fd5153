//! Deleting messages (they vanish from open widgets and from history) and the
//! approve-first queue.

use std::collections::HashMap;

use super::{audit, events, Actor, ModerationError, Result};
use crate::chat::cluster::Control;
use crate::chat::protocol::ServerFrame;
use crate::chat::writer::{is_retry, Post};
use crate::chat::Chat;
use crate::db::models::audit::AuditAction;
use crate::db::models::webhook::{Delivery, EventType};
use crate::db::models::SiteId;
use crate::db::models::{
    report::Resolution, HeldMessage, HeldMessageId, Message, MessageId, Participant, ParticipantId,
    Report, Room, RoomId,
};
use crate::db::{now_ms, DbConn};
use crate::webhooks::outbox::{Event, Subscribers};
use serde_json::json;

/// Stores a `message.deleted` webhook delivery per deleted message of
/// `site` (`ids` in the order of `deleted`), in the transaction deleting them.
fn hook(
    conn: &mut DbConn,
    site: SiteId,
    deleted: &[(RoomId, String, i64)],
    ids: &[MessageId],
) -> Result<()> {
    let subscribers = Subscribers::load(conn, Some(&[site]))?;
    if !subscribers.wants(site, EventType::MessageDeleted) {
        return Ok(());
    }
    let now = now_ms();
    let mut rows = Vec::new();
    for ((room, name, seq), id) in deleted.iter().zip(ids) {
        let data = json!({"room": name, "message": {"id": id.0, "seq": seq}});
        let event = Event::in_room(EventType::MessageDeleted, *room, data);
        rows.extend(subscribers.deliveries(Some(site), &event, now));
    }
    Delivery::insert_many(conn, &rows)?;
    Ok(())
}

/// Tells every open widget in the room here to remove these messages (and
/// the room's recent history in memory, `at` being when they were deleted),
/// and the other instances to do the same (recorded by [`record`]).
fn announce(chat: &Chat, deleted: &[(RoomId, String, i64)], at: i64) {
    chat.webhooks.ring();
    let mut per_room: HashMap<RoomId, Vec<i64>> = HashMap::new();
    for (room, _, seq) in deleted {
        per_room.entry(*room).or_default().push(*seq);
    }
    for (room, seqs) in per_room {
        chat.hub.recent_deleted(room, &seqs, Some(at));
    }
    for (room, name, seq) in deleted {
        let frame = ServerFrame::Deleted {
            room: name.clone(),
            seq: *seq,
        }
        .encode();
        chat.hub.publish(*room, &frame, None, None);
    }
    chat.tell_others();
}

/// Records the deletions for every running server, per room, in the
/// transaction making them.
fn record(
    conn: &mut DbConn,
    origin: Option<u64>,
    deleted: &[(RoomId, String, i64)],
    at: i64,
) -> Result<()> {
    let mut per_room: HashMap<RoomId, (String, Vec<i64>)> = HashMap::new();
    for (room, name, seq) in deleted {
        let entry = per_room
            .entry(*room)
            .or_insert_with(|| (name.clone(), Vec::new()));
        entry.1.push(*seq);
    }
    for (room, (name, seqs)) in per_room {
        let at = Some(at);
        events::record(
            conn,
            origin,
            &Control::Deleted {
                room,
                name,
                seqs,
                at,
            },
        )?;
    }
    Ok(())
}

/// Deleted messages as they are recorded and announced: room, room name, seq.
type Deleted = Vec<(RoomId, String, i64)>;

/// Runs `delete` in one transaction with what every deletion stores beside it (the
/// other instances' record, the webhook deliveries), then tells the rooms. `delete` gets
/// the time of the deletion (Unix ms), marks the messages, closes their reports and writes
/// its audit entry; it answers the site, what it deleted and the messages' ids in that order.
async fn deleting<F>(chat: &Chat, delete: F) -> Result<Deleted>
where
    F: FnOnce(&mut DbConn, i64) -> Result<(SiteId, Deleted, Vec<MessageId>)> + Send + 'static,
{
    let origin = Some(chat.instance);
    let at = now_ms();
    let deleted = chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let (site, deleted, ids) = delete(conn, at)?;
                record(conn, origin, &deleted, at)?;
                hook(conn, site, &deleted, &ids)?;
                Ok(deleted)
            })
        })
        .await?;
    announce(chat, &deleted, at);
    Ok(deleted)
}

/// Deletes one message; open reports on it are closed as handled.
pub async fn delete_message(chat: &Chat, actor: Actor, id: MessageId) -> Result<()> {
    deleting(chat, move |conn, at| {
        let message = Message::find(conn, id)?.ok_or(ModerationError::NotFound)?;
        if !Message::mark_deleted(conn, id, at)? {
            return Err(ModerationError::NotFound);
        }
        Report::resolve_for_message(conn, id, actor.admin(), Resolution::Deleted)?;
        let room = Room::find(conn, message.room_id)?;
        let excerpt: String = message.body.chars().take(80).collect();
        audit(
            conn,
            actor,
            Some(message.site_id),
            AuditAction::MessageDelete,
            ("message", id.to_string()),
            format!(
                "in {} by participant {}: {excerpt}",
                room.name, message.participant_id
            ),
        )?;
        let deleted = vec![(room.id, room.name, message.seq)];
        Ok((message.site_id, deleted, vec![id]))
    })
    .await?;
    Ok(())
}

/// Deletes every message of a participant; returns how many.
pub async fn delete_all_by(chat: &Chat, actor: Actor, participant: ParticipantId) -> Result<usize> {
    let deleted = deleting(chat, move |conn, at| {
        let who = Participant::find(conn, participant)?.ok_or(ModerationError::NotFound)?;
        let gone = Message::mark_deleted_by_participant(conn, participant, at)?;
        Report::resolve_for_author(conn, participant, actor.admin(), Resolution::Deleted)?;
        let mut names: HashMap<RoomId, String> = HashMap::new();
        let mut deleted = Vec::with_capacity(gone.len());
        let mut ids = Vec::with_capacity(gone.len());
        for (room, seq, id) in gone {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(room) {
                slot.insert(Room::find(conn, room)?.name);
            }
            deleted.push((room, names[&room].clone(), seq));
            ids.push(id);
        }
        audit(
            conn,
            actor,
            Some(who.site_id),
            AuditAction::ParticipantDeleteMessages,
            ("participant", participant.to_string()),
            format!("{} messages of {}", deleted.len(), who.nick),
        )?;
        Ok((who.site_id, deleted, ids))
    })
    .await?;
    Ok(deleted.len())
}

/// Posts a held message: it gets its seq and reaches the room like any other.
/// One whose cid its author has since used for another message (possible
/// only by racing the writer's check) is not approved: it stays in the queue
/// and the moderator is told why ([`ModerationError::Invalid`]), to reject it.
pub async fn approve(chat: &Chat, actor: Actor, id: HeldMessageId) -> Result<()> {
    let (held, room, author) = chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let held = HeldMessage::find(conn, id)?.ok_or(ModerationError::NotFound)?;
                if let Some(used) = Message::find_by_cid(conn, held.participant_id, &held.cid)? {
                    if !is_retry(held.room_id, &held.body, used.room_id, &used.body) {
                        let elsewhere = Room::find(conn, used.room_id)?.name;
                        return Err(ModerationError::Invalid(format!(
                            "Not approved: its author has since used its cid for another \
                             message (seq {} in room {elsewhere:?}), so posting it would be \
                             taken for that one. Reject it to clear it from the queue.",
                            used.seq
                        )));
                    }
                }
                if !HeldMessage::take(conn, id)? {
                    return Err(ModerationError::NotFound);
                }
                let room = Room::find(conn, held.room_id)?;
                let author = Participant::find(conn, held.participant_id)?
                    .ok_or(ModerationError::NotFound)?;
                let excerpt: String = held.body.chars().take(80).collect();
                audit(
                    conn,
                    actor,
                    Some(held.site_id),
                    AuditAction::HeldApprove,
                    ("held_message", id.to_string()),
                    excerpt,
                )?;
                Ok((held, room, author))
            })
        })
        .await?;
    chat.writer.post(Post {
        site: held.site_id,
        room: room.id,
        room_name: room.name,
        author: crate::chat::who(&author),
        participant: author.id,
        cid: held.cid,
        text: held.body,
        ip: held.ip,
        slow_mode: None,
        reply: crate::chat::writer::Reply::Nobody,
    });
    Ok(())
}

/// Rejects a held message: nobody ever sees it, and it stays out of the
/// queue for good (a retry of its cid is refused, not queued again).
pub async fn reject(chat: &Chat, actor: Actor, id: HeldMessageId) -> Result<()> {
    chat.db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let held = HeldMessage::find(conn, id)?.ok_or(ModerationError::NotFound)?;
                if !HeldMessage::reject(conn, id)? {
                    return Err(ModerationError::NotFound);
                }
                let excerpt: String = held.body.chars().take(80).collect();
                audit(
                    conn,
                    actor,
                    Some(held.site_id),
                    AuditAction::HeldReject,
                    ("held_message", id.to_string()),
                    excerpt,
                )?;
                Ok(())
            })
        })
        .await
}

/// Closes a report without action.
pub async fn dismiss_report(
    chat: &Chat,
    actor: Actor,
    id: crate::db::models::ReportId,
) -> Result<()> {
    chat.db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let (report, message, _) =
                    Report::find(conn, id)?.ok_or(ModerationError::NotFound)?;
                if report.resolved_at.is_some() {
                    return Err(ModerationError::NotFound);
                }
                Report::resolve_for_message(
                    conn,
                    message.id,
                    actor.admin(),
                    Resolution::Dismissed,
                )?;
                audit(
                    conn,
                    actor,
                    Some(report.site_id),
                    AuditAction::ReportDismiss,
                    ("report", id.to_string()),
                    format!("message {}", message.id),
                )?;
                Ok(())
            })
        })
        .await
}
