//! `chatctl ban`: bans a participant or an address from the command line.
//! Running servers (every instance) close the connections it covers within
//! a second (see `moderation::remote`); new connections are refused at once.

use crate::db::models::audit::Actor;
use clap::Args;

use crate::db::models::ParticipantId;
use crate::db::Db;
use crate::moderation::bans::{create_in, BanRequest};
use crate::moderation::ModerationError;

#[derive(Debug, Args)]
pub struct Opts {
    /// The site's public key; without it the ban covers every site.
    #[arg(long, value_name = "KEY")]
    pub site: Option<String>,
    /// The participant's id (shown in the admin panel and in `who.id` of frames).
    #[arg(long, value_name = "ID")]
    pub participant: Option<i64>,
    /// An IP address or CIDR range (at least /8 for IPv4, /16 for IPv6).
    #[arg(long, value_name = "CIDR")]
    pub ip: Option<String>,
    /// Shown to the banned person.
    #[arg(long)]
    pub reason: String,
    /// Lifted after this many minutes; permanent without it.
    #[arg(long)]
    pub minutes: Option<i64>,
}

pub fn run(db: &Db, opts: &Opts) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let site = match &opts.site {
        Some(key) => Some(super::find_site(&mut conn, key)?.id),
        None => None,
    };
    let request = BanRequest {
        site,
        participant: opts.participant.map(ParticipantId),
        cidr: opts.ip.clone(),
        reason: opts.reason.clone(),
        minutes: opts.minutes,
    };
    let ban = create_in(&mut conn, Actor::CommandLine, None, request).map_err(|e| match e {
        ModerationError::NotFound => anyhow::anyhow!("no such participant on that site"),
        other => anyhow::anyhow!("{other}"),
    })?;
    out!("ban {} created", ban.id);
    Ok(())
}
