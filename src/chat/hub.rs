//! The room hub: which connections are in which room, and fan-out.
//!
//! Every frame is serialized once and shared (`Arc<str>`) by all recipients.
//! Each connection has a queue (see [`super::queue`]) bounded in bytes: a
//! connection that falls behind is told to close (slow consumer) instead of
//! blocking the room or silently missing frames.
//!
//! Other instances reach the hub through the cluster: their messages by
//! [`Hub::publish_batch`] (in seq order, see `ordered`), their people by the
//! remote presence calls (see `presence`); it tells them of its own through
//! [`Peers`].

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use super::protocol::{CloseReason, RoomRulesView, Who, WhoPage};
pub use super::queue::{BatchFrame, CloseRequest, ConnHandle, ConnId, ConnQueue, Outbound};
use super::recent::Window;
use crate::db::models::{ParticipantId, RoomId, SiteId};
use crate::input::AddressKey;

struct Member {
    handle: ConnHandle,
    who: Who,
}

#[derive(Default)]
struct RoomMembers {
    /// The room's site, for counts per site.
    site: Option<SiteId>,
    conns: HashMap<ConnId, Member>,
    /// Distinct participants present, with how many of their connections are
    /// in. Ordered by id, as `remote`: the `who` pages walk both in step.
    present: BTreeMap<i64, (Who, usize)>,
    /// Participants present through other instances (see [`Peers`]).
    remote: BTreeMap<i64, Remote>,
    /// `remote` summed per instance, kept as it changes: a message's
    /// delivery count and a remote leave would otherwise walk everyone.
    remote_tally: HashMap<u64, RemoteTally>,
    /// Distinct participants present on any instance (the union of `present`
    /// and `remote`), kept as they come and go so no join counts the room.
    online: usize,
    /// The first page of who is present, as the last welcome listed it;
    /// dropped when someone on it (or, while it is short, anyone) comes or
    /// goes (see `crowd`).
    first_page: Option<Arc<WhoPage>>,
    /// The room's name, for the `presence_count` frames.
    name: String,
    /// The count the room's connections were last told, and when (see
    /// `presence`: in a crowd the count goes out at most every [`COUNT_EVERY`]).
    told: usize,
    told_at: Option<Instant>,
    /// Read receipts of the participants present: the highest seq each has seen.
    seen: HashMap<i64, i64>,
    /// Participants whose last connection here went, still in `present` (with
    /// no connections) until this deadline: a reload or a page change within
    /// the grace period is not a leave (see `presence`).
    /// With the room's name, to announce it.
    leaving: HashMap<i64, (Instant, String)>,
    /// Every message up to this seq has been queued to the members (or was
    /// committed before they joined). Messages reach the room strictly in
    /// seq order: a connection drops anything at or below the highest seq it
    /// has seen, so seq 12 queued before 11 would lose 11 for good.
    high: i64,
    /// The room's recent history, while it has connections here (see `recent`).
    recent: Option<Window>,
    /// The rules the room's connections here know (`welcome.rules`, then
    /// each `room_rules`): a change is told only when it changes them.
    rules: Option<RoomRulesView>,
}

/// What one other instance has in a room.
#[derive(Default)]
struct RemoteTally {
    participants: usize,
    connections: usize,
}

/// A participant present in the room through other instances.
struct Remote {
    who: Who,
    /// Connections in the room, per instance (its random origin id).
    on: HashMap<u64, usize>,
}

/// The other instances of a cluster, told of what happens in this one's
/// rooms. Called under the room's lock, so that what they hear is in the
/// order it happened here.
pub trait Peers: Send + Sync {
    /// `who` now has `connections` connections in the room here (0: gone).
    fn presence(&self, room: RoomId, name: &str, site: SiteId, who: &Who, connections: usize);
    /// A signal (typing) relayed to the room's connections here.
    fn signal(&self, room: RoomId, frame: &Arc<str>);
    /// `who` has seen the room up to `seq`.
    fn seen(&self, room: RoomId, name: &str, who: i64, seq: i64);
}

/// The seqs a batch of messages covers: everything in (`after`, `upto`] is in
/// it, except messages deleted or never stored (holes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub after: i64,
    pub upto: i64,
}

