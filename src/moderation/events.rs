//! The writing side of changes every server must apply: one `cluster_events`
//! row per change, written in the transaction that makes it. The applying
//! side is [`super::remote`]; keeping them apart keeps the actions (bans,
//! rooms, ...) below the code that replays them.

use crate::chat::cluster::Control;
use crate::db::{DbConn, DbError};

/// Records `change` for every server; call it in the transaction that makes
/// it. `origin` is the server making it (`Chat::instance`), `None` from the
/// command line.
pub fn record(conn: &mut DbConn, origin: Option<u64>, change: &Control) -> Result<(), DbError> {
    crate::chat::cluster::control::record(conn, origin, change)
}
