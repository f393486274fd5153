//! Admin accounts (owners only): create, assign a moderator's sites, disable,
//! reset a password, delete. Disabling, resetting or deleting ends the
//! account's sessions.

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::{AdminUser, AdminUserId, Role, SiteId};
use crate::identity::password;
use crate::manage::admin_accounts::{self as manage, NewAdmin};

/// GET /admin/accounts
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_owner()?;
    let (users, all_sites) = admin
        .run(|conn| -> Result<_> {
            let mut users = Vec::new();
            for user in AdminUser::list(conn)? {
                let ids = user.site_ids(conn)?;
                users.push((user, ids));
            }
            Ok((users, crate::db::models::Site::list(conn)?))
        })
        .await?;
    let rows: Vec<_> = users
        .iter()
        .map(|(u, ids)| {
            json!({
                "id": u.id, "email": u.email, "name": u.name, "role": u.role,
                "disabled": u.disabled, "last_login_at": u.last_login_at,
                "is_moderator": u.role == Role::Moderator,
                "is_me": u.id == auth.user.id,
                "sites": all_sites.iter().map(|s| json!({"id": s.id, "name": s.name, "selected": ids.contains(&s.id)})).collect::<Vec<_>>(),
            })
        })
        .collect();
    admin.page(
        req,
        auth,
        "accounts",
        json!({"title": "Admin accounts", "accounts": rows, "sites": sites::options(&all_sites, None)}),
    )
}

/// The new-account form.
#[derive(Deserialize)]
struct NewAccountForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// As typed: passwords keep their spaces.
    #[serde(default)]
    password: String,
    /// The ticked site boxes (moderators only).
    #[serde(default)]
    sites: Vec<String>,
}

/// A moderator's sites: one box per site.
#[derive(Deserialize)]
struct SitesForm {
    #[serde(default)]
    sites: Vec<String>,
}

/// Deleting an account: its name, typed to confirm.
#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// The ticked `sites` boxes as ids.
fn site_ids(boxes: &[String]) -> Result<Vec<SiteId>> {
    boxes
        .iter()
        .map(|s| {
            s.parse::<i64>()
                .map(SiteId)
                .map_err(|_| AdminError::BadRequest("Unknown site.".into()))
        })
        .collect()
}

/// Hashes a password an owner typed; hashing is slow, so it is bounded per
/// address like every other password form.
async fn hash(admin: &Admin, req: &Request, password: String) -> Result<String> {
    manage::check_new_password(&password)?;
    admin.spend_budget(req.ip)?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AdminError::Internal(format!("hashing: {e}")))?
        .map_err(|e| AdminError::Internal(format!("hashing: {e}")))
}

/// POST /admin/accounts
pub async fn create(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_owner()?;
    let form: NewAccountForm = req.form()?;
    let role = form
        .role
        .trim()
        .parse::<Role>()
        .map_err(|_| AdminError::BadRequest("Choose a role.".into()))?;
    // The form offers the site boxes whatever the role; they count for moderators only.
    let sites = if role == Role::Moderator {
        site_ids(&form.sites)?
    } else {
        Vec::new()
    };
    let new = NewAdmin::parse(form.email.trim(), form.name.trim(), role, sites)?;
    let check = new.clone();
    admin
        .run(move |conn| manage::check_available(conn, &check))
        .await?;
    let hash = hash(admin, req, form.password).await?;
    let (actor, shown) = (auth.actor(), new.email.to_string());
    admin
        .run(move |conn| manage::create(conn, actor, &new, &hash))
        .await?;
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(format!("Account {shown} created."))))
}

/// The account a URL names, for an owner (the only role that manages accounts).
async fn load_for_owner(admin: &Admin, auth: &Auth, id: AdminUserId) -> Result<AdminUser> {
    auth.require_owner()?;
    admin.find(move |conn| AdminUser::find(conn, id)).await
}

/// POST /admin/accounts/{id}/sites
pub async fn set_sites(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: AdminUserId,
) -> Result<Reply> {
    let user = load_for_owner(admin, auth, id).await?;
    let ids = site_ids(&req.form::<SitesForm>()?.sites)?;
    let (actor, email) = (auth.actor(), user.email.clone());
    admin
        .run(move |conn| manage::set_sites(conn, actor, &user, &ids))
        .await?;
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(format!("Sites of {email} updated."))))
}

/// POST /admin/accounts/{id}/disable and /enable
pub async fn set_disabled(
    admin: &Admin,
    auth: &Auth,
    id: AdminUserId,
    disabled: bool,
) -> Result<Reply> {
    let user = load_for_owner(admin, auth, id).await?;
    let (actor, email) = (auth.actor(), user.email.clone());
    admin
        .run(move |conn| manage::set_disabled(conn, actor, &user, disabled))
        .await?;
    let text = if disabled {
        format!("{email} is disabled and logged out.")
    } else {
        format!("{email} is enabled.")
    };
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(text)))
}

/// POST /admin/accounts/{id}/password
pub async fn reset_password(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: AdminUserId,
) -> Result<Reply> {
    let user = load_for_owner(admin, auth, id).await?;
    let hash = hash(admin, req, req.form::<PasswordForm>()?.password).await?;
    let actor = auth.actor();
    // An owner setting their own password keeps the session they did it from.
    let keep = (user.id == auth.user.id).then_some(auth.session_id);
    let email = user.email.clone();
    admin
        .run(move |conn| manage::set_password(conn, actor, &user, &hash, keep))
        .await?;
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(format!(
        "New password set for {email}; their sessions were ended."
    ))))
}

/// POST /admin/accounts/{id}/delete
pub async fn delete(admin: &Admin, req: &Request, auth: &Auth, id: AdminUserId) -> Result<Reply> {
    let user = load_for_owner(admin, auth, id).await?;
    let confirm = req.form::<DeleteForm>()?.confirm;
    let (actor, email) = (auth.actor(), user.email.clone());
    let ended = admin
        .run(move |conn| manage::delete(conn, actor, &user, &confirm))
        .await?;
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(format!(
        "Account {email} deleted; {ended} open session{} ended. The audit log keeps what it did, under its email.",
        if ended == 1 { "" } else { "s" }
    ))))
}
