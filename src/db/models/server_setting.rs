//! Server-wide settings kept in the database (e.g. the guest-token secret),
//! so that every instance and every restart shares them.

use diesel::prelude::*;

use crate::db::schema::server_settings;
use crate::db::{DbConn, DbError};
use crate::with_backend;

/// Returns the value stored under `key`, creating it with `init()` on first use.
/// A concurrent first use by another process is resolved by re-reading.
pub fn get_or_init(
    conn: &mut DbConn,
    key: &str,
    init: impl FnOnce() -> String,
) -> Result<String, DbError> {
    let existing = with_backend!(conn, c => server_settings::table
        .select(server_settings::value)
        .filter(server_settings::key.eq(key))
        .first::<String>(c)
        .optional())?;
    if let Some(value) = existing {
        return Ok(value);
    }
    let value = init();
    let inserted = with_backend!(conn, c => diesel::insert_into(server_settings::table)
        .values((server_settings::key.eq(key), server_settings::value.eq(&value)))
        .on_conflict_do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(value);
    }
    // Another process set it first: theirs is the one everyone uses.
    with_backend!(conn, c => server_settings::table
        .select(server_settings::value)
        .filter(server_settings::key.eq(key))
        .first::<String>(c))
}
