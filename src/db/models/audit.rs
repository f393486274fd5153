use diesel::prelude::*;

use super::{AdminUserId, SiteId};
use crate::db::schema::audit_log;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// One line of the audit log: who did what to which target.
pub struct AuditEntry<'a> {
    /// `None` when the action came from the command line.
    pub actor: Option<AdminUserId>,
    pub site: Option<SiteId>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub details: String,
}

impl AuditEntry<'_> {
    pub fn record(self, conn: &mut DbConn) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::insert_into(audit_log::table)
            .values((
                audit_log::admin_user_id.eq(self.actor),
                audit_log::site_id.eq(self.site),
                audit_log::action.eq(self.action),
                audit_log::target_type.eq(self.target_type),
                audit_log::target_id.eq(&self.target_id),
                audit_log::details.eq(&self.details),
                audit_log::created_at.eq(now_ms()),
            ))
            .execute(c))?;
        Ok(())
    }
}
