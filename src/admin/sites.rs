//! Sites: allowed origins, settings, the embed snippet, secret rotation.
//! Moderators see their sites read-only; owners and admins change them.

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::{self, Request};
use super::Admin;
use crate::db::models::{RoomPolicy, RoomScope, Site, SiteId};
use crate::input::NameKey;
use crate::manage::sites::{self as manage, SettingsChange};

/// The new-site form.
#[derive(Deserialize)]
struct NewSiteForm {
    #[serde(default)]
    name: String,
    origin: Option<String>,
}

/// The settings form: the whole form is sent; a box left unticked is absent.
#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    name: String,
    guests_allowed: Option<String>,
    registration_allowed: Option<String>,
    verified_required: Option<String>,
    room_policy: Option<String>,
    room_scope: Option<String>,
    max_rooms: Option<String>,
    max_message_chars: Option<String>,
    presence_lines: Option<String>,
}

impl TryFrom<SettingsForm> for SettingsChange {
    type Error = AdminError;

    fn try_from(form: SettingsForm) -> Result<SettingsChange> {
        // Left out, the policy stays as it is; an unknown one is refused, never read as "open".
        let room_policy = request::text(form.room_policy)
            .map(|p| p.parse::<RoomPolicy>())
            .transpose()
            .map_err(|_| AdminError::BadRequest("Choose a room policy.".into()))?;
        let room_scope = request::text(form.room_scope)
            .map(|p| p.parse::<RoomScope>())
            .transpose()
            .map_err(|_| {
                AdminError::BadRequest("Choose the room of pages without data-room.".into())
            })?;
        Ok(SettingsChange {
            name: Some(form.name.trim().to_owned()),
            guests_allowed: Some(form.guests_allowed.is_some()),
            registration_allowed: Some(form.registration_allowed.is_some()),
            verified_required: Some(form.verified_required.is_some()),
            room_policy,
            room_scope,
            max_rooms: request::parse(form.max_rooms, "Room limit")?,
            max_message_chars: request::parse(form.max_message_chars, "Message length")?,
            presence_lines: Some(form.presence_lines.is_some()),
        })
    }
}

#[derive(Deserialize)]
struct OriginForm {
    #[serde(default)]
    origin: String,
}

