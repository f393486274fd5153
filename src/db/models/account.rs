//! Visitor accounts (members): email, password hash, confirmation, and the
//! one-use tokens of confirmation and reset links.

use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::name_key::AccountKeys;
use super::{ParticipantId, SiteId};
use crate::db::schema::{account_tokens, accounts};
use crate::db::{now_ms, DbConn, DbError};
use crate::input::{random_token, NameKey};
use crate::with_backend;

/// A registered account on one site (seed 000's users).
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub site_id: SiteId,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub participant_id: Option<ParticipantId>,
    pub verified_at: Option<i64>,
    pub created_at: i64,
    /// Comparison keys of the name (see `name_key`).
    #[serde(skip)]
    pub name_key: Option<String>,
    #[serde(skip)]
    pub name_key_exact: Option<String>,
}

/// What a token in `account_tokens` is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// The link in the verification email.
    Verify,
    /// The link in the password-reset email.
    Reset,
    /// A login session of the widget.
    Session,
}

impl TokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Verify => "verify",
            TokenPurpose::Reset => "reset",
            TokenPurpose::Session => "session",
        }
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Unknown,
    Expired,
    Used,
}

/// Only a hash is stored: a database leak does not hand out working links or sessions.
fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Account {
    pub fn create(
        conn: &mut DbConn,
        site: SiteId,
        email: &str,
        name: &str,
        password_hash: &str,
    ) -> Result<Account, DbError> {
        let key = NameKey::of(name);
        with_backend!(conn, c => diesel::insert_into(accounts::table)
            .values((
                accounts::site_id.eq(site),
                accounts::email.eq(email),
                accounts::name.eq(name),
                AccountKeys::from(&key),
                accounts::password_hash.eq(password_hash),
                accounts::created_at.eq(now_ms()),
            ))
            .returning(Account::as_returning())
            .get_result(c))
    }

    /// Whether the site has any confirmed account, i.e. someone who can sign in.
    pub fn any_verified(conn: &mut DbConn, site: SiteId) -> Result<bool, DbError> {
        with_backend!(conn, c => diesel::select(diesel::dsl::exists(
            accounts::table
                .filter(accounts::site_id.eq(site))
                .filter(accounts::verified_at.is_not_null()),
        ))
        .get_result(c))
    }

    pub fn find_by_email(
        conn: &mut DbConn,
        site: SiteId,
        email: &str,
    ) -> Result<Option<Account>, DbError> {
        with_backend!(conn, c => accounts::table
            .filter(accounts::site_id.eq(site))
            .filter(accounts::email.eq(email))
            .select(Account::as_select())
            .first(c)
            .optional())
    }

    fn find(conn: &mut DbConn, id: i64) -> Result<Account, DbError> {
        with_backend!(conn, c => accounts::table.find(id).select(Account::as_select()).first(c))
    }

    pub fn is_verified(&self) -> bool {
        self.verified_at.is_some()
    }

    pub fn mark_verified(&mut self, conn: &mut DbConn) -> Result<(), DbError> {
        let now = now_ms();
        with_backend!(conn, c => diesel::update(accounts::table.find(self.id)).set(accounts::verified_at.eq(now)).execute(c))?;
        self.verified_at = Some(now);
        Ok(())
    }

    /// Records which participant the account chats as (once).
    pub fn link(
        conn: &mut DbConn,
        account: i64,
        participant: ParticipantId,
    ) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(accounts::table.find(account).filter(accounts::participant_id.is_null()))
            .set(accounts::participant_id.eq(participant))
            .execute(c))?;
        Ok(())
    }

    /// Creates a token for this account and returns it; only its hash is kept.
    pub fn issue_token(
        &self,
        conn: &mut DbConn,
        purpose: TokenPurpose,
        ttl_ms: i64,
    ) -> Result<String, DbError> {
        let token = random_token(40);
        let now = now_ms();
        with_backend!(conn, c => diesel::insert_into(account_tokens::table)
            .values((
                account_tokens::account_id.eq(self.id),
                account_tokens::purpose.eq(purpose.as_str()),
                account_tokens::token_hash.eq(hash(&token)),
                account_tokens::created_at.eq(now),
                account_tokens::expires_at.eq(now + ttl_ms),
            ))
            .execute(c))?;
        Ok(token)
    }

    /// When the newest token of this purpose was issued, for resend throttling.
    pub fn last_token_at(
        &self,
        conn: &mut DbConn,
        purpose: TokenPurpose,
    ) -> Result<Option<i64>, DbError> {
        with_backend!(conn, c => account_tokens::table
            .filter(account_tokens::account_id.eq(self.id))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .select(diesel::dsl::max(account_tokens::created_at))
            .first::<Option<i64>>(c))
    }

    /// The account behind a token. One-time tokens (verify, reset) are marked
    /// used; sessions stay valid until they expire or are revoked.
    pub fn redeem(
        conn: &mut DbConn,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Result<Account, TokenProblem>, DbError> {
        let row = with_backend!(conn, c => account_tokens::table
            .filter(account_tokens::token_hash.eq(hash(token)))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .select((account_tokens::id, account_tokens::account_id, account_tokens::expires_at, account_tokens::used_at))
            .first::<(i64, i64, i64, Option<i64>)>(c)
            .optional())?;
        let Some((id, account, expires_at, used_at)) = row else {
            return Ok(Err(TokenProblem::Unknown));
        };
        if used_at.is_some() {
            return Ok(Err(TokenProblem::Used));
        }
        if expires_at <= now_ms() {
            return Ok(Err(TokenProblem::Expired));
        }
        if purpose != TokenPurpose::Session {
            // Conditional update: of two concurrent redemptions only one wins.
            let claimed = with_backend!(conn, c => diesel::update(
                account_tokens::table.find(id).filter(account_tokens::used_at.is_null()),
            )
            .set(account_tokens::used_at.eq(now_ms()))
            .execute(c))?;
            if claimed == 0 {
                return Ok(Err(TokenProblem::Used));
            }
        }
        Ok(Ok(Self::find(conn, account)?))
    }

    /// The site a token belongs to if the token is usable, without using it up.
    pub fn peek_token(
        conn: &mut DbConn,
        purpose: TokenPurpose,
        token: &str,
    ) -> Result<Result<super::Site, TokenProblem>, DbError> {
        let row = with_backend!(conn, c => account_tokens::table
            .inner_join(accounts::table)
            .filter(account_tokens::token_hash.eq(hash(token)))
            .filter(account_tokens::purpose.eq(purpose.as_str()))
            .select((accounts::site_id, account_tokens::expires_at, account_tokens::used_at))
            .first::<(SiteId, i64, Option<i64>)>(c)
            .optional())?;
        Ok(match row {
            None => Err(TokenProblem::Unknown),
            Some((_, _, Some(_))) => Err(TokenProblem::Used),
            Some((_, expires, None)) if expires <= now_ms() => Err(TokenProblem::Expired),
            Some((site, _, None)) => Ok(super::Site::find(conn, site)?),
        })
    }

    /// Ends a login session.
    pub fn revoke_session(conn: &mut DbConn, token: &str) -> Result<bool, DbError> {
        let revoked = with_backend!(conn, c => diesel::update(
            account_tokens::table
                .filter(account_tokens::token_hash.eq(hash(token)))
                .filter(account_tokens::purpose.eq(TokenPurpose::Session.as_str()))
                .filter(account_tokens::used_at.is_null()),
        )
        .set(account_tokens::used_at.eq(now_ms()))
        .execute(c))?;
        Ok(revoked > 0)
    }

    /// Sets a new password hash; every credential issued under the old one
    /// goes: all sessions end and every unused link (confirmation, reset) stops
    /// working. Reaching here through an emailed link proves the mailbox, so
    /// the address counts as confirmed. Run inside a write transaction.
    pub fn replace_password(&mut self, conn: &mut DbConn, hash: &str) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(accounts::table.find(self.id)).set(accounts::password_hash.eq(hash)).execute(c))?;
        with_backend!(conn, c => diesel::update(
            account_tokens::table
                .filter(account_tokens::account_id.eq(self.id))
                .filter(account_tokens::used_at.is_null()),
        )
        .set(account_tokens::used_at.eq(now_ms()))
        .execute(c))?;
        if !self.is_verified() {
            self.mark_verified(conn)?;
        }
        Ok(())
    }
}
