//! A site's word filter: exact words and patterns, each blocking or masking.

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::error::Result;
use super::reply::{Flash, Reply};
use super::request::Request;
use super::Admin;
use crate::db::models::{SiteId, WordFilter, WordFilterId};
use crate::moderation;

/// A new word filter entry, as typed (the moderation layer checks it).
#[derive(Deserialize)]
struct EntryForm {
    #[serde(default)]
    kind: String,
    /// As typed: a pattern may mean its spaces.
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    action: String,
}

/// GET /admin/sites/{id}/filters
pub async fn list(admin: &Admin, req: &Request, auth: &Auth, site: SiteId) -> Result<Reply> {
    let site = admin.site(auth, site).await?;
    let id = site.id;
    let entries = admin
        .run(move |conn| WordFilter::for_site(conn, id))
        .await?;
    admin.page(
        req,
        auth,
        "filters",
        json!({"title": format!("Word filter of {}", site.name), "site": site, "entries": entries}),
    )
}

/// POST /admin/sites/{id}/filters
pub async fn add(admin: &Admin, req: &Request, auth: &Auth, site: SiteId) -> Result<Reply> {
    let site = admin.site(auth, site).await?;
    let form: EntryForm = req.form()?;
    let entry = moderation::word_filters::add(
        &admin.chat,
        auth.actor(),
        site.id,
        form.kind.trim(),
        &form.pattern,
        form.action.trim(),
    )
    .await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{}/filters", site.id)).flash(Flash::Ok(format!(
            "Added {:?}; it applies to the next message.",
            entry.pattern
        ))),
    )
}

/// POST /admin/filters/{id}/delete
pub async fn remove(admin: &Admin, auth: &Auth, id: WordFilterId) -> Result<Reply> {
    let entry = admin
        .run(move |conn| WordFilter::find(conn, id))
        .await?
        .ok_or(super::error::AdminError::NotFound)?;
    auth.require_site(entry.site_id)?;
    moderation::word_filters::remove(&admin.chat, auth.actor(), id).await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{}/filters", entry.site_id))
            .flash(Flash::Ok(format!("Removed {:?}.", entry.pattern))),
    )
}
