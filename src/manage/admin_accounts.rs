//! Admin accounts: creation, a moderator's sites, disabling, passwords,
//! deletion. Disabling an account or setting its password ends its open panel
//! sessions, whichever surface does it. Audit entries name the account by its
//! id; a deleted account's own entries keep its email as their actor.

use super::{audit, invalid, Actor, ManageError, Result, Target};
use crate::db::models::admin_password_reset::AdminPasswordReset;
use crate::db::models::admin_session::AdminSession;
use crate::db::models::audit::AuditAction;
use crate::db::models::{AdminUser, Role, Site, SiteId};
use crate::db::{DbConn, DbError};
use crate::input::{check_password, DisplayName, Email};

/// A new account, its rules checked (not yet whether it is free: see [`create`]).
#[derive(Debug, Clone)]
pub struct NewAdmin {
    pub email: Email,
    pub name: String,
    pub role: Role,
    /// The sites a moderator moderates; empty for owners and admins.
    pub sites: Vec<SiteId>,
}

impl NewAdmin {
    pub fn parse(email: &str, name: &str, role: Role, sites: Vec<SiteId>) -> Result<NewAdmin> {
        let email = Email::parse(email).map_err(|e| invalid(e.sentence()))?;
        let name = DisplayName::parse(name, "names")
            .map_err(|e| invalid(e.sentence()))?
            .into_inner();
        check_sites(role, &sites)?;
        Ok(NewAdmin {
            email,
            name,
            role,
            sites,
        })
    }
}

/// Moderators moderate one site or more; owners and admins see every site.
fn check_sites(role: Role, sites: &[SiteId]) -> Result<()> {
    match (role, sites.is_empty()) {
        (Role::Moderator, true) => Err(invalid("A moderator needs at least one site.")),
        (Role::Owner | Role::Admin, false) => Err(invalid(
            "Only moderators are limited to sites: owners and admins see every site.",
        )),
        _ => Ok(()),
    }
}

/// The password rule, checked before the (slow) hashing.
pub fn check_new_password(password: &str) -> Result<()> {
    check_password(password).map_err(|e| invalid(e.sentence()))
}

/// Public keys of `sites`, for audit lines; an unknown id is refused.
fn site_keys(conn: &mut DbConn, sites: &[SiteId]) -> Result<Vec<String>> {
    sites
        .iter()
        .map(|&id| match Site::find(conn, id) {
            Ok(site) => Ok(site.public_key),
            Err(DbError::NotFound) => Err(invalid(format!("There is no site {id}."))),
            Err(e) => Err(e.into()),
        })
        .collect()
}

/// Refuses an email already in use or a name that looks like another
/// account's. [`create`] checks again; callers may check first to spare a
/// password prompt or hash.
pub fn check_available(conn: &mut DbConn, new: &NewAdmin) -> Result<()> {
    if AdminUser::find_by_email(conn, new.email.as_str())?.is_some() {
        return Err(email_taken(&new.email));
    }
    if AdminUser::name_taken(conn, &new.name)? {
        return Err(invalid(
            "Another admin account has this name, or one that looks like it.",
        ));
    }
    Ok(())
}

fn email_taken(email: &Email) -> ManageError {
    invalid(format!(
        "An admin account with email {email} already exists."
    ))
}

/// Creates an account with a password hash made from a password that passed
/// [`check_new_password`].
pub fn create(conn: &mut DbConn, actor: Actor, new: &NewAdmin, hash: &str) -> Result<AdminUser> {
    conn.write_transaction(|conn| {
        check_available(conn, new)?;
        let keys = site_keys(conn, &new.sites)?;
        let created = AdminUser::create(
            conn,
            new.email.as_str(),
            &new.name,
            hash,
            new.role,
            &new.sites,
        );
        let user = match created {
            Err(DbError::Conflict(_)) => return Err(email_taken(&new.email)),
            other => other?,
        };
        let mut details = format!("{} ({})", user.email, user.role);
        if !keys.is_empty() {
            details.push_str(&format!("; sites: {}", keys.join(", ")));
        }
        audit(
            conn,
            actor,
            AuditAction::UserCreate,
            Target::AdminUser(&user),
            details,
        )?;
        Ok(user)
    })
}

