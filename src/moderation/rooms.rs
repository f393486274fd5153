//! Rooms: creating them ahead of time, their settings (slow mode, lock,
//! approve-first, length limit — applied from the next message: the send
//! path's cached copy is dropped on change), deleting them, and pruning the
//! ones visitors opened and never wrote in.

use super::{audit, events, Actor, ModerationError, Result};
use crate::chat::cluster::Control;
use crate::chat::protocol::{CloseReason, ServerFrame};
use crate::chat::rules::RoomRules;
use crate::chat::Chat;
use crate::db::models::audit::AuditAction;
use crate::db::models::room::RoomSettings;
use crate::db::models::{Room, RoomId, Site, SiteId};
use crate::db::{now_ms, DbConn};
use crate::input::RoomName;
use crate::webhooks::outbox::{enqueue, room_created};

/// Longest slow-mode interval: one hour.
const MAX_SLOW_MODE_SECS: i32 = 3600;

pub async fn update(chat: &Chat, actor: Actor, room: RoomId, settings: RoomSettings) -> Result<()> {
    if !(0..=MAX_SLOW_MODE_SECS).contains(&settings.slow_mode_secs) {
        return Err(ModerationError::Invalid(format!(
            "Slow mode is 0 (off) to {MAX_SLOW_MODE_SECS} seconds."
        )));
    }
    if matches!(settings.max_message_chars, Some(n) if n < 1) {
        return Err(ModerationError::Invalid(
            "The length limit must be at least 1 character.".into(),
        ));
    }
    let origin = Some(chat.instance);
    let server_max = i32::try_from(chat.limits.max_message_chars).unwrap_or(i32::MAX);
    chat.db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let found = Room::find(conn, room)?;
                // A room may only be stricter than its site (the smallest
                // limit wins); a higher one would be saved and silently
                // ignored. Checked on change only: a site may lower its
                // limit below a room's later.
                if let Some(n) = settings.max_message_chars {
                    let site_max = Site::find(conn, found.site_id)?
                        .max_message_chars
                        .min(server_max);
                    if found.max_message_chars != Some(n) && n > site_max {
                        return Err(ModerationError::Invalid(format!(
                            "The room's length limit can be at most the site's, {site_max} characters."
                        )));
                    }
                }
                Room::update_settings(conn, room, &settings)?;
                events::record(conn, origin, &Control::RoomChanged { room })?;
                audit(
                    conn,
                    actor,
                    Some(found.site_id),
                    AuditAction::RoomUpdate,
                    ("room", room.to_string()),
                    format!(
                        "{}: slow mode {} s, locked {}, approve first {}, max chars {}",
                        found.name,
                        settings.slow_mode_secs,
                        settings.locked,
                        settings.approve_first,
                        settings
                            .max_message_chars
                            .map_or("site default".into(), |n| n.to_string())
                    ),
                )?;
                Ok(())
            })
        })
        .await?;
    chat.rules.invalidate_room(room);
    chat.tell_others();
    announce_rules(chat, vec![room]).await;
    Ok(())
}

/// Tells the connections here in `rooms` their rules as now stored (after a
/// change made here or on another instance): clients show a room read-only,
/// in slow mode or with a shorter limit before a `send` is refused for it.
pub async fn announce_rules(chat: &Chat, rooms: Vec<RoomId>) {
    if rooms.is_empty() {
        return;
    }
    let rooms = match chat.db.run(move |conn| Room::find_many(conn, &rooms)).await {
        Ok(rooms) => rooms,
        Err(err) => {
            // The next join reads them; sends are checked against the stored rules anyway.
            tracing::warn!(error = %err, "could not read rooms to announce their rules");
            return;
        }
    };
    for room in rooms {
        let site = match chat.rules.site(room.site_id).await {
            Ok(site) => site,
            Err(err) => {
                tracing::warn!(error = %err, "could not read a site to announce its rooms' rules");
                continue;
            }
        };
        let rules = RoomRules::from(&room).view(&site, chat.limits.max_message_chars);
        if !chat.hub.rules_changed(room.id, &rules) {
            continue;
        }
        let frame = ServerFrame::RoomRules {
            room: room.name,
            rules,
        }
        .encode();
        chat.hub.publish(room.id, &frame, None, None);
    }
}

/// [`announce_rules`] for the rooms of `site` someone is in, after a change
/// of the site's length limit.
pub async fn announce_site_rules(chat: &Chat, site: SiteId) {
    announce_rules(chat, chat.hub.live_rooms_of(site)).await;
}

/// Whether creating a room is bound by the site's quota of rooms in use:
/// it is for the server API (a site's backend), not for the panel and the
/// command line (the server's admins, who set the quota).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    Applies,
    Exempt,
}

