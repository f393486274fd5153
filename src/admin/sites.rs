//! Sites: allowed origins, settings, the embed snippet, secret rotation.
//! Moderators see their sites read-only; owners and admins change them.

use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::Admin;
use crate::db::models::audit::{AuditAction, AuditEntry};
use crate::db::models::site::SiteSettings;
use crate::db::models::{AdminUserId, RoomPolicy, Site, SiteId};
use crate::db::{DbConn, DbError};
use crate::input::{DisplayName, Origin};

/// The sites the viewer may see, in id order.
pub async fn visible(admin: &Admin, auth: &Auth) -> Result<Vec<Site>> {
    let only = auth.sites.clone();
    let sites = admin.chat.db.run(Site::list).await?;
    Ok(match only {
        Some(ids) => sites.into_iter().filter(|s| ids.contains(&s.id)).collect(),
        None => sites,
    })
}

/// The site with this id, if the viewer may see it.
pub async fn load(admin: &Admin, auth: &Auth, id: SiteId) -> Result<Site> {
    auth.require_site(id)?;
    admin
        .chat
        .db
        .run(move |conn| Site::find(conn, id))
        .await
        .map_err(AdminError::from)
}

/// `[{id, name, selected}]` for a site filter select.
pub fn options(sites: &[Site], selected: Option<SiteId>) -> serde_json::Value {
    sites
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "selected": Some(s.id) == selected}))
        .collect()
}

fn audit(
    conn: &mut DbConn,
    actor: Option<AdminUserId>,
    site: SiteId,
    action: AuditAction,
    details: String,
) -> std::result::Result<(), DbError> {
    AuditEntry {
        actor,
        site: Some(site),
        action,
        target_type: "site",
        target_id: site.to_string(),
        details,
    }
    .record(conn)
}

/// GET /admin/sites
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let sites = visible(admin, auth).await?;
    let rows: Vec<_> = sites
        .iter()
        .map(|s| json!({"id": s.id, "name": s.name, "key": s.public_key, "enabled": s.enabled, "is_demo": s.is_demo}))
        .collect();
    admin.page(req, auth, "sites", json!({"title": "Sites", "sites": rows}))
}

/// POST /admin/sites — create a site (owners and admins).
pub async fn create(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let name = DisplayName::parse(req.text("name").unwrap_or_default(), "site names")
        .map_err(|e| AdminError::BadRequest(e.sentence()))?
        .into_inner();
    let origin = match req.text("origin") {
        Some(o) => vec![Origin::parse(o).map_err(|e| AdminError::BadRequest(e.to_string()))?],
        None => Vec::new(),
    };
    let actor = auth.actor();
    let site = admin
        .chat
        .db
        .run(move |conn| -> Result<_> {
            let site = Site::create(conn, &name, &origin, false)?;
            AuditEntry {
                actor,
                site: Some(site.id),
                action: AuditAction::SiteCreate,
                target_type: "site",
                target_id: site.id.to_string(),
                details: name,
            }
            .record(conn)?;
            Ok(site)
        })
        .await?;
    // The secret is shown once, on this page; it never travels in a cookie or a URL.
    admin.page(
        req,
        auth,
        "rotate",
        json!({"title": "Site created", "site": site, "secret": site.secret, "created": true}),
    )
}

/// GET /admin/sites/{id}
pub async fn show(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let site = load(admin, auth, req.id(1)?).await?;
    let s = site.clone();
    let origins = admin.chat.db.run(move |conn| s.origins(conn)).await?;
    admin.page(
        req,
        auth,
        "site",
        json!({
            "title": site.name,
            "site": site,
            "origins": origins,
            "snippet": site.script_tag(&admin.public_url),
            "open_policy": site.room_policy == RoomPolicy::Open,
            "can_edit": auth.is_admin(),
        }),
    )
}

/// POST /admin/sites/{id}/settings
pub async fn update(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let site = load(admin, auth, req.id(1)?).await?;
    let name = DisplayName::parse(req.text("name").unwrap_or_default(), "site names")
        .map_err(|e| AdminError::BadRequest(e.sentence()))?
        .into_inner();
    // Left out, it stays as it is; an unknown one is refused, never read as "open".
    let policy: RoomPolicy = req
        .text("room_policy")
        .map(str::parse)
        .transpose()
        .map_err(|_| AdminError::BadRequest("Choose a room policy.".into()))?
        .unwrap_or(site.room_policy);
    let max_rooms: i32 = req
        .field_as("max_rooms", "Room limit")?
        .unwrap_or(site.max_rooms);
    let max_chars: i32 = req
        .field_as("max_message_chars", "Message length")?
        .unwrap_or(site.max_message_chars);
    if !(1..=1_000_000).contains(&max_rooms) || !(1..=100_000).contains(&max_chars) {
        return Err(AdminError::BadRequest(
            "Limits must be positive numbers.".into(),
        ));
    }
    let settings = SiteSettings {
        name: Some(name),
        guests_allowed: Some(req.checked("guests_allowed")),
        registration_allowed: Some(req.checked("registration_allowed")),
        verified_required: Some(req.checked("verified_required")),
        room_policy: Some(policy),
        max_rooms: Some(max_rooms),
        max_message_chars: Some(max_chars),
    };
    let details = format!("{settings:?}");
    let (id, actor) = (site.id, auth.actor());
    admin
        .chat
        .db
        .run(move |conn| {
            settings.apply(conn, id)?;
            audit(conn, actor, id, AuditAction::SiteUpdate, details)
        })
        .await?;
    Ok(Reply::redirect(&format!("/admin/sites/{id}")).flash(Flash::Ok("Settings saved.".into())))
}