/// A batch could not go out: the room has had messages only up to `high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub high: i64,
}

/// A room with more than this many people present is a crowd, where what
/// one person does is not told to everyone (that would cost each join,
/// leave or read O(N) frames, a crowd's arrival O(N²)), and "seen by 300"
/// tells nobody anything: joins and leaves give way to a `presence_count`
/// frame at most every [`COUNT_EVERY`], read receipts are not relayed,
/// `welcome.online` lists only the first page of who is there (the rest is
/// paged with `who`). The widget hides join/leave lines by the same rule.
pub const CROWD: usize = 50;

/// How often a crowd is told its count, at most (and only when it changed).
pub const COUNT_EVERY: Duration = Duration::from_secs(2);

impl RoomMembers {
    fn send_all(
        &self,
        text: &Arc<str>,
        room: RoomId,
        seq: Option<i64>,
        except: Option<ConnId>,
    ) -> usize {
        self.conns
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, m)| m.handle.push(text, room, seq))
            .count()
    }
}

/// Everything the hub knows about a live connection, for kicks and counts.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub handle: ConnHandle,
    pub site: SiteId,
    pub ip: IpAddr,
    pub participant: Option<ParticipantId>,
}

#[derive(Default)]
pub struct Hub {
    next_id: AtomicU64,
    conns: Mutex<HashMap<ConnId, ConnInfo>>,
    per_ip: Mutex<HashMap<AddressKey, usize>>,
    /// A room is here while it has connections here or people elsewhere.
    rooms: RwLock<HashMap<RoomId, Arc<Mutex<RoomMembers>>>>,
    /// Per room, the seq after which the local writer has stored messages
    /// it has not published yet (see [`Hub::hold`]).
    held: Mutex<HashMap<RoomId, i64>>,
    peers: OnceLock<Arc<dyn Peers>>,
    /// How long a participant's leave is held after their last connection
    /// here goes (`--presence-grace-ms`); zero announces it at once.
    grace: Duration,
    recent: recent::Recent,
}

/// Holds one of an IP's connection slots; released on drop.
pub struct IpSlot {
    hub: Arc<Hub>,
    ip: AddressKey,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut per_ip = lock(&self.hub.per_ip);
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

/// A poisoned lock only means another thread panicked mid-update of plain maps;
/// keep serving rather than cascade the panic to every connection.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Hub {
    /// Every room with someone in it, as it is now (the map's lock released).
    fn all_rooms(&self) -> Vec<Arc<Mutex<RoomMembers>>> {
        self.rooms_read().values().cloned().collect()
    }

    /// The rooms with their ids, taken out of the map's lock: each room is
    /// then locked on its own.
    fn rooms_by_id(&self) -> Vec<(RoomId, Arc<Mutex<RoomMembers>>)> {
        (self.rooms_read().iter())
            .map(|(id, members)| (*id, members.clone()))
            .collect()
    }

