//! Who is in each room: this instance's connections, and the participants
//! other instances report (through the cluster, which the hub knows only as
//! [`Peers`]). Presence frames, `welcome.online` and read receipts use the
//! union: someone is present while they have a connection in the room on
//! any instance, and joins and leaves are announced only when that changes.
//!
//! A participant whose last connection here goes stays present for the
//! grace period (`--presence-grace-ms`) before they leave, here and for the
//! other instances alike (these hear of it only when it is announced): a
//! reload, a page change or a reconnection within it is neither a leave nor
//! a join for anyone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{lock, ConnHandle, ConnId, Hub, Member, Peers, Remote, RoomMembers, CROWD};
use crate::chat::protocol::{PresenceEvent, SeenCursor, ServerFrame, Who, WhoPage};
use crate::db::models::{RoomId, SiteId};

impl RoomMembers {
    fn is_present(&self, id: i64) -> bool {
        self.present.contains_key(&id) || self.remote.contains_key(&id)
    }

    /// Every participant present, on any instance; O(N), for the panel and
    /// the API (a join uses [`RoomMembers::online_page`]).
    fn online_list(&self) -> Vec<Who> {
        let here = self.present.values().map(|(w, _)| w.clone());
        let elsewhere = (self.remote.iter())
            .filter(|(id, _)| !self.present.contains_key(id))
            .map(|(_, r)| r.who.clone());
        here.chain(elsewhere).collect()
    }

    /// `who` came or went (on any instance): counted, and told to the
    /// room's connections (but `except`) unless the room is a crowd then;
    /// a crowd hears the count instead (see [`RoomMembers::flush_count`]).
    fn announce(
        &mut self,
        room: RoomId,
        name: &str,
        event: PresenceEvent,
        who: Who,
        except: Option<ConnId>,
    ) {
        match event {
            PresenceEvent::Join => self.online += 1,
            PresenceEvent::Leave => {
                self.online = self.online.saturating_sub(1);
                self.seen.remove(&who.id);
            }
        }
        if self.online > CROWD {
            return;
        }
        let frame = ServerFrame::Presence {
            room: name.to_owned(),
            event,
            who,
            online: self.online,
        }
        .encode();
        self.told = self.online;
        self.send_all(&frame, room, None, except);
    }

    fn is_empty(&self) -> bool {
        self.conns.is_empty() && self.remote.is_empty() && self.present.is_empty()
    }
}

impl Hub {
    /// Who is online now on these sites (`None`: all), on any instance:
    /// participant id -> in how many rooms. For the panel's participants page.
    pub fn online_participants(&self, sites: Option<&[SiteId]>) -> HashMap<i64, usize> {
        let rooms = self.all_rooms();
        let mut online = HashMap::new();
        for members in rooms {
            let members = lock(&members);
            let wanted = match (sites, members.site) {
                (None, _) => true,
                (Some(sites), Some(site)) => sites.contains(&site),
                (Some(_), None) => false,
            };
            if wanted {
                for who in members.online_list() {
                    *online.entry(who.id).or_default() += 1;
                }
            }
        }
        online
    }

    /// Whether any of `ids` is present in a room of `site`, on any instance.
    /// Walks the rooms, not the people in them: a hello asks it.
    pub fn any_present(&self, site: SiteId, ids: &[i64]) -> bool {
        self.all_rooms().iter().any(|members| {
            let members = lock(members);
            members.site == Some(site) && ids.iter().any(|&id| members.is_present(id))
        })
    }

    /// Whether `participant` is listed here with connections of this
    /// instance (or in their grace period), so that [`Hub::participant_changed`]
    /// would have something to update.
    pub fn lists_here(&self, participant: i64) -> bool {
        self.all_rooms()
            .iter()
            .any(|members| lock(members).present.contains_key(&participant))
    }