/// Replaces the sites a moderator moderates.
pub fn set_sites(
    conn: &mut DbConn,
    actor: Actor,
    user: &AdminUser,
    sites: &[SiteId],
) -> Result<()> {
    if user.role != Role::Moderator {
        return Err(invalid("Only moderators are limited to sites."));
    }
    check_sites(user.role, sites)?;
    conn.write_transaction(|conn| {
        let keys = site_keys(conn, sites)?;
        user.set_sites(conn, sites)?;
        let details = format!("{}; sites: {}", user.email, keys.join(", "));
        audit(
            conn,
            actor,
            AuditAction::UserSites,
            Target::AdminUser(user),
            details,
        )?;
        Ok(())
    })
}

/// Disables an account (ending its open panel sessions and voiding its
/// unused reset links, which would work again once it is enabled) or enables
/// it again. Returns how many sessions ended. Nobody disables their own account.
pub fn set_disabled(
    conn: &mut DbConn,
    actor: Actor,
    user: &AdminUser,
    disabled: bool,
) -> Result<usize> {
    if disabled && actor == Actor::Admin(user.id) {
        return Err(invalid("You cannot disable your own account."));
    }
    let action = if disabled {
        AuditAction::UserDisable
    } else {
        AuditAction::UserEnable
    };
    conn.write_transaction(|conn| {
        user.set_disabled(conn, disabled)?;
        let ended = if disabled {
            AdminPasswordReset::void_for_user(conn, user.id)?;
            AdminSession::delete_for_user(conn, user.id, None)?
        } else {
            0
        };
        audit(
            conn,
            actor,
            action,
            Target::AdminUser(user),
            user.email.clone(),
        )?;
        Ok(ended)
    })
}

/// Sets a new password hash: the account's other sessions (all but `keep`,
/// the one making the change) end and its unused reset links stop working.
/// Returns how many sessions ended.
pub fn set_password(
    conn: &mut DbConn,
    actor: Actor,
    user: &AdminUser,
    hash: &str,
    keep: Option<i64>,
) -> Result<usize> {
    conn.write_transaction(|conn| {
        let ended = user.replace_password(conn, hash, keep)?;
        let details = format!("{}; sessions and reset links ended", user.email);
        audit(
            conn,
            actor,
            AuditAction::UserSetPassword,
            Target::AdminUser(user),
            details,
        )?;
        Ok(ended)
    })
}

/// Deletes an account for good, once `confirm` is its name as typed by the
/// operator; returns how many of its sessions ended. Nobody deletes their own
/// account, and the last enabled owner stays (someone must manage accounts).
/// The entries it made in the audit log keep its email as their actor.
pub fn delete(conn: &mut DbConn, actor: Actor, user: &AdminUser, confirm: &str) -> Result<usize> {
    if actor == Actor::Admin(user.id) {
        return Err(invalid("You cannot delete your own account."));
    }
    if confirm.trim() != user.name {
        return Err(invalid(format!(
            "Type the account's name, {:?}, to confirm the deletion.",
            user.name
        )));
    }
    conn.write_transaction(|conn| {
        if user.role == Role::Owner && !AdminUser::other_owner_exists(conn, user.id)? {
            return Err(invalid(
                "This is the last enabled owner account: make another owner first, \
                 or nobody could manage accounts.",
            ));
        }
        let ended = AdminSession::delete_for_user(conn, user.id, None)?;
        crate::db::models::audit::name_actor(
            conn,
            user.id,
            &format!("{} (deleted account)", user.email),
        )?;
        audit(
            conn,
            actor,
            AuditAction::UserDelete,
            Target::AdminUser(user),
            format!("{} ({}, {})", user.email, user.name, user.role),
        )?;
        user.delete(conn)?;
        Ok(ended)
    })
}
