//! Admin users: the people who sign in to the panel, their role (owner,
//! admin, moderator) and the sites a moderator is assigned to.

use diesel::prelude::*;
use serde::Serialize;

use super::{AdminUserId, SiteId};
use crate::db::schema::{admin_user_sites, admin_users, sites};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// An account of the admin panel (not a chat participant).
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = admin_users)]
pub struct AdminUser {
    pub id: AdminUserId,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: i64,
    pub last_login_at: Option<i64>,
    /// Mail me when a message on my sites is reported.
    pub notify_reports: bool,
}

crate::text_enum! {
    /// What an admin account may do: owners manage everything including accounts,
    /// admins all sites, moderators only their assigned sites.
    pub enum Role as "role" {
        Owner = "owner",
        Admin = "admin",
        Moderator = "moderator",
    }
}

impl AdminUser {
    /// Inserts an account with its sites. Run it inside a write transaction
    /// when there are sites, so that the account and its sites land together.
    pub fn create(
        conn: &mut DbConn,
        email: &str,
        name: &str,
        password_hash: &str,
        role: Role,
        site_ids: &[SiteId],
    ) -> Result<AdminUser, DbError> {
        let now = now_ms();
        let user: AdminUser = with_backend!(conn, c => diesel::insert_into(admin_users::table)
            .values((
                admin_users::email.eq(email),
                admin_users::name.eq(name),
                admin_users::password_hash.eq(password_hash),
                admin_users::role.eq(role),
                admin_users::created_at.eq(now),
            ))
            .returning(AdminUser::as_returning())
            .get_result(c))?;
        user.add_sites(conn, site_ids)?;
        Ok(user)
    }

    fn add_sites(&self, conn: &mut DbConn, site_ids: &[SiteId]) -> Result<(), DbError> {
        for site in site_ids {
            with_backend!(conn, c => diesel::insert_into(admin_user_sites::table)
                .values((admin_user_sites::admin_user_id.eq(self.id), admin_user_sites::site_id.eq(site)))
                .execute(c))?;
        }
        Ok(())
    }

    pub fn find_by_email(conn: &mut DbConn, email: &str) -> Result<Option<AdminUser>, DbError> {
        with_backend!(conn, c => admin_users::table
            .filter(admin_users::email.eq(email))
            .select(AdminUser::as_select())
            .first(c)
            .optional())
    }

    pub fn list(conn: &mut DbConn) -> Result<Vec<AdminUser>, DbError> {
        with_backend!(conn, c => admin_users::table.select(AdminUser::as_select()).order(admin_users::id).load(c))
    }

    pub fn count(conn: &mut DbConn) -> Result<i64, DbError> {
        with_backend!(conn, c => admin_users::table.count().get_result(c))
    }

    /// Public keys of the sites a moderator is assigned to.
    pub fn site_keys(&self, conn: &mut DbConn) -> Result<Vec<String>, DbError> {
        with_backend!(conn, c => admin_user_sites::table
            .inner_join(sites::table)
            .filter(admin_user_sites::admin_user_id.eq(self.id))
            .select(sites::public_key)
            .order(sites::id)
            .load(c))
    }

    /// Sets a new password hash; every other credential of the account goes
    /// with the old password: its sessions (but `keep`, the one that made the
    /// change) end and its unused reset links stop working. Every surface (CLI,
    /// panel, emailed link) changes passwords through here. Run it inside a
    /// write transaction so that the change and the revocations land together.
    pub fn replace_password(
        &self,
        conn: &mut DbConn,
        hash: &str,
        keep: Option<i64>,
    ) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::update(admin_users::table.find(self.id))
            .set(admin_users::password_hash.eq(hash))
            .execute(c))?;
        super::admin_password_reset::AdminPasswordReset::void_for_user(conn, self.id)?;
        super::admin_session::AdminSession::delete_for_user(conn, self.id, keep)
    }

    /// Whether an account already has this name or one that looks like it.
    /// Admin accounts are few: their names are compared in memory.
    pub fn name_taken(conn: &mut DbConn, name: &str) -> Result<bool, DbError> {
        let key = crate::input::NameKey::of(name);
        let names: Vec<String> =
            with_backend!(conn, c => admin_users::table.select(admin_users::name).load(c))?;
        Ok(names
            .iter()
            .any(|n| crate::input::NameKey::of(n).looks_like(&key)))
    }

    pub fn find(conn: &mut DbConn, id: AdminUserId) -> Result<Option<AdminUser>, DbError> {
        with_backend!(conn, c => admin_users::table.find(id).select(AdminUser::as_select()).first(c).optional())
    }

    /// Ids of the sites a moderator is assigned to.
    pub fn site_ids(&self, conn: &mut DbConn) -> Result<Vec<SiteId>, DbError> {
        with_backend!(conn, c => admin_user_sites::table
            .filter(admin_user_sites::admin_user_id.eq(self.id))
            .select(admin_user_sites::site_id)
            .order(admin_user_sites::site_id)
            .load(c))
    }

    /// Replaces the moderator's site assignments. Run it inside a write transaction.
    pub fn set_sites(&self, conn: &mut DbConn, site_ids: &[SiteId]) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::delete(
            admin_user_sites::table.filter(admin_user_sites::admin_user_id.eq(self.id)),
        )
        .execute(c))?;
        self.add_sites(conn, site_ids)
    }

    pub fn record_login(&self, conn: &mut DbConn) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(admin_users::table.find(self.id))
            .set(admin_users::last_login_at.eq(Some(now_ms())))
            .execute(c))?;
        Ok(())
    }

    /// Whether an enabled owner other than `except` exists: the panel must
    /// keep someone who can manage accounts.
    pub fn other_owner_exists(conn: &mut DbConn, except: AdminUserId) -> Result<bool, DbError> {
        with_backend!(conn, c => diesel::select(diesel::dsl::exists(
            admin_users::table
                .filter(admin_users::role.eq(Role::Owner))
                .filter(admin_users::disabled.eq(false))
                .filter(admin_users::id.ne(except)),
        ))
        .get_result::<bool>(c))
    }

    /// Deletes the account; its sessions, reset links and site assignments go
    /// with it (the schema cascades), and what it made or did keeps no link
    /// to it (set to null).
    pub fn delete(&self, conn: &mut DbConn) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::delete(admin_users::table.find(self.id)).execute(c))?;
        Ok(())
    }

    pub fn set_disabled(&self, conn: &mut DbConn, disabled: bool) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(admin_users::table.find(self.id))
            .set(admin_users::disabled.eq(disabled))
            .execute(c))?;
        Ok(())
    }

    pub fn set_notify_reports(&self, conn: &mut DbConn, on: bool) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(admin_users::table.find(self.id))
            .set(admin_users::notify_reports.eq(on))
            .execute(c))?;
        Ok(())
    }

    /// Enabled accounts that moderate `site` (owners and admins moderate every
    /// site) and have not turned report mails off.
    pub fn report_recipients(conn: &mut DbConn, site: SiteId) -> Result<Vec<AdminUser>, DbError> {
        let assigned = admin_user_sites::table
            .filter(admin_user_sites::site_id.eq(site))
            .select(admin_user_sites::admin_user_id);
        with_backend!(conn, c => admin_users::table
            .filter(admin_users::disabled.eq(false))
            .filter(admin_users::notify_reports.eq(true))
            .filter(
                admin_users::role
                    .eq_any([Role::Owner, Role::Admin])
                    .or(admin_users::id.eq_any(assigned)),
            )
            .select(AdminUser::as_select())
            .order(admin_users::id)
            .load(c))
    }
}
