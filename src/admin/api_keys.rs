//! The site page's API keys (owners only): the list with prefixes, scopes and
//! last use; a form that creates a key and shows it once; revocation. The
//! rules and audit entries are `manage::api_keys`', shared with the CLI.

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::Admin;
use crate::db::models::{ApiKey, Scope, Site, SiteId};
use crate::manage::api_keys as manage;

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    /// The ticked scopes.
    #[serde(default)]
    scope: Vec<String>,
}

#[derive(Deserialize)]
struct RevokeForm {
    #[serde(default)]
    prefix: String,
}

fn row(key: &ApiKey) -> Value {
    let scopes: Vec<&str> = key.scopes().iter().map(|s| s.as_str()).collect();
    json!({
        "prefix": key.prefix,
        "name": key.name,
        "scopes": scopes.join(", "),
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    })
}

/// The site page's section: its keys for an owner, `null` for anyone else
/// (the partial is not shown).
pub async fn section(admin: &Admin, auth: &Auth, site: &Site) -> Result<Value> {
    if auth.require_owner().is_err() {
        return Ok(Value::Null);
    }
    let id = site.id;
    let keys = admin.run(move |conn| ApiKey::list(conn, id)).await?;
    Ok(json!({ "keys": keys.iter().map(row).collect::<Vec<_>>() }))
}

/// POST /admin/sites/{id}/api-keys — creates a key and shows it once.
pub async fn create(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_owner()?;
    let site = admin.site(auth, id).await?;
    let form: CreateForm = req.form()?;
    let scopes = form
        .scope
        .iter()
        .map(|s| s.parse::<Scope>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(AdminError::BadRequest)?;
    let (s, actor) = (site.clone(), auth.actor());
    let created = admin
        .run(move |conn| manage::create(conn, actor, &s, &form.name, &scopes))
        .await?;
    // The key is shown once, on this page; it never travels in a cookie or a URL.
    admin.page(
        req,
        auth,
        "api_key",
        json!({
            "title": "API key created",
            "site": site,
            "key": row(&created.key),
            "secret": created.secret,
        }),
    )
}

/// POST /admin/sites/{id}/api-keys/revoke
pub async fn revoke(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_owner()?;
    let site = admin.site(auth, id).await?;
    let prefix = req.form::<RevokeForm>()?.prefix;
    let actor = auth.actor();
    let key = admin
        .run(move |conn| manage::revoke(conn, actor, &site, &prefix))
        .await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{id}")).flash(Flash::Ok(format!(
            "API key {} ({}) revoked: requests with it are refused from now on.",
            key.name, key.prefix
        ))),
    )
}
