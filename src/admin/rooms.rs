//! Rooms of a site: their moderation settings, and deleting them (one, or
//! every room visitors opened and never wrote in).

use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::room::RoomSettings;
use crate::db::models::{Room, RoomId};
use crate::moderation;

/// Rooms younger than this are left alone by a prune: someone may be about
/// to write in them.
const DEFAULT_PRUNE_MINUTES: i64 = 60;

/// GET /admin/sites/{id}/rooms
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let site = sites::load(admin, auth, req.id(1)?).await?;
    let id = site.id;
    let rooms = admin
        .chat
        .db
        .run(move |conn| Room::list_for_site(conn, id))
        .await?;
    let live = admin.chat.hub.live_rooms();
    let unused = rooms
        .iter()
        .filter(|r| r.visitor_created && r.last_seq == 0)
        .count();
    let rooms: Vec<_> = rooms
        .into_iter()
        .map(|room| {
            let mut view = json!(room);
            view["unused"] = json!(room.visitor_created && room.last_seq == 0);
            view["live"] = json!(live.contains(&room.id));
            view
        })
        .collect();
    admin.page(
        req,
        auth,
        "rooms",
        json!({"title": format!("Rooms of {}", site.name), "site": site, "rooms": rooms,
               "unused": unused, "can_delete": auth.is_admin()}),
    )
}

/// POST /admin/sites/{id}/rooms — create a room ahead of time.
pub async fn create(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let site = sites::load(admin, auth, req.id(1)?).await?;
    let name = req.text("name").unwrap_or_default();
    let room = moderation::rooms::create(&admin.chat, auth.actor(), site.id, name).await?;
    Ok(Reply::redirect(&format!("/admin/sites/{}/rooms", site.id))
        .flash(Flash::Ok(format!("Room {} created.", room.name))))
}

/// POST /admin/rooms/{id} — settings; they apply to the next message.
pub async fn update(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let id: RoomId = req.id(1)?;
    let room = admin.chat.db.run(move |conn| Room::find(conn, id)).await?;
    auth.require_site(room.site_id)?;
    let slow_mode_secs: i32 = req.field_as("slow_mode_secs", "Slow mode")?.unwrap_or(0);
    let max_message_chars: Option<i32> = req.field_as("max_message_chars", "Message length")?;
    if slow_mode_secs < 0 {
        return Err(AdminError::BadRequest(
            "Slow mode cannot be negative.".into(),
        ));
    }
    let settings = RoomSettings {
        slow_mode_secs,
        locked: req.checked("locked"),
        approve_first: req.checked("approve_first"),
        max_message_chars,
    };
    moderation::rooms::update(&admin.chat, auth.actor(), id, settings).await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{}/rooms", room.site_id)).flash(Flash::Ok(format!(
            "Room {} updated; the change applies to the next message.",
            room.name
        ))),
    )
}

/// POST /admin/rooms/{id}/delete — the room and everything said in it.
pub async fn delete(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let id: RoomId = req.id(1)?;
    let room = admin.chat.db.run(move |conn| Room::find(conn, id)).await?;
    auth.require_site(room.site_id)?;
    auth.require_admin()?;
    moderation::rooms::delete(&admin.chat, auth.actor(), id).await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{}/rooms", room.site_id)).flash(Flash::Ok(format!(
            "Room {} deleted, with its {} messages.",
            room.name, room.last_seq
        ))),
    )
}

/// POST /admin/sites/{id}/rooms/prune — rooms visitors opened and never
/// wrote in, older than `older_than_minutes` (default 60), nobody inside.
pub async fn prune(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let site = sites::load(admin, auth, req.id(1)?).await?;
    auth.require_admin()?;
    let minutes: i64 = req
        .field_as("older_than_minutes", "Age")?
        .unwrap_or(DEFAULT_PRUNE_MINUTES);
    if minutes < 0 {
        return Err(AdminError::BadRequest("The age cannot be negative.".into()));
    }
    let pruned =
        moderation::rooms::prune(&admin.chat, auth.actor(), site.id, minutes * 60_000).await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{}/rooms", site.id)).flash(Flash::Ok(format!(
            "Deleted {pruned} empty room{}.",
            if pruned == 1 { "" } else { "s" }
        ))),
    )
}
