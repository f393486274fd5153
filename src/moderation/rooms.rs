//! Room settings: slow mode, lock, approve-first, length limit. They apply to
//! the next message: the send path's cached copy is dropped on change.

use super::{audit, Actor, ModerationError, Result};
use crate::chat::Chat;
use crate::db::models::room::RoomSettings;
use crate::db::models::{Room, RoomId, Site, SiteId};
use crate::input::RoomName;

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
    chat.db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                let found = Room::find(conn, room)?;
                Room::update_settings(conn, room, &settings)?;
                audit(
                    conn,
                    actor,
                    Some(found.site_id),
                    "room.update",
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
                )
            })
        })
        .await
        .map_err(|e| match e {
            crate::db::DbError::NotFound => ModerationError::NotFound,
            other => other.into(),
        })?;
    chat.rules.invalidate_room(room);
    Ok(())
}

/// Creates a room ahead of time (needed on sites whose rooms are pre-created).
pub async fn create(chat: &Chat, actor: Actor, site: SiteId, name: &str) -> Result<Room> {
    let name = RoomName::parse(name.trim()).map_err(|e| ModerationError::Invalid(e.to_string()))?;
    chat.db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                Site::find(conn, site)?;
                if Room::find_by_name(conn, site, name.as_str())?.is_some() {
                    return Ok(Err(ModerationError::Invalid(format!(
                        "Room {name} already exists."
                    ))));
                }
                let room = Room::create(conn, site, name.as_str())?;
                audit(
                    conn,
                    actor,
                    Some(site),
                    "room.create",
                    ("room", room.id.to_string()),
                    room.name.clone(),
                )?;
                Ok(Ok(room))
            })
        })
        .await?
}
