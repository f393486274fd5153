//! Participants: search by nickname, id or address; a page per participant with
//! their messages, addresses, bans and mutes; ban, mute and delete actions.

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::bans::{self, DurationFields};
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::{self, Request};
use super::Admin;
use crate::db::models::message_log::{self, LogFilter};
use crate::db::models::participant::ParticipantQuery;
use crate::db::models::{Ban, Mute, Participant, ParticipantId, Site, SiteId};
use crate::db::now_ms;
use crate::moderation::{self, bans::BanRequest};

/// GET /admin/participants?q= — a search; without one, who is online now
/// and who was active most recently.
pub async fn search(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let q = req.query("q").unwrap_or_default().to_owned();
    if q.is_empty() {
        return overview(admin, req, auth).await;
    }
    let query = if let Ok(id) = q.strip_prefix('#').unwrap_or(&q).parse::<i64>() {
        ParticipantQuery::Id(ParticipantId(id))
    } else if let Ok(ip) = q.parse::<IpAddr>() {
        ParticipantQuery::Ip(ip.to_string())
    } else {
        ParticipantQuery::Nick(q.clone())
    };
    let sites = auth.sites.clone();
    let results = admin
        .run(move |conn| Participant::search(conn, sites.as_deref(), &query, 100))
        .await?;
    admin.page(
        req,
        auth,
        "participants",
        json!({"title": "Participants", "q": q, "searched": true, "results": results}),
    )
}

/// How many people the overview lists as recently active.
const RECENT: i64 = 50;

/// The participants page before a search: online now (on every instance),
/// then the most recently seen.
async fn overview(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let online = admin.chat.hub.online_participants(auth.sites.as_deref());
    let ids: Vec<ParticipantId> = online.keys().map(|id| ParticipantId(*id)).collect();
    let sites = auth.sites.clone();
    let (mut here, recent) = admin
        .run(move |conn| -> Result<_> {
            Ok((
                Participant::find_many(conn, &ids)?,
                Participant::recent(conn, sites.as_deref(), RECENT)?,
            ))
        })
        .await?;
    here.sort_by_key(|p| p.nick.to_lowercase());
    let here: Vec<_> = here
        .iter()
        .map(|p| {
            let mut row = json!(p);
            row["rooms"] = json!(online.get(&p.id.0).copied().unwrap_or(0));
            row
        })
        .collect();
    let recent: Vec<_> = recent
        .iter()
        .filter(|p| !online.contains_key(&p.id.0))
        .collect();
    admin.page(
        req,
        auth,
        "participants",
        json!({"title": "Participants", "q": "", "searched": false,
               "online_count": here.len(), "online": here, "recent": recent}),
    )
}

/// The participant, if the viewer may see their site.
pub async fn load(admin: &Admin, auth: &Auth, id: ParticipantId) -> Result<Participant> {
    let found = admin.find(move |conn| Participant::find(conn, id)).await?;
    auth.require_site(found.site_id)?;
    Ok(found)
}

/// How far back an address counts as shared with the participant being banned.
const SHARED_ADDRESS_DAYS: i64 = 30;

/// How many other participants of `site` (`None`: any site) used `ip` in the
/// last [`SHARED_ADDRESS_DAYS`].
async fn sharing_address(
    admin: &Admin,
    ip: String,
    p: ParticipantId,
    site: Option<SiteId>,
) -> Result<i64> {
    let since = now_ms() - SHARED_ADDRESS_DAYS * 86_400_000;
    Ok(admin
        .run(move |conn| Participant::others_at_ip(conn, &ip, p, site, since))
        .await?)
}

/// GET /admin/participants/{id}
pub async fn show(admin: &Admin, req: &Request, auth: &Auth, id: ParticipantId) -> Result<Reply> {
    let p = load(admin, auth, id).await?;
    let (id, site_id) = (p.id, p.site_id);
    let shared = match p.last_ip.clone() {
        Some(ip) => sharing_address(admin, ip, id, Some(site_id)).await?,
        None => 0,
    };
    let filter = LogFilter {
        participant: Some(id),
        ..LogFilter::default()
    };
    let (site, recent, ips, ban_list, mutes) = admin
        .run(move |conn| -> Result<_> {
            Ok((
                Site::find(conn, site_id)?,
                message_log::page(conn, &filter, None, 50)?,
                Participant::ips(conn, id)?,
                Ban::for_participant(conn, id)?,
                Mute::for_participant(conn, id)?,
            ))
        })
        .await?;
    let now = now_ms();
    let active_mute = mutes
        .iter()
        .find(|m| m.revoked_at.is_none() && m.expires_at > now)
        .cloned();
    // The ban that ends last is the one that says when they may come back.
    let active_ban = ban_list
        .iter()
        .filter(|b| b.is_active(now))
        .max_by_key(|b| b.expires_at.unwrap_or(i64::MAX))
        .map(|b| bans::view(b, now, auth));
    let online = admin.chat.hub.connections_by_participant(id);
    admin.page(
        req,
        auth,
        "participant",
        json!({
            "title": format!("Participant {}", p.nick),
            "participant": p,
            "site": {"id": site.id, "name": site.name},
            "online": online,
            "messages": recent.iter().map(|(m, _, room)| json!({
                "id": m.id, "room": room, "room_id": m.room_id, "seq": m.seq, "text": m.body,
                "created_at": m.created_at, "deleted": m.deleted_at.is_some(),
            })).collect::<Vec<_>>(),
            "ips": ips,
            "bans": ban_list.iter().map(|b| bans::view(b, now, auth)).collect::<Vec<_>>(),
            "mute": active_mute,
            "banned": active_ban,
            "last_ip": p.last_ip,
            "shared": shared,
            "shared_days": SHARED_ADDRESS_DAYS,
            "can_ban_globally": auth.is_admin(),
        }),
    )
}

