//! Changes every running server must apply, wherever they were made (an
//! instance's panel, or the command line): recorded in the database with
//! the change (`cluster_events`) and applied by `moderation::remote`.

use serde::{Deserialize, Serialize};

use crate::db::models::cluster_event::ClusterEvent;
use crate::db::models::{BanId, ParticipantId, RoomId, SiteId};
use crate::db::{DbConn, DbError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Messages deleted: open widgets drop them.
    Deleted {
        room: RoomId,
        name: String,
        seqs: Vec<i64>,
        /// Their `deleted_at`, for the rooms' recent history in memory
        /// (`None` from a version that did not record it: that history is dropped).
        #[serde(default)]
        at: Option<i64>,
    },
    /// A ban was made: the connections it covers close.
    Banned {
        ban: BanId,
    },
    /// A ban was lifted: the banned may connect again at once.
    Unbanned {
        ban: BanId,
    },
    /// A room's settings (lock, slow mode, approval, length) changed.
    RoomChanged {
        room: RoomId,
    },
    /// The room was deleted: the connections in it close.
    RoomDeleted {
        room: RoomId,
    },
    /// A site's settings (length limit, room policy, room quota, guests)
    /// changed: live connections follow the new ones.
    SiteChanged {
        site: SiteId,
    },
    MutesChanged {
        site: SiteId,
    },
    FiltersChanged {
        site: SiteId,
    },
    /// The site was turned off: its connections close.
    SiteDisabled {
        site: SiteId,
    },
    /// The site was turned on again: its visitors may connect.
    SiteEnabled {
        site: SiteId,
    },
    /// The site's secret was replaced: tokens signed with the old one stop working.
    SecretRotated {
        site: SiteId,
    },
    /// An origin was allowed or no longer is: the next connections are checked
    /// against the new list.
    OriginsChanged {
        site: SiteId,
    },
    /// A participant's name or picture changed: the rooms' recent history
    /// in memory that shows them is read again.
    ParticipantChanged {
        participant: ParticipantId,
    },
}

/// Records `change` for every server (`cluster_events`), in the transaction
/// that makes it; `origin` is the server making it (`Chat::instance`), `None`
/// from the command line.
pub fn record(conn: &mut DbConn, origin: Option<u64>, change: &Control) -> Result<(), DbError> {
    let body = serde_json::to_string(change).map_err(|e| DbError::Internal(e.to_string()))?;
    // The id is stored as the same 64 bits.
    ClusterEvent::record(conn, origin.map(|o| o as i64), &body).map(drop)
}
