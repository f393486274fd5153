//! Changes every running server must apply, wherever they were made (an
//! instance's panel, or the command line): recorded in the database with
//! the change (`cluster_events`) and applied by `moderation::remote`.

use serde::{Deserialize, Serialize};

use crate::db::models::{BanId, RoomId, SiteId};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Messages deleted: open widgets drop them.
    Deleted {
        room: RoomId,
        name: String,
        seqs: Vec<i64>,
    },
    /// A ban was made: the connections it covers close.
    Banned {
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
}
