//! Rows found by their author's client ids: `messages` and `held_messages`
//! both have a unique `(participant_id, cid)` index, and the writer looks a
//! batch of pairs up at once.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

use super::ParticipantId;
use crate::db::{DbConn, DbError};

/// The rows of `table` (its `columns`, as `t.<name>`) among these
/// `(participant, cid)` pairs.
///
/// On PostgreSQL, one query joining the pairs (`unnest`) to the unique
/// `(participant_id, cid)` index: one probe per pair. (Filtering with
/// `participant_id = ANY(..) AND cid = ANY(..)` instead scans every row of
/// those participants: about a second per batch at 300,000 messages.) On
/// SQLite, `one` looks each pair up.
pub(super) fn find_by_cids<T>(
    conn: &mut DbConn,
    keys: &[(ParticipantId, &str)],
    table: &str,
    columns: &str,
    mut one: impl FnMut(&mut DbConn, ParticipantId, &str) -> Result<Option<T>, DbError>,
) -> Result<Vec<T>, DbError>
where
    T: QueryableByName<Pg> + 'static,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    match conn {
        DbConn::Pg(c) => Ok(diesel::sql_query(format!(
            "SELECT {columns} FROM unnest($1, $2) AS k(participant_id, cid) \
             JOIN {table} t ON t.participant_id = k.participant_id AND t.cid = k.cid"
        ))
        .bind::<Array<BigInt>, _>(keys.iter().map(|k| k.0 .0).collect::<Vec<i64>>())
        .bind::<Array<Text>, _>(keys.iter().map(|k| k.1).collect::<Vec<&str>>())
        .load(c)?),
        DbConn::Sqlite(_) => {
            let mut found = Vec::new();
            for (participant, cid) in keys {
                found.extend(one(conn, *participant, cid)?);
            }
            Ok(found)
        }
    }
}
