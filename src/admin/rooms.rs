//! Rooms of a site: their moderation settings, and deleting them (one, or
//! every room visitors opened and never wrote in).

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::{self, Request};
use super::Admin;
use crate::db::models::room::RoomSettings;
use crate::db::models::{Room, RoomId, SiteId};
use crate::moderation;

/// Rooms younger than this are left alone by a prune: someone may be about
/// to write in them.
const DEFAULT_PRUNE_MINUTES: i64 = 60;

#[derive(Deserialize)]
struct NewRoomForm {
    #[serde(default)]
    name: String,
}

/// A room's settings form; a box left unticked is absent.
#[derive(Deserialize)]
struct RoomSettingsForm {
    slow_mode_secs: Option<String>,
    max_message_chars: Option<String>,
    locked: Option<String>,
    approve_first: Option<String>,
}

impl TryFrom<RoomSettingsForm> for RoomSettings {
    type Error = AdminError;

    fn try_from(form: RoomSettingsForm) -> Result<RoomSettings> {
        let slow_mode_secs: i32 = request::parse(form.slow_mode_secs, "Slow mode")?.unwrap_or(0);
        if slow_mode_secs < 0 {
            return Err(AdminError::BadRequest(
                "Slow mode cannot be negative.".into(),
            ));
        }
        Ok(RoomSettings {
            slow_mode_secs,
            locked: form.locked.is_some(),
            approve_first: form.approve_first.is_some(),
            max_message_chars: request::parse(form.max_message_chars, "Message length")?,
        })
    }
}

#[derive(Deserialize)]
struct PruneForm {
    older_than_minutes: Option<String>,
}

/// GET /admin/sites/{id}/rooms
pub async fn list(admin: &Admin, req: &Request, auth: &Auth, site: SiteId) -> Result<Reply> {
    let site = admin.site(auth, site).await?;
    let id = site.id;
    let rooms = admin.run(move |conn| Room::list_for_site(conn, id)).await?;
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
pub async fn create(admin: &Admin, req: &Request, auth: &Auth, site: SiteId) -> Result<Reply> {
    let site = admin.site(auth, site).await?;
    let name = req.form::<NewRoomForm>()?.name;
    let room = moderation::rooms::create(
        &admin.chat,
        auth.actor(),
        site.id,
        &name,
        moderation::rooms::Quota::Exempt,
    )
    .await?;
    Ok(Reply::redirect(&format!("/admin/sites/{}/rooms", site.id))
        .flash(Flash::Ok(format!("Room {} created.", room.name))))
}

/// POST /admin/rooms/{id} — settings; they apply to the next message.
pub async fn update(admin: &Admin, req: &Request, auth: &Auth, id: RoomId) -> Result<Reply> {
    let room = admin.run(move |conn| Room::find(conn, id)).await?;
    auth.require_site(room.site_id)?;
    let settings = RoomSettings::try_from(req.form::<RoomSettingsForm>()?)?;
    moderation::rooms::update(&admin.chat, auth.actor(), id, settings).await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{}/rooms", room.site_id)).flash(Flash::Ok(format!(
            "Room {} updated; the change applies to the next message.",
            room.name
        ))),
    )
}

/// POST /admin/rooms/{id}/delete — the room and everything said in it.
pub async fn delete(admin: &Admin, auth: &Auth, id: RoomId) -> Result<Reply> {
    let room = admin.run(move |conn| Room::find(conn, id)).await?;
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
pub async fn prune(admin: &Admin, req: &Request, auth: &Auth, site: SiteId) -> Result<Reply> {
    let site = admin.site(auth, site).await?;
    auth.require_admin()?;
    let minutes: i64 = request::parse(req.form::<PruneForm>()?.older_than_minutes, "Age")?
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
