//! API keys of a site: created (the key is shown once), listed, revoked, and
//! recognised when a request presents one. Keys are `ck_` and 40 random
//! letters and digits (about 238 bits); only their SHA-256 is stored, so a
//! leaked database does not leak working keys, and checking a key is one
//! indexed lookup (a slow password hash would only slow every request).

use sha2::{Digest, Sha256};

use super::{audit, invalid, Actor, ManageError, Result, Target};
use crate::db::models::api_key::NewApiKey;
use crate::db::models::audit::AuditAction;
use crate::db::models::{ApiKey, Scope, Site};
use crate::db::{DbConn, DbError};
use crate::input::{random_token, DisplayName};

/// What every key starts with, so that scanners and people recognise one.
pub const KEY_START: &str = "ck_";
/// Random characters after `ck_`.
const KEY_RANDOM: usize = 40;
/// Characters of the key shown in lists: `ck_` and 8 more.
const PREFIX_LEN: usize = KEY_START.len() + 8;

/// The stored form of a key.
pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A key just made: the row, and the key itself, to show once.
pub struct Created {
    pub key: ApiKey,
    pub secret: String,
}

/// Makes a key for `site` with these scopes (at least one).
pub fn create(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    name: &str,
    scopes: &[Scope],
) -> Result<Created> {
    let name = DisplayName::parse(name, "API key names")
        .map(DisplayName::into_inner)
        .map_err(|e| invalid(e.sentence()))?;
    if scopes.is_empty() {
        return Err(invalid(
            "Give the key at least one scope: read, publish or moderate.",
        ));
    }
    let wanted = Scope::ALL.map(|s| scopes.contains(&s));
    conn.write_transaction(|conn| {
        if ApiKey::name_in_use(conn, site.id, &name)? {
            return Err(invalid(format!(
                "The site has a key called {name:?} already; choose another name (or revoke that one)."
            )));
        }
        let (key, secret) = insert(conn, actor, site, &name, wanted)?;
        let scopes: Vec<&str> = key.scopes().iter().map(|s| s.as_str()).collect();
        let details = format!("{}; scopes: {}", key.name, scopes.join(", "));
        audit(
            conn,
            actor,
            AuditAction::ApiKeyCreate,
            Target::ApiKey(&key),
            details,
        )?;
        Ok(Created { key, secret })
    })
}

/// Stores a new random key; a prefix already taken (about one chance in
/// 10^14) draws another.
fn insert(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    name: &str,
    scopes: [bool; 3],
) -> Result<(ApiKey, String)> {
    let mut tries = 0;
    loop {
        let secret = format!("{KEY_START}{}", random_token(KEY_RANDOM));
        let new = NewApiKey {
            site: site.id,
            name,
            prefix: &secret[..PREFIX_LEN],
            key_hash: &hash(&secret),
            scopes,
            created_by: actor.admin(),
        };
        match ApiKey::create(conn, &new)? {
            Some(key) => return Ok((key, secret)),
            None if tries < 3 => tries += 1,
            None => return Err(DbError::Conflict("no free API key prefix".into()).into()),
        }
    }
}

/// Revokes the key of `site` with this prefix: the next request with it is
/// refused. Revoking a revoked key is an error, so a typo is not taken for
/// success.
pub fn revoke(conn: &mut DbConn, actor: Actor, site: &Site, prefix: &str) -> Result<ApiKey> {
    let prefix = prefix.trim();
    // A whole key pasted by mistake names its key too.
    let prefix = prefix.get(..PREFIX_LEN).unwrap_or(prefix);
    conn.write_transaction(|conn| {
        let key = ApiKey::find_by_prefix(conn, site.id, prefix)?.ok_or(ManageError::NotFound)?;
        if !ApiKey::revoke(conn, key.id)? {
            return Err(invalid(format!("The key {prefix} is already revoked.")));
        }
        audit(
            conn,
            actor,
            AuditAction::ApiKeyRevoke,
            Target::ApiKey(&key),
            key.name.clone(),
        )?;
        Ok(key)
    })
}

/// The key in use that `presented` is, with its site; `None` for anything
/// else (unknown, revoked, malformed).
pub fn recognise(
    conn: &mut DbConn,
    presented: &str,
) -> std::result::Result<Option<(ApiKey, Site)>, DbError> {
    if !presented.starts_with(KEY_START) || presented.len() != KEY_START.len() + KEY_RANDOM {
        return Ok(None);
    }
    let Some(key) = ApiKey::find_by_hash(conn, &hash(presented))? else {
        return Ok(None);
    };
    if key.revoked_at.is_some() {
        return Ok(None);
    }
    let site = Site::find(conn, key.site_id)?;
    Ok(Some((key, site)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hash_is_sha256_in_hex() {
        assert_eq!(
            super::hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