    /// `who` is shown differently now (a new name or picture): the rooms
    /// they are present in here list them so, and the other instances are
    /// told, so that theirs do too.
    pub fn participant_changed(&self, who: &Who) {
        for (room, members) in self.rooms_by_id() {
            let mut members = lock(&members);
            let Some(entry) = members.present.get_mut(&who.id) else {
                continue;
            };
            if entry.0 == *who {
                continue;
            }
            entry.0 = who.clone();
            let count = entry.1;
            members.online_changed(who.id);
            // In their grace period (no connection here) the others keep
            // what they were told: a return here tells them the new name.
            if count > 0 {
                let name = members.name.clone();
                self.tell_peers(&members, room, &name, who, count);
            }
        }
    }

    /// Connects the hub to the other instances (once, at start-up).
    pub fn set_peers(&self, peers: Arc<dyn Peers>) {
        let _ = self.peers.set(peers);
    }

    /// The room's entry, made if there is none; a room without connections
    /// here starts again from `committed` (what its first joiner's welcome reads).
    fn entry(&self, room: RoomId, committed: i64) -> Arc<Mutex<RoomMembers>> {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        let members = rooms.entry(room).or_insert_with(|| {
            Arc::new(Mutex::new(RoomMembers {
                high: committed,
                ..RoomMembers::default()
            }))
        });
        members.clone()
    }

    /// Drops a room nobody is in any more, here or elsewhere.
    fn forget_if_empty(&self, room: RoomId) {
        let mut rooms = self.rooms.write().unwrap_or_else(|e| e.into_inner());
        // Checked under the write lock: someone may have joined meanwhile.
        if rooms.get(&room).is_some_and(|m| lock(m).is_empty()) {
            rooms.remove(&room);
        }
    }

    /// Adds the connection to the room; announces the participant to the others
    /// when they were not present yet (on any instance). Returns the first
    /// page of who is online (at most [`CROWD`]) and how many are.
    ///
    /// `committed` is the room's last seq read from the database before this
    /// call: when the connection is the room's first here, messages are then
    /// queued from the one after it (the joiner's welcome, read after this
    /// call, covers everything up to it).
    pub fn join(
        &self,
        room: RoomId,
        name: &str,
        handle: &ConnHandle,
        who: &Who,
        committed: i64,
    ) -> (Arc<WhoPage>, usize) {
        let site = lock(&self.conns).get(&handle.id).map(|c| c.site);
        let members = self.entry(room, committed);
        let mut members = lock(&members);
        if members.conns.is_empty() {
            members.high = committed;
        }
        members.site = members.site.or(site);
        members.name_once(name);
        let member = Member {
            handle: handle.clone(),
            who: who.clone(),
        };
        if members.conns.insert(handle.id, member).is_none() {
            let was_present = members.is_present(who.id);
            let entry = members
                .present
                .entry(who.id)
                .or_insert_with(|| (who.clone(), 0));
            // Present already, under another name or picture: as they are now.
            let renamed = entry.0 != *who;
            if renamed {
                entry.0 = who.clone();
            }
            entry.1 += 1;
            let count = entry.1;
            if count == 1 || renamed {
                members.online_changed(who.id);
            }
            // Back within the grace period: the leave is never announced.
            members.leaving.remove(&who.id);
            self.tell_peers(&members, room, name, who, count);
            if !was_present {
                members.announce(
                    room,
                    name,
                    PresenceEvent::Join,
                    who.clone(),
                    Some(handle.id),
                );
            }
        }
        (members.first_page(), members.online)
    }

    pub fn leave(&self, room: RoomId, name: &str, conn: ConnId) {
        let Some(members_arc) = self.room(room) else {
            return;
        };
        let mut members = lock(&members_arc);
        let Some(member) = members.conns.remove(&conn) else {
            return;
        };
        if members.conns.is_empty() {
            self.recent_empty(&mut members, room);
        }
        let id = member.who.id;
        if let Some(entry) = members.present.get_mut(&id) {
            entry.1 -= 1;
            if entry.1 > 0 {
                let count = entry.1;
                self.tell_peers(&members, room, name, &member.who, count);
            } else if self.grace.is_zero() {
                self.gone(&mut members, room, name, member.who);
            } else {
                let until = Instant::now() + self.grace;
                members.leaving.insert(id, (until, name.to_owned()));
            }
        }
        if members.is_empty() {
            drop(members);
            self.forget_if_empty(room);
        }
    }

