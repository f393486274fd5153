//! Repairs from the database: catches a room up to a seq another instance
//! committed, or checks every local room against its stored `last_seq`.
//! One task does it, off the receive path (which must never wait on the
//! database: Redis cuts a subscriber that falls behind).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};

use crate::chat::catchup::catch_up;
use crate::chat::hub::Hub;
use crate::db::models::{Room, RoomId};
use crate::db::Db;
use crate::metrics::Metrics;

#[derive(Default)]
struct Wanted {
    /// Rooms to catch up, with their name and the seq to reach.
    rooms: HashMap<RoomId, (String, i64)>,
    /// Check every local room.
    all: bool,
}

pub(super) struct Repair {
    db: Db,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    wanted: Mutex<Wanted>,
    wake: Notify,
}

impl Repair {
    pub fn new(db: Db, hub: Arc<Hub>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Repair {
            db,
            hub,
            metrics,
            wanted: Mutex::default(),
            wake: Notify::new(),
        })
    }

    fn wanted(&self) -> std::sync::MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room must be caught up to `upto` (committed elsewhere).
    pub fn fill(&self, room: RoomId, name: String, upto: i64) {
        let mut wanted = self.wanted();
        let entry = wanted.rooms.entry(room).or_insert((name, upto));
        entry.1 = entry.1.max(upto);
        drop(wanted);
        self.wake.notify_one();
    }

    /// Every local room must be checked against the database.
    pub fn check_all(&self) {
        self.wanted().all = true;
        self.wake.notify_one();
    }

    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
            let wanted = std::mem::take(&mut *self.wanted());
            let this = self.clone();
            let done = self
                .db
                .run(move |conn| -> Result<_, crate::db::DbError> {
                    let mut rooms = wanted.rooms;
                    if wanted.all {
                        let highs: HashMap<RoomId, i64> = this.hub.highs().into_iter().collect();
                        let ids: Vec<RoomId> = highs.keys().copied().collect();
                        for room in Room::find_many(conn, &ids)? {
                            if room.last_seq > highs[&room.id] {
                                let entry =
                                    rooms.entry(room.id).or_insert((room.name, room.last_seq));
                                entry.1 = entry.1.max(room.last_seq);
                            }
                        }
                    }
                    let mut repaired = 0;
                    for (room, (name, upto)) in rooms {
                        repaired += catch_up(conn, &this.hub, &this.metrics, room, &name, upto)?;
                    }
                    Ok(repaired)
                })
                .await;
            match done {
                Ok(0) => {}
                Ok(n) => {
                    self.metrics.broker_gaps_repaired.inc_by(n as u64);
                    tracing::debug!(messages = n, "rooms caught up from the database");
                }
                // Tried again at the next trigger (the periodic check at the latest).
                Err(err) => {
                    tracing::warn!(error = %err, "could not catch rooms up from the database");
                    self.check_all_later();
                }
            }
        }
    }

    fn check_all_later(&self) {
        self.wanted().all = true;
    }
}
