//! Admin panel sessions: stored by the hash of their cookie token, with idle
//! and absolute expiry and the CSRF token of their forms.

use diesel::prelude::*;

use super::{AdminUser, AdminUserId};
use crate::db::schema::{admin_sessions, admin_users};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// A logged-in browser. The cookie holds a random token; only its SHA-256 is
/// stored here.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = admin_sessions)]
pub struct AdminSession {
    pub id: i64,
    pub token_hash: String,
    pub admin_user_id: AdminUserId,
    pub csrf_token: String,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
}

impl AdminSession {
    pub fn create(
        conn: &mut DbConn,
        user: AdminUserId,
        token_hash: &str,
        csrf_token: &str,
        ip: Option<&str>,
    ) -> Result<AdminSession, DbError> {
        let now = now_ms();
        with_backend!(conn, c => diesel::insert_into(admin_sessions::table)
            .values((
                admin_sessions::token_hash.eq(token_hash),
                admin_sessions::admin_user_id.eq(user),
                admin_sessions::csrf_token.eq(csrf_token),
                admin_sessions::ip.eq(ip),
                admin_sessions::created_at.eq(now),
                admin_sessions::last_seen_at.eq(now),
            ))
            .returning(AdminSession::as_returning())
            .get_result(c))
    }

    /// The session and its account, whatever their state; the caller checks expiry.
    pub fn find_by_hash(
        conn: &mut DbConn,
        token_hash: &str,
    ) -> Result<Option<(AdminSession, AdminUser)>, DbError> {
        with_backend!(conn, c => admin_sessions::table
            .inner_join(admin_users::table)
            .filter(admin_sessions::token_hash.eq(token_hash))
            .select((AdminSession::as_select(), AdminUser::as_select()))
            .first(c)
            .optional())
    }

    pub fn touch(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(admin_sessions::table.find(id))
            .set(admin_sessions::last_seen_at.eq(now_ms()))
            .execute(c))?;
        Ok(())
    }

    pub fn delete(conn: &mut DbConn, id: i64) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::delete(admin_sessions::table.find(id)).execute(c))?;
        Ok(())
    }

    /// Ends every session of an account except `keep` (after a password change or a disable).
    pub fn delete_for_user(
        conn: &mut DbConn,
        user: AdminUserId,
        keep: Option<i64>,
    ) -> Result<usize, DbError> {
        let keep = keep.unwrap_or(-1);
        with_backend!(conn, c => diesel::delete(
            admin_sessions::table
                .filter(admin_sessions::admin_user_id.eq(user))
                .filter(admin_sessions::id.ne(keep)),
        )
        .execute(c))
    }

    /// Removes sessions idle since before `idle_before` or created before `created_before`.
    pub fn purge_expired(
        conn: &mut DbConn,
        idle_before: i64,
        created_before: i64,
    ) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::delete(
            admin_sessions::table.filter(
                admin_sessions::last_seen_at
                    .lt(idle_before)
                    .or(admin_sessions::created_at.lt(created_before)),
            ),
        )
        .execute(c))
    }
}