    fn rooms_read(&self) -> RwLockReadGuard<'_, HashMap<RoomId, Arc<Mutex<RoomMembers>>>> {
        // Poisoned: see [`lock`].
        self.rooms.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hub {
    pub fn new() -> Arc<Self> {
        Arc::new(Hub::default())
    }

    /// A hub that holds leaves for `grace` (see [`Hub::expire_leaves`]) and
    /// keeps `recent` history of rooms in memory (see `recent`).
    pub fn with_settings(grace: Duration, recent: RecentSize) -> Arc<Self> {
        Arc::new(Hub {
            grace,
            recent: recent::Recent::new(recent),
            ..Hub::default()
        })
    }

    /// Takes a connection slot for `ip` (its [`AddressKey`]), or `None` when
    /// it already has `max`.
    pub fn reserve_ip(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let ip = AddressKey::of(ip);
        let mut per_ip = lock(&self.per_ip);
        let n = per_ip.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            hub: self.clone(),
            ip,
        })
    }

    /// Registers a new connection and returns its handle and queue.
    pub fn connect(&self, site: SiteId, ip: IpAddr, max_queued: usize) -> (ConnHandle, ConnQueue) {
        let id = ConnId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let (handle, queue) = super::queue::new(id, max_queued);
        lock(&self.conns).insert(
            handle.id,
            ConnInfo {
                handle: handle.clone(),
                site,
                ip,
                participant: None,
            },
        );
        (handle, queue)
    }

    pub fn identify(&self, conn: ConnId, participant: ParticipantId) {
        if let Some(info) = lock(&self.conns).get_mut(&conn) {
            info.participant = Some(participant);
        }
    }

    /// Removes a closed connection from every room it was in.
    pub fn disconnect(&self, conn: ConnId, rooms: impl IntoIterator<Item = (RoomId, String)>) {
        for (room, name) in rooms {
            self.leave(room, &name, conn);
        }
        lock(&self.conns).remove(&conn);
    }

    fn room(&self, room: RoomId) -> Option<Arc<Mutex<RoomMembers>>> {
        self.rooms_read().get(&room).cloned()
    }

    /// Sends a frame to every connection in the room except `except`; returns
    /// how many connections it was queued for.
    pub fn publish(
        &self,
        room: RoomId,
        text: &Arc<str>,
        seq: Option<i64>,
        except: Option<ConnId>,
    ) -> usize {
        match self.room(room) {
            Some(members) => lock(&members).send_all(text, room, seq, except),
            None => 0,
        }
    }

    /// Closes every connection matching `pred` with a notice; returns how many.
    pub fn close_where(
        &self,
        pred: impl Fn(&ConnInfo) -> bool,
        reason: CloseReason,
        message: &str,
        until: Option<i64>,
    ) -> usize {
        let conns = lock(&self.conns);
        conns
            .values()
            .filter(|c| pred(c))
            .map(|c| c.handle.close(reason, message, until))
            .count()
    }

    /// The connections in a room, e.g. to close them when it is deleted.
    pub fn connections_in(&self, room: RoomId) -> Vec<ConnId> {
        self.room(room)
            .map(|members| lock(&members).conns.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Whether a connection of this server is in the room.
    pub fn has_connections(&self, room: RoomId) -> bool {
        self.room(room)
            .is_some_and(|members| !lock(&members).conns.is_empty())
    }

    /// Rooms with someone in them, here or on another instance.
    pub fn live_rooms(&self) -> Vec<RoomId> {
        self.rooms_read().keys().copied().collect()
    }

    /// Records the rules a joining connection was told, unless the room's
    /// connections here know some already (an announcement in between wins).
    pub fn rules_known(&self, room: RoomId, rules: &RoomRulesView) {
        if let Some(members) = self.room(room) {
            lock(&members).rules.get_or_insert_with(|| rules.clone());
        }
    }

    /// Records `rules` as told to the room's connections here; false when
    /// they knew them already (nothing to tell).
    pub fn rules_changed(&self, room: RoomId, rules: &RoomRulesView) -> bool {
        let Some(members) = self.room(room) else {
            return false;
        };
        let mut members = lock(&members);
        if members.rules.as_ref() == Some(rules) {
            return false;
        }
        members.rules = Some(rules.clone());
        true
    }

    /// Rooms of `site` with someone in them, here or on another instance.
    pub fn live_rooms_of(&self, site: SiteId) -> Vec<RoomId> {
        self.rooms_by_id()
            .into_iter()
            .filter(|(_, members)| lock(members).site == Some(site))
            .map(|(id, _)| id)
            .collect()
    }

    pub fn connection_count(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Open connections of one participant.
    pub fn connections_by_participant(&self, participant: ParticipantId) -> usize {
        lock(&self.conns)
            .values()
            .filter(|c| c.participant == Some(participant))
            .count()
    }

    /// Rooms with someone in them (here or on another instance), per site.
    pub fn rooms_by_site(&self) -> HashMap<SiteId, usize> {
        let rooms = self.all_rooms();
        let mut counts = HashMap::new();
        for site in rooms.iter().filter_map(|members| lock(members).site) {
            *counts.entry(site).or_default() += 1;
        }
        counts
    }

    pub fn connections_by_site(&self) -> HashMap<SiteId, usize> {
        let mut counts = HashMap::new();
        for info in lock(&self.conns).values() {
            *counts.entry(info.site).or_default() += 1;
        }
        counts
    }
}

mod crowd;
mod ordered;
mod presence;
mod recent;
pub use recent::{FillTicket, Lookup, RecentSize};
#[cfg(test)]
pub(crate) mod tests;
