//! `chatctl site rooms ...`: list a site's rooms, delete rooms, and prune the
//! rooms visitors opened and never wrote in. Running servers disconnect the
//! people in a deleted room within a second (see `moderation::remote`).

use crate::db::models::audit::Actor;
use anyhow::bail;
use clap::{Args, Subcommand};
use serde::Serialize;

use super::{find_site as find, SiteListOpts};
use crate::db::models::Room;
use crate::db::DbConn;
use crate::input::RoomName;
use crate::moderation::rooms::{self as moderation, Quota};
use crate::moderation::ModerationError;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the rooms of a site with their message counts.
    #[command(
        after_help = "Examples:\n  chatctl site rooms list pk_XXXXXXXXXXXXXXXXXXXXXXXX\n  chatctl site rooms list pk_XXXXXXXXXXXXXXXXXXXXXXXX --json"
    )]
    List(SiteListOpts),
    /// Delete rooms with everything said in them (messages, reports, held messages).
    #[command(
        after_help = "Example:\n  chatctl site rooms delete pk_XXXXXXXXXXXXXXXXXXXXXXXX spam-1 spam-2"
    )]
    Delete(DeleteOpts),
    /// Delete the rooms visitors opened and nobody ever wrote in, except those someone is in on a
    /// running server.
    #[command(
        after_help = "Example:\n  chatctl site rooms prune pk_XXXXXXXXXXXXXXXXXXXXXXXX --older-than-minutes 60"
    )]
    Prune(PruneOpts),
}

#[derive(Debug, Args)]
pub struct DeleteOpts {
    /// The site's public key.
    pub key: String,
    /// Names of the rooms to delete.
    #[arg(required = true)]
    pub rooms: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneOpts {
    /// The site's public key.
    pub key: String,
    /// Leave rooms younger than this alone: someone may be about to write in them.
    #[arg(long, default_value_t = 60)]
    pub older_than_minutes: u32,
}

/// One room as `list --json` prints it.
#[derive(Serialize)]
struct RoomRow<'a> {
    name: &'a str,
    /// Messages ever posted (the room's last seq).
    messages: i64,
    /// Opened by a visitor and never written in: pruned by `prune`.
    unused: bool,
    #[serde(serialize_with = "crate::timefmt::rfc3339")]
    created_at: i64,
    locked: bool,
    slow_mode_secs: i32,
}

pub fn run(conn: &mut DbConn, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::List(opts) => list(conn, opts),
        Command::Delete(opts) => delete(conn, opts),
        Command::Prune(opts) => {
            let site = find(conn, &opts.key)?;
            let min_age_ms = i64::from(opts.older_than_minutes) * 60_000;
            // No keep-list of our own: running servers hold the rooms people
            // are in, in the database (`chat::holds`), and the prune skips them.
            let pruned = moderation::prune_in(conn, Actor::CommandLine, site.id, min_age_ms, &[])
                .map_err(explain)?;
            out!(
                "deleted {pruned} unused room{} of {}",
                if pruned == 1 { "" } else { "s" },
                site.public_key
            );
            Ok(())
        }
    }
}

fn list(conn: &mut DbConn, opts: &SiteListOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let rooms = Room::list_for_site(conn, site.id)?;
    let rows: Vec<RoomRow> = rooms
        .iter()
        .map(|r| RoomRow {
            name: &r.name,
            messages: r.last_seq,
            unused: r.visitor_created && r.last_seq == 0,
            created_at: r.created_at,
            locked: r.locked,
            slow_mode_secs: r.slow_mode_secs,
        })
        .collect();
    if opts.json {
        return super::print_json(&rows);
    }
    if rows.is_empty() {
        out!("no rooms on {}", site.public_key);
    }
    for row in rows {
        let note = if row.unused { "  (unused)" } else { "" };
        out!("{:<40} {:>8} messages{note}", row.name, row.messages);
    }
    Ok(())
}

fn delete(conn: &mut DbConn, opts: &DeleteOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    for name in &opts.rooms {
        let name = RoomName::parse(name)?;
        let Some(room) = Room::find_by_name(conn, site.id, name.as_str())? else {
            bail!("no room {name} on {}", site.public_key);
        };
        moderation::delete_in(conn, Actor::CommandLine, None, room.id).map_err(explain)?;
        out!(
            "deleted room {name} ({} messages) of {}",
            room.last_seq,
            site.public_key
        );
    }
    Ok(())
}

/// `chatctl site add-room`.
pub(super) fn add(conn: &mut DbConn, key: &str, room: &str) -> anyhow::Result<()> {
    let site = find(conn, key)?;
    let room = moderation::create_in(conn, Actor::CommandLine, site.id, room, Quota::Exempt)
        .map_err(explain)?;
    out!("created room {} on {}", room.name, site.public_key);
    Ok(())
}

fn explain(err: ModerationError) -> anyhow::Error {
    anyhow::anyhow!("{err}")
}
