//! Changes every running server must apply, in the order they were made
//! (see `moderation::remote`). The body is opaque here (JSON).

use diesel::prelude::*;

use crate::db::schema::cluster_events;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

#[derive(Debug, Clone, Queryable)]
pub struct ClusterEvent {
    pub id: i64,
    /// The server process that made the change (and applied it already);
    /// `None` from the command line.
    pub origin: Option<i64>,
    pub body: String,
    pub created_at: i64,
}

/// Any constant: the key of the advisory lock event writers take.
const WRITERS_LOCK: i64 = 0x63_6c_75_73_74_65_72;

impl ClusterEvent {
    /// Records an event; call it inside the transaction making the change.
    /// On PostgreSQL writers take turns until they commit, so that ids
    /// become visible in id order (a reader never skips an id committed late).
    pub fn record(conn: &mut DbConn, origin: Option<i64>, body: &str) -> Result<i64, DbError> {
        if let DbConn::Pg(c) = conn {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(WRITERS_LOCK)
                .execute(c)
                .map_err(DbError::from)?;
        }
        let row = (
            cluster_events::origin.eq(origin),
            cluster_events::body.eq(body),
            cluster_events::created_at.eq(now_ms()),
        );
        with_backend!(conn, c => diesel::insert_into(cluster_events::table)
            .values(row)
            .returning(cluster_events::id)
            .get_result::<i64>(c))
    }

    /// The events after `id`, oldest first.
    pub fn after(conn: &mut DbConn, id: i64, limit: i64) -> Result<Vec<ClusterEvent>, DbError> {
        with_backend!(conn, c => cluster_events::table
            .filter(cluster_events::id.gt(id))
            .order(cluster_events::id)
            .limit(limit)
            .load::<ClusterEvent>(c))
    }

    /// The last event's id (0 when there is none).
    pub fn last_id(conn: &mut DbConn) -> Result<i64, DbError> {
        with_backend!(conn, c => cluster_events::table
            .select(diesel::dsl::max(cluster_events::id))
            .first::<Option<i64>>(c))
        .map(|id| id.unwrap_or(0))
    }

    /// Forgets events older than `before` (every server read them long ago).
    pub fn prune(conn: &mut DbConn, before: i64) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::delete(
            cluster_events::table.filter(cluster_events::created_at.lt(before))
        )
        .execute(c))
    }
}
