//! One-time "forgot password" links of admin accounts.

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use super::{AdminUser, AdminUserId, TokenProblem};
use crate::db::schema::admin_password_resets as resets;
use crate::db::{now_ms, DbConn, DbError};
use crate::input::random_token;
use crate::with_backend;

/// Only a hash is stored: a database leak does not hand out working links.
fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub struct AdminPasswordReset;

impl AdminPasswordReset {
    /// Creates a link token for `user`, valid for `ttl_ms`; returns the token.
    pub fn issue(conn: &mut DbConn, user: AdminUserId, ttl_ms: i64) -> Result<String, DbError> {
        let token = random_token(40);
        let now = now_ms();
        with_backend!(conn, c => diesel::insert_into(resets::table)
            .values((
                resets::admin_user_id.eq(user),
                resets::token_hash.eq(hash(&token)),
                resets::created_at.eq(now),
                resets::expires_at.eq(now + ttl_ms),
            ))
            .execute(c))?;
        Ok(token)
    }

    /// The account a usable token belongs to, without using the token up.
    pub fn peek(
        conn: &mut DbConn,
        token: &str,
    ) -> Result<Result<AdminUser, TokenProblem>, DbError> {
        let row = with_backend!(conn, c => resets::table
            .filter(resets::token_hash.eq(hash(token)))
            .select((resets::admin_user_id, resets::expires_at, resets::used_at))
            .first::<(AdminUserId, i64, Option<i64>)>(c)
            .optional())?;
        let user = match row {
            None => return Ok(Err(TokenProblem::Unknown)),
            Some((_, _, Some(_))) => return Ok(Err(TokenProblem::Used)),
            Some((_, expires, None)) if expires <= now_ms() => {
                return Ok(Err(TokenProblem::Expired))
            }
            Some((user, _, None)) => AdminUser::find(conn, user)?,
        };
        Ok(user.filter(|u| !u.disabled).ok_or(TokenProblem::Unknown))
    }

    /// Uses the token up and, with it, every other open link of the same
    /// account. Of two concurrent redemptions only one wins.
    pub fn redeem(
        conn: &mut DbConn,
        token: &str,
    ) -> Result<Result<AdminUser, TokenProblem>, DbError> {
        let user = match Self::peek(conn, token)? {
            Ok(user) => user,
            Err(problem) => return Ok(Err(problem)),
        };
        let now = now_ms();
        let claimed = with_backend!(conn, c => diesel::update(
            resets::table
                .filter(resets::token_hash.eq(hash(token)))
                .filter(resets::used_at.is_null()),
        )
        .set(resets::used_at.eq(now))
        .execute(c))?;
        if claimed == 0 {
            return Ok(Err(TokenProblem::Used));
        }
        with_backend!(conn, c => diesel::update(
            resets::table
                .filter(resets::admin_user_id.eq(user.id))
                .filter(resets::used_at.is_null()),
        )
        .set(resets::used_at.eq(now))
        .execute(c))?;
        Ok(Ok(user))
    }

    /// Voids every unused link of `user` (its password changed some other way).
    pub fn void_for_user(conn: &mut DbConn, user: AdminUserId) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::update(
            resets::table
                .filter(resets::admin_user_id.eq(user))
                .filter(resets::used_at.is_null()),
        )
        .set(resets::used_at.eq(now_ms()))
        .execute(c))
    }

    /// When the newest link of `user` was issued, to space out requests.
    pub fn last_issued_at(conn: &mut DbConn, user: AdminUserId) -> Result<Option<i64>, DbError> {
        with_backend!(conn, c => resets::table
            .filter(resets::admin_user_id.eq(user))
            .select(diesel::dsl::max(resets::created_at))
            .first::<Option<i64>>(c))
    }
}
