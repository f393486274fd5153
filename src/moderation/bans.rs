//! Bans take effect at once: matching live connections are closed with a
//! `banned` notice, and the upgrade and `hello` checks refuse them afterwards.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

use super::{audit, events, Actor, ModerationError, Result};
use crate::chat::cluster::Control;
use crate::chat::protocol::CloseReason;
use crate::chat::Chat;
use crate::db::models::audit::AuditAction;
use crate::db::models::webhook::EventType;
use crate::db::models::{Ban, BanId, NewBan, Participant, ParticipantId, ParticipantKind, SiteId};
use crate::db::{now_ms, DbConn};
use crate::input;
use crate::webhooks::outbox::{enqueue, participant, Event};

/// Longest timed ban: ten years (of 365 days). Longer is permanent, which
/// is asked for by giving no duration.
pub const MAX_MINUTES: i64 = 3650 * 1440;

/// What to ban. At least one of `participant` and `cidr`.
#[derive(Debug, Clone)]
pub struct BanRequest {
    /// `None`: every site.
    pub site: Option<SiteId>,
    pub participant: Option<ParticipantId>,
    /// An address or a CIDR range, as typed.
    pub cidr: Option<String>,
    pub reason: String,
    /// `None`: permanent.
    pub minutes: Option<i64>,
}

/// Parses an address or range; a bare address becomes a /32 or /128. An
/// IPv4 range written in IPv6 form (mapped `::ffff:a.b.c.d`, or the old
/// compatible `::a.b.c.d`) becomes the IPv4 range: visitors' addresses are
/// compared in IPv4 form, and the width limit must see the real width.
pub fn parse_cidr(raw: &str) -> Result<IpNet> {
    let raw = raw.trim();
    let net = raw
        .parse::<IpNet>()
        .map(|net| net.trunc())
        .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            ModerationError::Invalid(format!(
                "{raw:?} is not an IP address or CIDR range (e.g. 203.0.113.7 or 203.0.113.0/24)"
            ))
        })?;
    ipv4_form(net)
}

/// `net` with an IPv4 range in IPv6 form rewritten as IPv4; a range that
/// spans beyond one is refused.
fn ipv4_form(net: IpNet) -> Result<IpNet> {
    let IpNet::V6(v6) = net else {
        return Ok(net);
    };
    if let Some(v4) = input::ipv4_range(&v6) {
        return Ok(IpNet::V4(v4));
    }
    let mapped_block: Ipv6Net = "::ffff:0:0/96".parse().expect("a valid range");
    if v6.contains(&mapped_block) || v6.contains(&Ipv6Net::from(Ipv6Addr::UNSPECIFIED)) {
        return Err(ModerationError::Invalid(format!(
            "{net} spans IPv4 addresses written as IPv6; ban an IPv4 range (e.g. 203.0.113.0/24) instead."
        )));
    }
    Ok(net)
}

/// The site's own author (kind `system`: what the site posts through the
/// server API) is not a person: banning or muting it would only stop the
/// site from posting.
pub fn refuse_system(who: &Participant, what: &str) -> Result<()> {
    if who.kind == ParticipantKind::System {
        return Err(ModerationError::Invalid(format!(
            "{} is the site's own author and cannot be {what}.",
            who.nick
        )));
    }
    Ok(())
}

/// A ban just made, and how many chats it closed on this server (the other
/// instances close theirs when the cluster event reaches them).
#[derive(Debug)]
pub struct Banned {
    pub ban: Ban,
    pub closed_here: usize,
}

/// Creates the ban, records it, and closes the connections it covers (on
/// every instance).
pub async fn ban(chat: &Chat, actor: Actor, req: BanRequest) -> Result<Banned> {
    let origin = Some(chat.instance);
    let ban = chat
        .db
        .run(move |conn| create_in(conn, actor, origin, req))
        .await?;
    // New connections are refused before the live ones close.
    chat.admission.bans_changed();
    let closed_here = kick(chat, &ban);
    chat.tell_others();
    chat.webhooks.ring();
    Ok(Banned { ban, closed_here })
}