    /// `who`'s last connection here is gone (and their grace period over):
    /// the other instances are told, and the room when nobody else has them.
    fn gone(&self, members: &mut RoomMembers, room: RoomId, name: &str, who: Who) {
        let id = who.id;
        members.present.remove(&id);
        members.online_changed(id);
        members.leaving.remove(&id);
        self.tell_peers(members, room, name, &who, 0);
        if !members.is_present(id) {
            members.announce(room, name, PresenceEvent::Leave, who, None);
        }
    }

    /// Announces the leaves whose grace period is over, and tells crowds
    /// their count when due (called a few times a second while the server runs).
    pub fn expire_leaves(&self, now: Instant) {
        for (room, members_arc) in self.rooms_by_id() {
            let mut members = lock(&members_arc);
            let due: Vec<(i64, String)> = (members.leaving.iter())
                .filter(|(_, (at, _))| *at <= now)
                .map(|(&id, (_, name))| (id, name.clone()))
                .collect();
            for (id, name) in due {
                match members.present.get(&id) {
                    Some((who, 0)) => {
                        let who = who.clone();
                        self.gone(&mut members, room, &name, who);
                    }
                    _ => {
                        members.leaving.remove(&id);
                    }
                }
            }
            members.flush_count(room, now);
            if members.is_empty() {
                drop(members);
                self.forget_if_empty(room);
            }
        }
    }

    fn tell_peers(&self, members: &RoomMembers, room: RoomId, name: &str, who: &Who, count: usize) {
        if let (Some(peers), Some(site)) = (self.peers.get(), members.site) {
            peers.presence(room, name, site, who, count);
        }
    }

    /// Another instance says `who` has `connections` connections in the
    /// room there (0: gone from there). Returns whether that instance still
    /// has anyone in the room.
    pub fn remote_presence(
        &self,
        origin: u64,
        room: RoomId,
        name: &str,
        site: SiteId,
        who: Who,
        connections: usize,
    ) -> bool {
        let members = match self.room(room) {
            Some(members) => members,
            None if connections == 0 => return false,
            None => self.entry(room, 0),
        };
        let mut members = lock(&members);
        members.site = members.site.or(Some(site));
        members.name_once(name);
        set_remote(&mut members, room, name, origin, who, connections);
        let still = members.remote_tally.contains_key(&origin);
        if members.is_empty() {
            drop(members);
            self.forget_if_empty(room);
        }
        still
    }

    /// Replaces what an instance has in a room with `present` (its full
    /// state; empty when it is gone).
    pub fn remote_room(
        &self,
        origin: u64,
        room: RoomId,
        name: &str,
        site: SiteId,
        present: Vec<(Who, usize)>,
    ) {
        let Some(members) = self
            .room(room)
            .or_else(|| (!present.is_empty()).then(|| self.entry(room, 0)))
        else {
            return;
        };
        let mut members = lock(&members);
        members.site = members.site.or(Some(site));
        members.name_once(name);
        // A set: a crowd's full state is thousands of people, checked against thousands.
        let listed: std::collections::HashSet<i64> = present.iter().map(|(w, _)| w.id).collect();
        let gone: Vec<Who> = (members.remote.values())
            .filter(|r| r.on.contains_key(&origin) && !listed.contains(&r.who.id))
            .map(|r| r.who.clone())
            .collect();
        for who in gone {
            set_remote(&mut members, room, name, origin, who, 0);
        }
        for (who, connections) in present {
            set_remote(&mut members, room, name, origin, who, connections);
        }
        if members.is_empty() {
            drop(members);
            self.forget_if_empty(room);
        }
    }

    /// Connections in the room on other instances, as they last reported.
    pub fn remote_connections(&self, room: RoomId) -> usize {
        self.room(room)
            .map(|m| lock(&m).remote_tally.values().map(|t| t.connections).sum())
            .unwrap_or(0)
    }

