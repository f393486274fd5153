//! Presence across instances, the way Phoenix.Tracker does it: each instance
//! owns its own entries (who has how many connections in which room) and
//! tells the others of every change, numbered by a version. A receiver that
//! finds a version missing (a delta that skips one, a heartbeat announcing
//! another, a new instance) asks for the full state; the entries of an
//! instance that says it is leaving, or goes silent for
//! `--presence-down-secs`, are dropped, and their people leave the rooms of
//! the others (unless still present through another instance).
//!
//! Typing notices and read receipts ride along, at most once: a lost typing
//! notice expires on the clients anyway, and receipts are advisory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::envelope::{Body, Heartbeat, PresenceChange, Receipt, RoomPresence};
use super::Outbox;
use crate::chat::hub::{Hub, Peers};
use crate::chat::protocol::Who;
use crate::db::models::{RoomId, SiteId};

/// An instance whose state was asked for is not asked again sooner.
const ASK_AGAIN: Duration = Duration::from_secs(1);

/// This instance's entries, as the others know them.
#[derive(Default)]
struct Local {
    version: u64,
    rooms: HashMap<RoomId, RoomPresence>,
}

/// Tells the other instances what happens in this one's rooms (the hub's
/// [`Peers`]).
pub(super) struct Announcer {
    outbox: Outbox,
    local: Mutex<Local>,
}

impl Announcer {
    pub fn new(outbox: Outbox) -> Arc<Self> {
        Arc::new(Announcer {
            outbox,
            local: Mutex::default(),
        })
    }

    fn local(&self) -> MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes the full state (asked for, or after our own reconnection).
    pub fn state(&self) {
        let local = self.local();
        self.outbox.send(Body::PresenceState {
            version: local.version,
            rooms: local.rooms.values().cloned().collect(),
        });
    }

    /// Publishes a heartbeat carrying the presence version it follows.
    pub fn heartbeat(&self, name: String, connections: usize, sites: Vec<(SiteId, usize)>) {
        let local = self.local();
        self.outbox.send(Body::Heartbeat(Heartbeat {
            name,
            connections,
            presence: local.version,
            sites,
        }));
    }
}

impl Peers for Announcer {
    fn presence(&self, room: RoomId, name: &str, site: SiteId, who: &Who, connections: usize) {
        // Under this lock, so that versions are published in order.
        let mut local = self.local();
        local.version += 1;
        let version = local.version;
        let entry = local.rooms.entry(room).or_insert_with(|| RoomPresence {
            room,
            name: name.to_owned(),
            site,
            present: Vec::new(),
        });
        entry.present.retain(|(w, _)| w.id != who.id);
        if connections > 0 {
            entry.present.push((who.clone(), connections));
        } else if entry.present.is_empty() {
            local.rooms.remove(&room);
        }
        self.outbox.send(Body::Presence(PresenceChange {
            version,
            room,
            name: name.to_owned(),
            site,
            who: who.clone(),
            connections,
        }));
    }

    fn signal(&self, room: RoomId, frame: &Arc<str>) {
        self.outbox.send(Body::Signal {
            room,
            frame: frame.clone(),
        });
    }

    fn seen(&self, room: RoomId, name: &str, who: i64, seq: i64) {
        self.outbox.send(Body::Seen(Receipt {
            room,
            name: name.to_owned(),
            who,
            seq,
        }));
    }
}

/// Another instance's entries, as this one applied them to its hub.
#[derive(Default)]
pub(super) struct Mirror {
    /// The version applied; `None` until its state arrives.
    version: Option<u64>,
    /// The rooms where it has (or had, since its last state) people.
    rooms: HashMap<RoomId, (String, SiteId)>,
    asked: Option<Instant>,
}

/// Whether the origin's full state must be asked for.
#[must_use]
pub(super) struct Ask(pub bool);

impl Mirror {
    /// A change on the origin; applied when it is the next version.
    pub fn delta(&mut self, hub: &Hub, origin: u64, change: PresenceChange) -> Ask {
        let PresenceChange {
            version,
            room,
            name,
            site,
            who,
            connections,
        } = change;
        match self.version {
            Some(v) if version <= v => Ask(false),
            Some(v) if version == v + 1 => {
                self.version = Some(version);
                if hub.remote_presence(origin, room, &name, site, who, connections) {
                    self.rooms.insert(room, (name, site));
                } else {
                    self.rooms.remove(&room);
                }
                Ask(false)
            }
            _ => self.ask(),
        }
    }

    /// The origin's whole state replaces what it had.
    pub fn state(&mut self, hub: &Hub, origin: u64, version: u64, rooms: Vec<RoomPresence>) {
        if self.version.is_some_and(|v| version < v) {
            return; // older than what was applied since
        }
        let mut before = std::mem::take(&mut self.rooms);
        for room in rooms {
            before.remove(&room.room);
            let present = !room.present.is_empty();
            hub.remote_room(origin, room.room, &room.name, room.site, room.present);
            if present {
                self.rooms.insert(room.room, (room.name, room.site));
            }
        }
        for (room, (name, site)) in before {
            hub.remote_room(origin, room, &name, site, Vec::new());
        }
        self.version = Some(version);
        self.asked = None;
    }

    /// A heartbeat announcing the origin's version.
    pub fn heartbeat(&mut self, version: u64) -> Ask {
        match self.version {
            Some(v) if v >= version => Ask(false),
            _ => self.ask(),
        }
    }

    /// The origin is gone: its people leave.
    pub fn drop_all(&mut self, hub: &Hub, origin: u64) {
        for (room, (name, site)) in self.rooms.drain() {
            hub.remote_room(origin, room, &name, site, Vec::new());
        }
        self.version = None;
    }

    fn ask(&mut self) -> Ask {
        if self.asked.is_some_and(|t| t.elapsed() < ASK_AGAIN) {
            return Ask(false);
        }
        self.asked = Some(Instant::now());
        Ask(true)
    }
}
