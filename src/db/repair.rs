//! Stored data from before a validation rule, brought in line with it when
//! the database is opened, after the migrations (the rules live in
//! [`crate::input`]; SQL cannot apply them). Each repair reads only rows that
//! may need it, so once done it costs an indexed query or two. What a repair
//! changes is logged, recorded in the audit log where a person would look for
//! it, and returned as notes for `chatctl` to print.

use ipnet::IpNet;

use super::models::audit::{Actor, AuditAction, AuditEntry};
use super::models::{Ban, Room, Site};
use super::{now_ms, DbConn, DbError};
use crate::input::{self, RoomName};

/// Runs every repair; returns what each changed, one line per change.
pub fn run(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let mut notes = ipv4_bans(conn)?;
    notes.extend(dot_rooms(conn)?);
    for note in &notes {
        tracing::warn!("{note}");
    }
    Ok(notes)
}

/// Bans of IPv4 ranges stored in IPv6 form (`::ffff:203.0.113.7/128`, as
/// they were before ranges were stored as IPv4) are stored as the IPv4 range
/// they are: visitors' addresses are compared in IPv4 form, so such a ban
/// matched nobody. One that is too wide as an IPv4 range (`::ffff:0:0/96` is
/// every IPv4 address) is left as it is: it matched nobody, and still does.
fn ipv4_bans(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let now = now_ms();
    let mut notes = Vec::new();
    for ban in Ban::of_ipv6_ranges(conn)? {
        let Some(IpNet::V6(v6)) = ban.range() else {
            continue;
        };
        let Some(v4) = input::ipv4_range(&v6.trunc()) else {
            continue;
        };
        let v4 = IpNet::V4(v4);
        if v4.prefix_len() < input::min_ban_prefix(&v4) {
            tracing::info!(ban = %ban.id, range = %v6, "a ban of an IPv4 range in IPv6 form is too wide as IPv4; left as it is (it matches no IPv4 visitor)");
            continue;
        }
        Ban::set_range(conn, ban.id, &v4)?;
        if ban.is_active(now) {
            notes.push(format!(
                "ban {}: {v6} is stored as {v4}; it applies to IPv4 visitors again",
                ban.id
            ));
        }
    }
    Ok(notes)
}

/// Rooms named with a `.` or `..` part between slashes (refused since) are
/// renamed, with their messages and settings: each such part becomes `_` or
/// `__` (`a/../b` is `a/__/b`), with `-2`, `-3`... if the site has that name
/// already. Under their old names nobody could join them any more.
fn dot_rooms(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let mut notes = Vec::new();
    for room in Room::with_dot_segments(conn)? {
        if !RoomName::has_dot_segment(&room.name) {
            continue;
        }
        let Some(name) = free_name(conn, &room)? else {
            tracing::error!(room = %room.id, name = %room.name, "found no name to rename a room with . or .. segments to; left as it is");
            continue;
        };
        let renamed = conn.write_transaction(|conn| -> Result<bool, DbError> {
            if !Room::rename(conn, room.id, &room.name, &name)? {
                // Another instance, starting at the same moment, did it.
                return Ok(false);
            }
            AuditEntry {
                actor: Actor::Server,
                site: Some(room.site_id),
                action: AuditAction::RoomUpdate,
                target_type: "room",
                target_id: room.id.to_string(),
                details: format!(
                    "renamed {:?} to {name:?}: room names may no longer have . or .. as a part between slashes",
                    room.name
                ),
            }
            .record(conn)?;
            Ok(true)
        })?;
        if renamed {
            let site = Site::find(conn, room.site_id)?;
            notes.push(format!(
                "room {:?} of site {} is renamed {name:?} (its {} messages kept): room names may no longer have . or .. as a part between slashes",
                room.name, site.public_key, room.last_seq
            ));
        }
    }
    Ok(notes)
}

/// The first valid name for `room` without dot segments that its site has
/// no room of.
fn free_name(conn: &mut DbConn, room: &Room) -> Result<Option<String>, DbError> {
    let base = RoomName::without_dot_segments(&room.name);
    for n in 1..=100 {
        let name = match n {
            1 => base.clone(),
            n => {
                let suffix = format!("-{n}");
                let keep = RoomName::MAX_LEN - suffix.len();
                format!("{}{suffix}", base.chars().take(keep).collect::<String>())
            }
        };
        if RoomName::parse(&name).is_ok()
            && Room::find_by_name(conn, room.site_id, &name)?.is_none()
        {
            return Ok(Some(name));
        }
    }
    Ok(None)
}
