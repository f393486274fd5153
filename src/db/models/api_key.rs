//! API keys: a site's credentials for the server API. The row keeps the
//! key's SHA-256 (the key is random and long, so a fast hash is enough and a
//! lookup is one indexed read), its prefix to recognise it, and its scopes.

use diesel::prelude::*;
use serde::Serialize;

use super::{AdminUserId, ApiKeyId, SiteId};
use crate::db::schema::api_keys;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub site_id: SiteId,
    pub name: String,
    /// The key's first characters, shown in lists (`ck_` and 8 more).
    pub prefix: String,
    #[serde(skip)]
    pub key_hash: String,
    pub scope_read: bool,
    pub scope_publish: bool,
    pub scope_moderate: bool,
    pub created_by: Option<AdminUserId>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key about to be stored.
pub struct NewApiKey<'a> {
    pub site: SiteId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    /// read, publish, moderate.
    pub scopes: [bool; 3],
    pub created_by: Option<AdminUserId>,
}

impl ApiKey {
    /// Stores a new key; `None` when its prefix or hash is already taken (a
    /// random collision: draw another). DO NOTHING rather than a caught unique
    /// violation, which on PostgreSQL aborts the caller's transaction.
    pub fn create(conn: &mut DbConn, new: &NewApiKey<'_>) -> Result<Option<ApiKey>, DbError> {
        let [read, publish, moderate] = new.scopes;
        with_backend!(conn, c => diesel::insert_into(api_keys::table)
            .values((
                api_keys::site_id.eq(new.site),
                api_keys::name.eq(new.name),
                api_keys::prefix.eq(new.prefix),
                api_keys::key_hash.eq(new.key_hash),
                api_keys::scope_read.eq(read),
                api_keys::scope_publish.eq(publish),
                api_keys::scope_moderate.eq(moderate),
                api_keys::created_by.eq(new.created_by),
                api_keys::created_at.eq(now_ms()),
            ))
            .on_conflict_do_nothing()
            .returning(ApiKey::as_returning())
            .get_result(c)
            .optional())
    }

    /// The key with this hash, revoked or not.
    pub fn find_by_hash(conn: &mut DbConn, hash: &str) -> Result<Option<ApiKey>, DbError> {
        with_backend!(conn, c => api_keys::table
            .filter(api_keys::key_hash.eq(hash))
            .select(ApiKey::as_select())
            .first(c)
            .optional())
    }

    pub fn find(conn: &mut DbConn, id: ApiKeyId) -> Result<Option<ApiKey>, DbError> {
        with_backend!(conn, c => api_keys::table
            .find(id)
            .select(ApiKey::as_select())
            .first(c)
            .optional())
    }

    /// A site's key by its prefix.
    pub fn find_by_prefix(
        conn: &mut DbConn,
        site: SiteId,
        prefix: &str,
    ) -> Result<Option<ApiKey>, DbError> {
        with_backend!(conn, c => api_keys::table
            .filter(api_keys::site_id.eq(site))
            .filter(api_keys::prefix.eq(prefix))
            .select(ApiKey::as_select())
            .first(c)
            .optional())
    }

    /// A site's keys, the ones in use first, newest first.
    pub fn list(conn: &mut DbConn, site: SiteId) -> Result<Vec<ApiKey>, DbError> {
        with_backend!(conn, c => api_keys::table
            .filter(api_keys::site_id.eq(site))
            .select(ApiKey::as_select())
            .order((api_keys::revoked_at.is_not_null(), api_keys::id.desc()))
            .load(c))
    }

    /// Whether the site has a key in use with this name.
    pub fn name_in_use(conn: &mut DbConn, site: SiteId, name: &str) -> Result<bool, DbError> {
        let n: i64 = with_backend!(conn, c => api_keys::table
            .filter(api_keys::site_id.eq(site))
            .filter(api_keys::name.eq(name))
            .filter(api_keys::revoked_at.is_null())
            .count()
            .get_result(c))?;
        Ok(n > 0)
    }

    /// Revokes the key; `false` when it already was.
    pub fn revoke(conn: &mut DbConn, id: ApiKeyId) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::update(api_keys::table.find(id))
            .filter(api_keys::revoked_at.is_null())
            .set(api_keys::revoked_at.eq(now_ms()))
            .execute(c))?;
        Ok(n > 0)
    }

    pub fn touch(conn: &mut DbConn, id: ApiKeyId, at: i64) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(api_keys::table.find(id))
            .set(api_keys::last_used_at.eq(at))
            .execute(c))?;
        Ok(())
    }

    /// How the audit log names the key: its name and prefix.
    pub fn label(&self) -> String {
        format!("API key {} ({})", self.name, self.prefix)
    }

    pub fn allows(&self, scope: Scope) -> bool {
        match scope {
            Scope::Read => self.scope_read,
            Scope::Publish => self.scope_publish,
            Scope::Moderate => self.scope_moderate,
        }
    }

    /// The key's scopes, in their usual order.
    pub fn scopes(&self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.allows(*s)).collect()
    }
}

/// What a key may do: `read`, `publish`, `moderate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Publish,
    Moderate,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Publish, Scope::Moderate];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Publish => "publish",
            Scope::Moderate => "moderate",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s.trim())
            .ok_or_else(|| format!("unknown scope {s:?}: use read, publish or moderate"))
    }
}
