//! The audit log: who changed what in the panel or from the command line, with
//! a typed action, its target and the actor's address; filtered and paged.

use diesel::prelude::*;
use serde::Serialize;

use super::{AdminUserId, ApiKey, ApiKeyId, SiteId};
use crate::db::schema::{admin_users, audit_log};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

crate::text_enum! {
    /// What an audit line records, by its stored name (`area.verb`, the area
    /// being what the entry's target is). Every surface writes the same name
    /// for the same change; a rename needs a migration of the stored rows (as
    /// `2026-11-30-200000_audit_names` did) on both backends.
    pub enum AuditAction as "audit action" {
        AdminLogin = "admin.login",
        AdminPassword = "admin.password",
        AdminPasswordReset = "admin.password_reset",
        ApiKeyCreate = "api_key.create",
        ApiKeyRevoke = "api_key.revoke",
        BanCreate = "ban.create",
        BanRevoke = "ban.revoke",
        FilterAdd = "filter.add",
        FilterRemove = "filter.remove",
        HeldApprove = "held.approve",
        HeldReject = "held.reject",
        MessageDelete = "message.delete",
        MessagesExport = "messages.export",
        ParticipantDeleteMessages = "participant.delete_messages",
        ParticipantMute = "participant.mute",
        ParticipantUnmute = "participant.unmute",
        ReportDismiss = "report.dismiss",
        RoomCreate = "room.create",
        RoomDelete = "room.delete",
        RoomPrune = "room.prune",
        RoomUpdate = "room.update",
        SiteCreate = "site.create",
        SiteDelete = "site.delete",
        SiteDisable = "site.disable",
        SiteEnable = "site.enable",
        SiteOriginAdd = "site.origin_add",
        SiteOriginRemove = "site.origin_remove",
        SiteRotateSecret = "site.rotate_secret",
        SiteUpdate = "site.update",
        UserCreate = "user.create",
        UserDelete = "user.delete",
        UserDisable = "user.disable",
        UserEnable = "user.enable",
        UserSetPassword = "user.set_password",
        UserSites = "user.sites",
        WebhookAdd = "webhook.add",
        WebhookDisable = "webhook.disable",
        WebhookEnable = "webhook.enable",
        WebhookRemove = "webhook.remove",
        WebhookResend = "webhook.resend",
        WebhookRotateSecret = "webhook.rotate_secret",
    }
}

/// Who makes a change, as the audit log names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// `chatctl` on the command line.
    CommandLine,
    /// An account of the admin panel.
    Admin(AdminUserId),
    /// A site's backend, through the server API with this key.
    ApiKey(ApiKeyId),
    /// The server on its own (a webhook endpoint disabled after failing for days).
    Server,
}

impl Actor {
    /// The admin account, for the columns that record one (`created_by`...).
    pub fn admin(self) -> Option<AdminUserId> {
        match self {
            Actor::Admin(id) => Some(id),
            Actor::CommandLine | Actor::ApiKey(_) | Actor::Server => None,
        }
    }
}

/// One line of the audit log: who did what to which target.
pub struct AuditEntry<'a> {
    pub actor: Actor,
    pub site: Option<SiteId>,
    pub action: AuditAction,
    pub target_type: &'a str,
    pub target_id: String,
    pub details: String,
}

impl AuditEntry<'_> {
    pub fn record(self, conn: &mut DbConn) -> Result<(), DbError> {
        // A key is named as it is now: renamed or revoked later, the line stays true.
        let label = match self.actor {
            Actor::ApiKey(id) => ApiKey::find(conn, id)?.map(|key| key.label()),
            Actor::Server => Some("server".to_owned()),
            Actor::CommandLine | Actor::Admin(_) => None,
        };
        with_backend!(conn, c => diesel::insert_into(audit_log::table)
            .values((
                audit_log::admin_user_id.eq(self.actor.admin()),
                audit_log::actor_label.eq(&label),
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

/// A stored audit line with the name of the account that acted.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: i64,
    pub admin_user_id: Option<AdminUserId>,
    pub site_id: Option<SiteId>,
    pub action: AuditAction,
    pub target_type: String,
    pub target_id: String,
    pub details: String,
    pub created_at: i64,
    /// Who acted when it was not an admin account: an API key's label.
    pub actor_label: Option<String>,
}

impl AuditRow {
    /// Who acted, given the acting account's email when there is one.
    pub fn actor_name(&self, email: Option<&str>) -> String {
        email
            .or(self.actor_label.as_deref())
            .unwrap_or("command line")
            .to_owned()
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Sites the viewer may see; `None` means all (including entries without a site).
    pub visible_sites: Option<Vec<SiteId>>,
    pub site: Option<SiteId>,
    pub actor: Option<AdminUserId>,
    /// Action prefix, e.g. `ban` or `ban.create`.
    pub action: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Keyset: entries with a smaller id.
    pub before_id: Option<i64>,
}

/// Names `user` in the entries it made, before the account goes (their link
/// to it is then set to null): the log still says who acted.
pub fn name_actor(conn: &mut DbConn, user: AdminUserId, label: &str) -> Result<usize, DbError> {
    with_backend!(conn, c => diesel::update(
        audit_log::table
            .filter(audit_log::admin_user_id.eq(user))
            .filter(audit_log::actor_label.is_null()),
    )
    .set(audit_log::actor_label.eq(label))
    .execute(c))
}

/// Newest first, with the acting account's email (`None` for the command line).
pub fn list(
    conn: &mut DbConn,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<(AuditRow, Option<String>)>, DbError> {
    with_backend!(conn, c => {
        let mut q = audit_log::table
            .left_join(admin_users::table)
            .select((AuditRow::as_select(), admin_users::email.nullable()))
            .into_boxed();
        if let Some(sites) = &filter.visible_sites {
            q = q.filter(audit_log::site_id.eq_any(sites.clone()));
        }
        if let Some(site) = filter.site {
            q = q.filter(audit_log::site_id.eq(site));
        }
        if let Some(actor) = filter.actor {
            q = q.filter(audit_log::admin_user_id.eq(actor));
        }
        if let Some(action) = filter.action.as_deref().filter(|a| !a.is_empty()) {
            let prefix = format!("{}%", action.replace(['\\', '%'], "").replace('_', "\\_"));
            q = q.filter(audit_log::action.like(prefix).escape('\\'));
        }
        if let Some(from) = filter.from {
            q = q.filter(audit_log::created_at.ge(from));
        }
        if let Some(to) = filter.to {
            q = q.filter(audit_log::created_at.lt(to));
        }
        if let Some(before) = filter.before_id {
            q = q.filter(audit_log::id.lt(before));
        }
        q.order(audit_log::id.desc()).limit(limit).load(c)
    })
}

/// The accounts that appear as actors in the entries of these sites (`None`:
/// every account), by email: what the log's "who" filter may offer.
pub fn actors(
    conn: &mut DbConn,
    visible_sites: Option<&[SiteId]>,
) -> Result<Vec<(AdminUserId, String)>, DbError> {
    with_backend!(conn, c => {
        let mut q = admin_users::table
            .select((admin_users::id, admin_users::email))
            .order(admin_users::email.asc())
            .into_boxed();
        if let Some(sites) = visible_sites {
            q = q.filter(
                admin_users::id.nullable().eq_any(
                    audit_log::table
                        .filter(audit_log::site_id.eq_any(sites.to_vec()))
                        .select(audit_log::admin_user_id),
                ),
            );
        }
        q.load(c)
    })
}