fn parse_origin(req: &Request) -> Result<Origin> {
    let raw = req.text("origin").unwrap_or_default();
    Origin::parse(raw).map_err(|e| AdminError::BadRequest(format!("{e}.")))
}

/// POST /admin/sites/{id}/origins
pub async fn add_origin(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let site = load(admin, auth, req.id(1)?).await?;
    let origin = parse_origin(req)?;
    let (id, actor, shown) = (site.id, auth.actor(), origin.to_string());
    let added = admin
        .chat
        .db
        .run(move |conn| -> Result<_> {
            let added = site.add_origin(conn, &origin)?;
            if added {
                audit(
                    conn,
                    actor,
                    id,
                    AuditAction::SiteOriginAdd,
                    origin.to_string(),
                )?;
            }
            Ok(added)
        })
        .await?;
    let flash = if added {
        Flash::Ok(format!("{shown} may now embed the chat."))
    } else {
        Flash::Err(format!("{shown} was already allowed."))
    };
    Ok(Reply::redirect(&format!("/admin/sites/{id}")).flash(flash))
}

/// POST /admin/sites/{id}/origins/remove
pub async fn remove_origin(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let site = load(admin, auth, req.id(1)?).await?;
    let origin = parse_origin(req)?;
    let (id, actor, shown) = (site.id, auth.actor(), origin.to_string());
    admin
        .chat
        .db
        .run(move |conn| -> Result<_> {
            if site.remove_origin(conn, &origin)? {
                audit(
                    conn,
                    actor,
                    id,
                    AuditAction::SiteOriginRemove,
                    origin.to_string(),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{id}")).flash(Flash::Ok(format!(
            "{shown} removed. Pages there can no longer connect."
        ))),
    )
}

/// GET /admin/sites/{id}/rotate — the confirmation page.
pub async fn rotate_confirm(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let site = load(admin, auth, req.id(1)?).await?;
    admin.page(
        req,
        auth,
        "rotate",
        json!({"title": "Rotate secret", "site": site, "secret": null, "created": false}),
    )
}

/// POST /admin/sites/{id}/rotate — shows the new secret once.
pub async fn rotate(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let site = load(admin, auth, req.id(1)?).await?;
    if req.text("confirm") != Some(site.name.as_str()) {
        return Err(AdminError::BadRequest(
            "Type the site name exactly to confirm.".into(),
        ));
    }
    let (s, actor) = (site.clone(), auth.actor());
    let secret = admin
        .chat
        .db
        .run(move |conn| -> Result<_> {
            let secret = s.rotate_secret(conn)?;
            audit(
                conn,
                actor,
                s.id,
                AuditAction::SiteRotateSecret,
                "new secret issued".into(),
            )?;
            Ok(secret)
        })
        .await?;
    admin.page(
        req,
        auth,
        "rotate",
        json!({"title": "Rotate secret", "site": site, "secret": secret, "created": false}),
    )
}

/// POST /admin/sites/{id}/enabled — enable or disable (closes live connections within seconds).
pub async fn set_enabled(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_admin()?;
    let site = load(admin, auth, req.id(1)?).await?;
    let enabled = req.text("enabled") == Some("true");
    let (id, actor, origin) = (site.id, auth.actor(), Some(admin.chat.instance));
    admin
        .chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                site.set_enabled(conn, enabled)?;
                if !enabled {
                    let disabled = crate::chat::cluster::Control::SiteDisabled { site: id };
                    crate::moderation::remote::record(conn, origin, &disabled)?;
                }
                audit(
                    conn,
                    actor,
                    id,
                    if enabled {
                        AuditAction::SiteEnable
                    } else {
                        AuditAction::SiteDisable
                    },
                    String::new(),
                )
            })
        })
        .await?;
    if !enabled {
        admin.chat.hub.close_where(
            |c| c.site == id,
            crate::chat::protocol::CloseReason::SiteDisabled,
            "This chat has been turned off by its owner.",
            None,
        );
        admin.chat.tell_others();
    }
    let text = if enabled {
        "Site enabled."
    } else {
        "Site disabled: its visitors were disconnected."
    };
    Ok(Reply::redirect(&format!("/admin/sites/{id}")).flash(Flash::Ok(text.into())))
}