#[derive(Deserialize)]
struct RotateForm {
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

/// The sites the viewer may see, in id order.
pub async fn visible(admin: &Admin, auth: &Auth) -> Result<Vec<Site>> {
    let only = auth.sites.clone();
    let sites = admin.run(Site::list).await?;
    Ok(match only {
        Some(ids) => sites.into_iter().filter(|s| ids.contains(&s.id)).collect(),
        None => sites,
    })
}

/// `[{id, name, selected}]` for a site select. Sites made before names had
/// to differ may share one, or look alike: those show their public key too.
pub fn options(sites: &[Site], selected: Option<SiteId>) -> serde_json::Value {
    let keys: Vec<NameKey> = sites.iter().map(|s| NameKey::of(&s.name)).collect();
    let shared = |key: &NameKey| keys.iter().filter(|k| k.looks_like(key)).count() > 1;
    sites
        .iter()
        .zip(&keys)
        .map(|(s, key)| {
            let name = if shared(key) {
                format!("{} ({})", s.name, s.public_key)
            } else {
                s.name.clone()
            };
            json!({"id": s.id, "name": name, "selected": Some(s.id) == selected})
        })
        .collect()
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
    let form: NewSiteForm = req.form()?;
    let (name, origin) = (form.name.trim().to_owned(), request::text(form.origin));
    let actor = auth.actor();
    let site = admin
        .run(move |conn| {
            let origins: Vec<&str> = origin.iter().map(String::as_str).collect();
            manage::create(conn, actor, &name, &origins)
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
pub async fn show(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    let site = admin.site(auth, id).await?;
    let s = site.clone();
    let origins = admin.run(move |conn| s.origins(conn)).await?;
    let api_keys = super::api_keys::section(admin, auth, &site).await?;
    let webhooks = super::webhooks::section(admin, auth, site.id).await?;
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
            "site_scope": site.room_scope == RoomScope::Site,
            "can_edit": auth.is_admin(),
            "api_keys": api_keys,
            "webhooks": webhooks,
            // The server's --max-message-chars caps every site's own limit.
            "server_max_chars": admin.chat.limits.max_message_chars,
            "capped": usize::try_from(site.max_message_chars)
                .is_ok_and(|n| n > admin.chat.limits.max_message_chars),
        }),
    )
}

/// POST /admin/sites/{id}/settings
pub async fn update(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    let change = SettingsChange::try_from(req.form::<SettingsForm>()?)?;
    let (id, actor, origin) = (site.id, auth.actor(), Some(admin.chat.instance));
    let changed = admin
        .run(move |conn| manage::update(conn, actor, &site, change, origin))
        .await?;
    if !changed.is_empty() {
        // This server's connections follow at once; the others read the event.
        admin.chat.rules.invalidate_site(id);
        admin.chat.tell_others();
        crate::moderation::rooms::announce_site_rules(&admin.chat, id).await;
    }
    let text = if changed.is_empty() {
        "Nothing changed."
    } else {
        "Settings saved."
    };
    Ok(Reply::redirect(&format!("/admin/sites/{id}")).flash(Flash::Ok(text.into())))
}

/// POST /admin/sites/{id}/origins
pub async fn add_origin(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    let origin = manage::origin(&req.form::<OriginForm>()?.origin)?;
    let (id, actor, shown) = (site.id, auth.actor(), origin.to_string());
    let server = Some(admin.chat.instance);
    let added = admin
        .run(move |conn| manage::add_origin(conn, actor, &site, &origin, server))
        .await?;
    if added {
        origins_changed(admin, id);
    }
    let flash = if added {
        Flash::Ok(format!("{shown} may now embed the chat."))
    } else {
        Flash::Err(format!("{shown} was already allowed."))
    };
    Ok(Reply::redirect(&format!("/admin/sites/{id}")).flash(flash))
}

/// POST /admin/sites/{id}/origins/remove
pub async fn remove_origin(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    let origin = manage::origin(&req.form::<OriginForm>()?.origin)?;
    let (id, actor, shown) = (site.id, auth.actor(), origin.to_string());
    let server = Some(admin.chat.instance);
    let removed = admin
        .run(move |conn| manage::remove_origin(conn, actor, &site, &origin, server))
        .await?;
    if removed {
        origins_changed(admin, id);
    }
    let flash = if removed {
        Flash::Ok(format!(
            "{shown} removed. Pages there can no longer connect."
        ))
    } else {
        Flash::Err(format!("{shown} was not allowed."))
    };
    Ok(Reply::redirect(&format!("/admin/sites/{id}")).flash(flash))
}

/// The next connections, here and on the other servers, are checked
/// against the site's new list of origins.
fn origins_changed(admin: &Admin, site: SiteId) {
    admin.chat.admission.origins_changed(site);
    admin.chat.tell_others();
}

/// GET /admin/sites/{id}/rotate — the confirmation page.
pub async fn rotate_confirm(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: SiteId,
) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    admin.page(
        req,
        auth,
        "rotate",
        json!({"title": "Rotate secret", "site": site, "secret": null, "created": false}),
    )
}

/// POST /admin/sites/{id}/rotate — shows the new secret once.
pub async fn rotate(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    if req.form::<RotateForm>()?.confirm.trim() != site.name {
        return Err(AdminError::BadRequest(
            "Type the site name exactly to confirm.".into(),
        ));
    }
    let (s, actor, origin) = (site.clone(), auth.actor(), Some(admin.chat.instance));
    let secret = admin
        .run(move |conn| manage::rotate_secret(conn, actor, &s, origin))
        .await?;
    admin.chat.rules.invalidate_site(site.id);
    admin.chat.tell_others();
    admin.page(
        req,
        auth,
        "rotate",
        json!({"title": "Rotate secret", "site": site, "secret": secret, "created": false}),
    )
}

/// POST /admin/sites/{id}/enabled — enable or disable (closes live connections within seconds).
pub async fn set_enabled(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    let enabled = req.form::<EnabledForm>()?.enabled == "true";
    manage::set_enabled(&admin.chat, auth.actor(), site.id, enabled).await?;
    let text = if enabled {
        "Site enabled."
    } else {
        "Site disabled: its visitors were disconnected."
    };
    Ok(Reply::redirect(&format!("/admin/sites/{}", site.id)).flash(Flash::Ok(text.into())))
}

/// POST /admin/sites/{id}/delete — a disabled site, for good (owners and admins).
pub async fn delete(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_admin()?;
    let site = admin.site(auth, id).await?;
    let confirm = req.form::<DeleteForm>()?.confirm;
    let actor = auth.actor();
    let name = site.name.clone();
    let gone = admin
        .run(move |conn| manage::delete(conn, actor, &site, &confirm))
        .await?;
    admin.chat.rules.invalidate_site(id);
    Ok(Reply::redirect("/admin/sites").flash(Flash::Ok(format!(
        "Site {name} deleted with its {} messages and {} participants; the audit log keeps the record.",
        gone.messages, gone.participants
    ))))
}
