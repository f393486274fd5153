//! Admin accounts (owners only): create, assign a moderator's sites, disable,
//! reset a password. Disabling or resetting ends the account's sessions.

use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::admin_session::AdminSession;
use crate::db::models::audit::{AuditAction, AuditEntry};
use crate::db::models::{AdminUser, AdminUserId, Role, SiteId};
use crate::db::DbError;
use crate::identity::password;
use crate::input::{check_password, DisplayName, Email};

/// GET /admin/accounts
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_owner()?;
    let (users, all_sites) = admin
        .chat
        .db
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

fn site_ids(req: &Request) -> Result<Vec<SiteId>> {
    req.fields("sites")
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
    check_password(&password).map_err(|e| AdminError::BadRequest(format!("The {e}.")))?;
    admin
        .chat
        .accounts
        .budget()
        .action(req.ip)
        .map_err(AdminError::spent)?;
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AdminError::Internal(format!("hashing: {e}")))?
        .map_err(|e| AdminError::Internal(format!("hashing: {e}")))
}

fn audit(
    actor: AdminUserId,
    target: AdminUserId,
    action: AuditAction,
    details: String,
) -> AuditEntry<'static> {
    AuditEntry {
        actor: Some(actor),
        site: None,
        action,
        target_type: "admin_user",
        target_id: target.to_string(),
        details,
    }
}

/// POST /admin/accounts
pub async fn create(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_owner()?;
    let email = Email::parse(req.text("email").unwrap_or_default())
        .map_err(|e| AdminError::BadRequest(format!("{e}.")))?;
    let name = DisplayName::parse(req.text("name").unwrap_or_default(), "names")
        .map_err(|e| AdminError::BadRequest(e.sentence()))?
        .into_inner();
    let role = req
        .text("role")
        .and_then(|r| r.parse::<Role>().ok())
        .ok_or_else(|| AdminError::BadRequest("Choose a role.".into()))?;
    let sites = if role == Role::Moderator {
        site_ids(req)?
    } else {
        Vec::new()
    };
    if role == Role::Moderator && sites.is_empty() {
        return Err(AdminError::BadRequest(
            "A moderator needs at least one site.".into(),
        ));
    }
    let hash = hash(
        admin,
        req,
        req.field("password").unwrap_or_default().to_owned(),
    )
    .await?;
    let actor = auth.user.id;
    let shown = email.to_string();
    let name_taken = AdminError::BadRequest(
        "Another admin account has this name, or one that looks like it.".into(),
    );
    let created = admin
        .chat
        .db
        .run(move |conn| {
            if AdminUser::name_taken(conn, &name)? {
                return Ok(None);
            }
            let user = AdminUser::create(conn, email.as_str(), &name, &hash, role, &sites)?;
            audit(
                actor,
                user.id,
                AuditAction::UserCreate,
                format!("{} ({})", user.email, user.role),
            )
            .record(conn)?;
            Ok(Some(user))
        })
        .await;
    match created {
        Ok(Some(_)) => Ok(Reply::redirect("/admin/accounts")
            .flash(Flash::Ok(format!("Account {shown} created.")))),
        Ok(None) => Err(name_taken),
        Err(DbError::Conflict(_)) => Err(AdminError::BadRequest(format!(
            "An account with email {shown} already exists."
        ))),
        Err(e) => Err(e.into()),
    }
}

async fn load(admin: &Admin, req: &Request) -> Result<AdminUser> {
    let id: AdminUserId = req.id(1)?;
    admin
        .chat
        .db
        .run(move |conn| AdminUser::find(conn, id))
        .await?
        .ok_or(AdminError::NotFound)
}

/// POST /admin/accounts/{id}/sites
pub async fn set_sites(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_owner()?;
    let user = load(admin, req).await?;
    if user.role != Role::Moderator {
        return Err(AdminError::BadRequest(
            "Only moderators are limited to sites.".into(),
        ));
    }
    let ids = site_ids(req)?;
    if ids.is_empty() {
        return Err(AdminError::BadRequest(
            "A moderator needs at least one site.".into(),
        ));
    }
    let actor = auth.user.id;
    let email = user.email.clone();
    admin
        .chat
        .db
        .run(move |conn| {
            user.set_sites(conn, &ids)?;
            audit(
                actor,
                user.id,
                AuditAction::UserSites,
                format!("{}: sites {ids:?}", user.email),
            )
            .record(conn)
        })
        .await?;
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(format!("Sites of {email} updated."))))
}

/// POST /admin/accounts/{id}/disable and /enable
pub async fn set_disabled(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    disabled: bool,
) -> Result<Reply> {
    auth.require_owner()?;
    let user = load(admin, req).await?;
    if user.id == auth.user.id {
        return Err(AdminError::BadRequest(
            "You cannot disable your own account.".into(),
        ));
    }
    let actor = auth.user.id;
    let email = user.email.clone();
    admin
        .chat
        .db
        .run(move |conn| {
            user.set_disabled(conn, disabled)?;
            if disabled {
                AdminSession::delete_for_user(conn, user.id, None)?;
            }
            let action = if disabled {
                AuditAction::UserDisable
            } else {
                AuditAction::UserEnable
            };
            audit(actor, user.id, action, user.email.clone()).record(conn)
        })
        .await?;
    let text = if disabled {
        format!("{email} is disabled and logged out.")
    } else {
        format!("{email} is enabled.")
    };
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(text)))
}

/// POST /admin/accounts/{id}/password
pub async fn reset_password(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    auth.require_owner()?;
    let user = load(admin, req).await?;
    let hash = hash(
        admin,
        req,
        req.field("password").unwrap_or_default().to_owned(),
    )
    .await?;
    let actor = auth.user.id;
    let keep = (user.id == auth.user.id).then_some(auth.session_id);
    let email = user.email.clone();
    admin
        .chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| {
                user.replace_password(conn, &hash, keep)?;
                audit(
                    actor,
                    user.id,
                    AuditAction::UserSetPassword,
                    user.email.clone(),
                )
                .record(conn)
            })
        })
        .await?;
    Ok(Reply::redirect("/admin/accounts").flash(Flash::Ok(format!(
        "New password set for {email}; their sessions were ended."
    ))))
}