/// Checks and stores a ban, with its audit line and the event that makes
/// every running server close the connections it covers, in one
/// transaction. `origin`: the server making it (`None`: the command line).
pub fn create_in(
    conn: &mut DbConn,
    actor: Actor,
    origin: Option<u64>,
    req: BanRequest,
) -> Result<Ban> {
    let new = checked(actor, req)?;
    conn.write_transaction(|conn| -> Result<_> {
        if let Some(p) = new.participant_id {
            let found = Participant::find(conn, p)?;
            let Some(found) = found.filter(|f| new.site_id.is_none_or(|s| s == f.site_id)) else {
                return Err(ModerationError::NotFound);
            };
            refuse_system(&found, "banned")?;
        }
        let ban = Ban::create(conn, &new)?;
        let target = describe(&ban);
        audit(
            conn,
            actor,
            ban.site_id,
            AuditAction::BanCreate,
            ("ban", ban.id.to_string()),
            target,
        )?;
        events::record(conn, origin, &Control::Banned { ban: ban.id })?;
        hook(conn, &ban, EventType::ParticipantBanned)?;
        Ok(ban)
    })
}

/// The ban a request asks for, or why it makes no sense.
fn checked(actor: Actor, req: BanRequest) -> Result<NewBan> {
    let net = req
        .cidr
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .map(parse_cidr)
        .transpose()?;
    if req.participant.is_none() && net.is_none() {
        return Err(ModerationError::Invalid(
            "Name a participant, an IP address or range, or both.".into(),
        ));
    }
    if let Some(net) = net {
        let min_prefix = input::min_ban_prefix(&net);
        if net.prefix_len() < min_prefix {
            return Err(ModerationError::Invalid(format!(
                "{net} is too wide a range; use at least /{min_prefix}."
            )));
        }
    }
    let reason = req.reason.trim().chars().take(500).collect::<String>();
    if reason.is_empty() {
        return Err(ModerationError::Invalid(
            "Give a reason; the banned person sees it.".into(),
        ));
    }
    if req.minutes.is_some_and(|m| !(1..=MAX_MINUTES).contains(&m)) {
        return Err(ModerationError::Invalid(format!(
            "A ban lasts 1 to {MAX_MINUTES} minutes (ten years); leave the duration out for a permanent ban."
        )));
    }
    let now = now_ms();
    Ok(NewBan {
        site_id: req.site,
        participant_id: req.participant,
        cidr: net.map(|n| n.to_string()),
        reason,
        created_by: actor.admin(),
        created_at: now,
        expires_at: req.minutes.map(|m| now + m * 60_000),
    })
}

/// Closes the live connections a ban covers; returns how many.
pub fn kick(chat: &Chat, ban: &Ban) -> usize {
    let message = ban.reason.clone();
    let closed = chat.hub.close_where(
        |c| {
            ban.site_id.is_none_or(|s| s == c.site)
                && ((ban.participant_id.is_some() && c.participant == ban.participant_id)
                    || ban.covers_ip(c.ip))
        },
        CloseReason::Banned,
        &message,
        ban.expires_at,
    );
    if closed > 0 {
        tracing::info!(ban = %ban.id, closed, "ban applied to live connections");
    }
    closed
}

fn describe(ban: &Ban) -> String {
    let who = match (&ban.participant_id, &ban.cidr) {
        (Some(p), Some(c)) => format!("participant {p} and {c}"),
        (Some(p), None) => format!("participant {p}"),
        (None, Some(c)) => c.clone(),
        (None, None) => "nothing".into(),
    };
    let until = match ban.expires_at {
        Some(t) => format!("until {}", crate::timefmt::utc(t)),
        None => "permanently".into(),
    };
    format!("{who} {until}: {}", ban.reason)
}