/// Creates a room ahead of time (needed on sites whose rooms are pre-created).
pub async fn create(
    chat: &Chat,
    actor: Actor,
    site: SiteId,
    name: &str,
    quota: Quota,
) -> Result<Room> {
    let name = name.to_owned();
    let room = chat
        .db
        .run(move |conn| create_in(conn, actor, site, &name, quota))
        .await?;
    chat.webhooks.ring();
    Ok(room)
}

/// Creates a room (the database part, shared with the command line).
pub fn create_in(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    name: &str,
    quota: Quota,
) -> Result<Room> {
    let name = RoomName::parse(name.trim()).map_err(|e| ModerationError::Invalid(e.to_string()))?;
    conn.write_transaction(|conn| -> Result<_> {
        Site::find(conn, site)?;
        let exists = || ModerationError::RoomExists(name.as_str().to_owned());
        if Room::find_by_name(conn, site, name.as_str())?.is_some() {
            return Err(exists());
        }
        // Made by someone else since the look above (a concurrent request).
        let (room, new) = Room::create_new(conn, site, name.as_str())?;
        if !new {
            return Err(exists());
        }
        if quota == Quota::Applies && Room::quota_full(conn, site, room.id)? {
            return Err(ModerationError::TooManyRooms);
        }
        enqueue(conn, Some(site), &room_created(&room, "admin"))?;
        audit(
            conn,
            actor,
            Some(site),
            AuditAction::RoomCreate,
            ("room", room.id.to_string()),
            room.name.clone(),
        )?;
        Ok(room)
    })
}

/// Deletes a room with its messages, reports and held messages (the database
/// part, shared with the command line), and records that every running
/// server must close the connections in it. `origin`: the server deleting it
/// (`None`: the command line). Returns the room as it was.
pub fn delete_in(
    conn: &mut DbConn,
    actor: Actor,
    origin: Option<u64>,
    room: RoomId,
) -> Result<Room> {
    conn.write_transaction(|conn| -> Result<_> {
        let found = Room::find(conn, room)?;
        Room::delete(conn, room)?;
        events::record(conn, origin, &Control::RoomDeleted { room })?;
        audit(
            conn,
            actor,
            Some(found.site_id),
            AuditAction::RoomDelete,
            ("room", room.to_string()),
            format!("{} ({} messages)", found.name, found.last_seq),
        )?;
        Ok(found)
    })
}

/// Deletes a room; people in it on this server are disconnected with a
/// notice (their widgets reconnect), and the send path forgets its settings.
pub async fn delete(chat: &Chat, actor: Actor, room: RoomId) -> Result<Room> {
    let origin = Some(chat.instance);
    let deleted = chat
        .db
        .run(move |conn| delete_in(conn, actor, origin, room))
        .await?;
    close_deleted(chat, room);
    chat.tell_others();
    Ok(deleted)
}

/// A deleted room's people here are disconnected with a notice (their
/// widgets reconnect), and the send path forgets its settings.
pub fn close_deleted(chat: &Chat, room: RoomId) {
    chat.rules.invalidate_room(room);
    let inside = chat.hub.connections_in(room);
    chat.hub.close_where(
        |c| inside.contains(&c.handle.id),
        CloseReason::Restarting,
        "This room was removed by the site's owner.",
        None,
    );
}

/// Deletes the rooms of `site` that visitors opened at least `min_age_ms` ago
/// and nobody wrote in, except those in `keep`; one audit line for all.
/// Returns how many went.
pub fn prune_in(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    min_age_ms: i64,
    keep: &[RoomId],
) -> Result<usize> {
    conn.write_transaction(|conn| -> Result<_> {
        let unused = Room::unused(conn, site, now_ms() - min_age_ms)?;
        let doomed: Vec<Room> = unused
            .into_iter()
            .filter(|r| !keep.contains(&r.id))
            .collect();
        for room in &doomed {
            Room::delete(conn, room.id)?;
        }
        if !doomed.is_empty() {
            // Named as every surface names a site in the audit log: by its key.
            let key = Site::find(conn, site)?.public_key;
            let mut names: Vec<&str> = doomed.iter().take(20).map(|r| r.name.as_str()).collect();
            if doomed.len() > names.len() {
                names.push("...");
            }
            audit(
                conn,
                actor,
                Some(site),
                AuditAction::RoomPrune,
                ("site", key),
                format!("{} unused rooms: {}", doomed.len(), names.join(", ")),
            )?;
        }
        Ok(doomed.len())
    })
}

/// Prunes unused rooms, keeping those someone is in on this server (and,
/// through the holds every server writes, on any other).
pub async fn prune(chat: &Chat, actor: Actor, site: SiteId, min_age_ms: i64) -> Result<usize> {
    let keep = chat.hub.live_rooms();
    chat.db
        .run(move |conn| prune_in(conn, actor, site, min_age_ms, &keep))
        .await
}
