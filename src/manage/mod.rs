//! Managing sites and admin accounts: the one place that changes them, for the
//! admin panel and the command line alike (modelled on [`crate::moderation`]).
//! Each change checks its rules, then writes the change and its audit entry in
//! one transaction; the surfaces parse their input, check who may act, and say
//! what happened. An audit entry reads the same whichever surface made the
//! change: one [`AuditAction`] name, a site named by its public key, an admin
//! account by its id.

pub mod admin_accounts;
pub mod api_keys;
pub mod sites;

use thiserror::Error;

use crate::db::models::audit::{AuditAction, AuditEntry};
use crate::db::models::{AdminUser, ApiKey, Site};
use crate::db::{DbConn, DbError};

#[derive(Debug, Error)]
pub enum ManageError {
    /// The site or account does not exist.
    #[error("not found")]
    NotFound,
    /// The change breaks a rule; the text, a sentence, is shown as it is.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(DbError),
}

crate::from_db_error!(ManageError);

pub type Result<T> = std::result::Result<T, ManageError>;

pub use crate::db::models::audit::Actor;

fn invalid(text: impl Into<String>) -> ManageError {
    ManageError::Invalid(text.into())
}

/// What an audit entry is about.
enum Target<'a> {
    Site(&'a Site),
    AdminUser(&'a AdminUser),
    /// Named by its prefix, on its site.
    ApiKey(&'a ApiKey),
}

fn audit(
    conn: &mut DbConn,
    actor: Actor,
    action: AuditAction,
    target: Target<'_>,
    details: String,
) -> std::result::Result<(), DbError> {
    let (site, target_type, target_id) = match target {
        Target::Site(site) => (Some(site.id), "site", site.public_key.clone()),
        Target::AdminUser(user) => (None, "admin_user", user.id.to_string()),
        Target::ApiKey(key) => (Some(key.site_id), "api_key", key.prefix.clone()),
    };
    AuditEntry {
        actor,
        site,
        action,
        target_type,
        target_id,
        details,
    }
    .record(conn)
}
