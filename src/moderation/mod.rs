//! Moderation: the actions of the admin panel with their live effects. Each
//! action writes the database (with an audit line), then tells the chat: bans
//! close connections, deletions reach open widgets, setting changes invalidate
//! the send path's cache. Knows nothing of HTTP; the admin layer checks who may
//! do what before calling in.

pub mod bans;
pub mod events;
pub mod messages;
pub mod mutes;
pub mod remote;
pub mod rooms;
pub mod word_filters;

use thiserror::Error;

use crate::db::models::audit::{AuditAction, AuditEntry};
use crate::db::models::SiteId;
use crate::db::{DbConn, DbError};

#[derive(Debug, Error)]
pub enum ModerationError {
    /// The target does not exist (or is already gone).
    #[error("not found")]
    NotFound,
    /// The request makes no sense; the text is shown to the moderator.
    #[error("{0}")]
    Invalid(String),
    /// Creating a room beyond the site's quota of rooms in use.
    #[error("This site has reached its room limit.")]
    TooManyRooms,
    /// Creating a room that exists (someone may have made it a moment ago).
    #[error("Room {0} already exists.")]
    RoomExists(String),
    #[error(transparent)]
    Db(DbError),
}

crate::from_db_error!(ModerationError);

pub type Result<T> = std::result::Result<T, ModerationError>;

pub use crate::db::models::audit::Actor;

fn audit(
    conn: &mut DbConn,
    actor: Actor,
    site: Option<SiteId>,
    action: AuditAction,
    target: (&str, String),
    details: String,
) -> std::result::Result<(), DbError> {
    AuditEntry {
        actor,
        site,
        action,
        target_type: target.0,
        target_id: target.1,
        details,
    }
    .record(conn)
}
