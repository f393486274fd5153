//! Rooms of a site and their moderation settings.

use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::room::RoomSettings;
use crate::db::models::{Room, RoomId};
use crate::moderation;

/// GET /admin/sites/{id}/rooms
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let site = sites::load(admin, auth, req.id(1)?).await?;
    let id = site.id;
    let rooms = admin
        .chat
        .db
        .run(move |conn| Room::list_for_site(conn, id))
        .await?;
    admin.page(
        req,
        auth,
        "rooms",
        json!({"title": format!("Rooms of {}", site.name), "site": site, "rooms": rooms}),
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