/// Lifts a ban; the banned may reconnect at once, to any instance.
pub async fn unban(chat: &Chat, actor: Actor, id: BanId) -> Result<()> {
    let origin = Some(chat.instance);
    chat.db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let ban = Ban::find(conn, id)?.ok_or(ModerationError::NotFound)?;
                if !Ban::revoke(conn, id)? {
                    return Err(ModerationError::NotFound);
                }
                audit(
                    conn,
                    actor,
                    ban.site_id,
                    AuditAction::BanRevoke,
                    ("ban", id.to_string()),
                    describe(&ban),
                )?;
                events::record(conn, origin, &Control::Unbanned { ban: id })?;
                hook(conn, &ban, EventType::ParticipantUnbanned)
            })
        })
        .await?;
    chat.admission.bans_changed();
    chat.tell_others();
    chat.webhooks.ring();
    Ok(())
}

/// Stores the webhook deliveries of a ban made or lifted, for the ban's
/// site, else the banned participant's, else (an address banned on every
/// site) every site.
fn hook(conn: &mut DbConn, ban: &Ban, kind: EventType) -> Result<()> {
    let who = match ban.participant_id {
        Some(p) => Participant::find(conn, p)?,
        None => None,
    };
    let site = ban.site_id.or(who.as_ref().map(|p| p.site_id));
    let data = serde_json::json!({
        "ban": {
            "id": ban.id.0,
            "participant": who.as_ref().map(participant),
            "address": ban.cidr,
            "reason": ban.reason,
            "all_sites": ban.site_id.is_none(),
            "created_at": ban.created_at,
            "expires_at": ban.expires_at,
        },
    });
    enqueue(conn, site, &Event::new(kind, data))?;
    Ok(())
}

/// Applies bans created since `after` (by another server sharing the
/// database, say) to this server's live connections; returns the new high mark.
pub async fn apply_new(chat: &Chat, after: i64) -> Result<i64> {
    let bans = chat
        .db
        .run(move |conn| Ban::active_after(conn, after))
        .await?;
    if !bans.is_empty() {
        // Written elsewhere, maybe without an event (by hand).
        chat.admission.bans_changed();
    }
    let mut last = after;
    for ban in &bans {
        kick(chat, ban);
        last = last.max(ban.id.0);
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> String {
        parse_cidr(raw).map_or_else(|e| format!("error: {e}"), |n| n.to_string())
    }

    #[test]
    fn ipv4_ranges_in_ipv6_form_become_ipv4() {
        assert_eq!(parsed("::ffff:127.0.0.0/104"), "127.0.0.0/8");
        assert_eq!(parsed("::ffff:203.0.113.7"), "203.0.113.7/32");
        assert_eq!(parsed("::FFFF:cb00:7100/120"), "203.0.113.0/24");
        assert_eq!(parsed("::203.0.113.7"), "203.0.113.7/32");
        assert_eq!(parsed("::ffff:0.0.0.0/96"), "0.0.0.0/0");
        // IPv6's own addresses stay IPv6.
        assert_eq!(parsed("::1"), "::1/128");
        assert_eq!(parsed("2001:db8::/32"), "2001:db8::/32");
        assert!(parsed("::/80").starts_with("error"));
        assert!(parsed("::ffff:0:0/95").starts_with("error"));
    }

    #[test]
    fn the_width_limit_sees_the_ipv4_width() {
        let req = |cidr: &str, minutes| BanRequest {
            site: None,
            participant: None,
            cidr: Some(cidr.into()),
            reason: "spam".into(),
            minutes,
        };
        for wide in ["::ffff:0.0.0.0/96", "::0.0.0.0/96", "::ffff:10.0.0.0/100"] {
            assert!(
                checked(Actor::CommandLine, req(wide, None)).is_err(),
                "{wide}"
            );
        }
        let ok = checked(Actor::CommandLine, req("::ffff:10.0.0.0/104", None)).unwrap();
        assert_eq!(ok.cidr.as_deref(), Some("10.0.0.0/8"));
        for minutes in [0, -1, MAX_MINUTES + 1, i64::MAX] {
            assert!(
                checked(Actor::CommandLine, req("10.0.0.0/8", Some(minutes))).is_err(),
                "{minutes}"
            );
        }
        assert!(checked(Actor::CommandLine, req("10.0.0.0/8", Some(MAX_MINUTES))).is_ok());
    }
}