    /// Records that participant `who` has seen the room up to `seq` and tells
    /// the room's other connections (and instances), when that moves their
    /// receipt forward and the room is small enough for receipts.
    pub fn seen(&self, room: RoomId, name: &str, who: i64, seq: i64, from: ConnId) {
        if self.record_seen(room, name, who, seq, Some(from)) {
            if let Some(peers) = self.peers.get() {
                peers.seen(room, name, who, seq);
            }
        }
    }

    /// A read receipt from another instance.
    pub fn remote_seen(&self, room: RoomId, name: &str, who: i64, seq: i64) {
        self.record_seen(room, name, who, seq, None);
    }

    fn record_seen(
        &self,
        room: RoomId,
        name: &str,
        who: i64,
        seq: i64,
        from: Option<ConnId>,
    ) -> bool {
        let Some(members) = self.room(room) else {
            return false;
        };
        let mut members = lock(&members);
        if members.online > CROWD || !members.is_present(who) {
            return false;
        }
        let cursor = members.seen.entry(who).or_insert(0);
        if seq <= *cursor {
            return false;
        }
        *cursor = seq;
        let frame = ServerFrame::Seen {
            room: name.to_owned(),
            cursor: SeenCursor { id: who, seq },
        }
        .encode();
        members.send_all(&frame, room, None, from);
        true
    }

    /// Who is in the room now, on any instance, each participant once (O(N):
    /// for the API's people list).
    pub fn online_in(&self, room: RoomId) -> Vec<Who> {
        self.room(room)
            .map(|members| lock(&members).online_list())
            .unwrap_or_default()
    }

    /// The read receipts of a room, for a `welcome`.
    pub fn seen_in(&self, room: RoomId) -> Vec<SeenCursor> {
        let Some(members) = self.room(room) else {
            return Vec::new();
        };
        let members = lock(&members);
        if members.online > CROWD {
            return Vec::new();
        }
        members
            .seen
            .iter()
            .map(|(&id, &seq)| SeenCursor { id, seq })
            .collect()
    }

    /// Relays a signal (typing) to the room's other connections, here and
    /// on the other instances.
    pub fn signal(&self, room: RoomId, frame: &Arc<str>, from: ConnId) {
        if let Some(members) = self.room(room) {
            let members = lock(&members);
            members.send_all(frame, room, None, Some(from));
            if let Some(peers) = self.peers.get() {
                peers.signal(room, frame);
            }
        }
    }
}

/// Sets how many connections `origin` has for `who` in the room, and
/// announces `who` when that makes them come or go.
fn set_remote(
    members: &mut RoomMembers,
    room: RoomId,
    name: &str,
    origin: u64,
    who: Who,
    connections: usize,
) {
    let was_present = members.is_present(who.id);
    let id = who.id;
    let before = if connections == 0 {
        let remote = members.remote.get_mut(&id);
        let before = remote.and_then(|remote| remote.on.remove(&origin));
        if members.remote.get(&id).is_some_and(|r| r.on.is_empty()) {
            members.remote.remove(&id);
        }
        before
    } else {
        let remote = members.remote.entry(id).or_insert_with(|| Remote {
            who: who.clone(),
            on: HashMap::new(),
        });
        remote.who = who.clone();
        remote.on.insert(origin, connections)
    };
    tally(members, origin, before, connections);
    members.online_changed(id);
    match (was_present, members.is_present(id)) {
        (false, true) => members.announce(room, name, PresenceEvent::Join, who, None),
        (true, false) => members.announce(room, name, PresenceEvent::Leave, who, None),
        _ => {}
    }
}

/// Moves `origin`'s tally from `before` connections of one participant
/// (`None`: they had none there) to `after` (0: none).
fn tally(members: &mut RoomMembers, origin: u64, before: Option<usize>, after: usize) {
    let t = members.remote_tally.entry(origin).or_default();
    t.participants =
        (t.participants + usize::from(after > 0)).saturating_sub(before.is_some().into());
    t.connections = (t.connections + after).saturating_sub(before.unwrap_or(0));
    if t.participants == 0 {
        members.remote_tally.remove(&origin);
    }
}