/// The participant page's ban form. Their address is banned only when asked
/// (`with_ip`), and when others used it too only once that is confirmed
/// (`shared_ok`): offices, schools and mobile carriers share addresses.
#[derive(Deserialize)]
struct ParticipantBanForm {
    /// `all` (admins only) or this participant's site.
    scope: Option<String>,
    with_ip: Option<String>,
    shared_ok: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    duration: DurationFields,
}

/// POST /admin/participants/{id}/ban
pub async fn ban(admin: &Admin, req: &Request, auth: &Auth, id: ParticipantId) -> Result<Reply> {
    let p = load(admin, auth, id).await?;
    let form: ParticipantBanForm = req.form()?;
    let global = form.scope.as_deref() == Some("all");
    if global {
        auth.require_admin()?;
    }
    let site = if global { None } else { Some(p.site_id) };
    let cidr = match (form.with_ip.is_some(), p.last_ip.clone()) {
        (true, Some(ip)) => {
            let others = sharing_address(admin, ip.clone(), p.id, site).await?;
            if others > 0 && form.shared_ok.is_none() {
                return Err(AdminError::BadRequest(format!(
                    "{others} other participant{} used {ip} in the last {SHARED_ADDRESS_DAYS} days: \
                     banning the address shuts them out too. Tick the confirmation to ban it anyway, \
                     or ban {} alone.",
                    if others == 1 { "" } else { "s" },
                    p.nick
                )));
            }
            Some(ip)
        }
        _ => None,
    };
    let with_address = cidr.is_some();
    let banned = moderation::bans::ban(
        &admin.chat,
        auth.actor(),
        BanRequest {
            site,
            participant: Some(p.id),
            cidr,
            reason: form.reason.trim().to_owned(),
            minutes: form.duration.minutes()?,
        },
    )
    .await?;
    // Back where the moderator was: the participant's page, or the message log.
    let back = req.back_or(&format!("/admin/participants/{}", p.id));
    Ok(Reply::redirect(&back).flash(Flash::Ok(format!(
        "{}{} is banned{}; {}.",
        p.nick,
        if with_address {
            " and their address"
        } else {
            ""
        },
        banned.ban.expires_at.map_or(String::new(), |t| format!(
            " until {}",
            crate::timefmt::utc(t)
        )),
        bans::closed_chats(banned.closed_here)
    ))))
}

#[derive(Deserialize)]
struct MuteForm {
    minutes: Option<String>,
    #[serde(default)]
    reason: String,
}

/// POST /admin/participants/{id}/mute
pub async fn mute(admin: &Admin, req: &Request, auth: &Auth, id: ParticipantId) -> Result<Reply> {
    let p = load(admin, auth, id).await?;
    let form: MuteForm = req.form()?;
    let minutes: i64 = request::parse(form.minutes, "Duration")?
        .ok_or_else(|| AdminError::BadRequest("Choose how many minutes.".into()))?;
    let reason = form.reason.trim();
    moderation::mutes::mute(&admin.chat, auth.actor(), p.id, minutes, reason).await?;
    let back = req.back_or(&format!("/admin/participants/{}", p.id));
    Ok(Reply::redirect(&back).flash(Flash::Ok(format!(
        "{} is muted for {minutes} minutes.",
        p.nick
    ))))
}

/// POST /admin/participants/{id}/unmute
pub async fn unmute(admin: &Admin, auth: &Auth, id: ParticipantId) -> Result<Reply> {
    let p = load(admin, auth, id).await?;
    moderation::mutes::unmute(&admin.chat, auth.actor(), p.id).await?;
    Ok(Reply::redirect(&format!("/admin/participants/{}", p.id))
        .flash(Flash::Ok(format!("{} may post again.", p.nick))))
}

/// POST /admin/participants/{id}/delete-messages
pub async fn delete_messages(admin: &Admin, auth: &Auth, id: ParticipantId) -> Result<Reply> {
    let p = load(admin, auth, id).await?;
    let n = moderation::messages::delete_all_by(&admin.chat, auth.actor(), p.id).await?;
    Ok(Reply::redirect(&format!("/admin/participants/{}", p.id))
        .flash(Flash::Ok(format!("Deleted {n} messages of {}.", p.nick))))
}
