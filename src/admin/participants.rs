//! Participants: search by nickname, id or address; a page per participant with
//! their messages, addresses, bans and mutes; ban, mute and delete actions.

use std::net::IpAddr;

use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{bans, Admin};
use crate::db::models::message_log::{self, LogFilter};
use crate::db::models::participant::ParticipantQuery;
use crate::db::models::{Ban, Mute, Participant, ParticipantId, Site};
use crate::db::now_ms;
use crate::moderation::{self, bans::BanRequest};

/// GET /admin/participants?q=
pub async fn search(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let q = req.query("q").unwrap_or_default().to_owned();
    let results = if q.is_empty() {
        Vec::new()
    } else {
        let query = if let Ok(id) = q.strip_prefix('#').unwrap_or(&q).parse::<i64>() {
            ParticipantQuery::Id(ParticipantId(id))
        } else if let Ok(ip) = q.parse::<IpAddr>() {
            ParticipantQuery::Ip(ip.to_string())
        } else {
            ParticipantQuery::Nick(q.clone())
        };
        let sites = auth.sites.clone();
        admin
            .chat
            .db
            .run(move |conn| Participant::search(conn, sites.as_deref(), &query, 100))
            .await?
    };
    admin.page(
        req,
        auth,
        "participants",
        json!({"title": "Participants", "q": q, "searched": !q.is_empty(), "results": results}),
    )
}

/// The participant, if the viewer may see their site.
pub async fn load(admin: &Admin, auth: &Auth, id: ParticipantId) -> Result<Participant> {
    let found = admin
        .chat
        .db
        .run(move |conn| Participant::find(conn, id))
        .await?
        .ok_or(AdminError::NotFound)?;
    auth.require_site(found.site_id)?;
    Ok(found)
}

/// GET /admin/participants/{id}
pub async fn show(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let p = load(admin, auth, req.id(1)?).await?;
    let (id, site_id) = (p.id, p.site_id);
    let filter = LogFilter {
        participant: Some(id),
        ..LogFilter::default()
    };
    let (site, recent, ips, ban_list, mutes) = admin
        .chat
        .db
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
            "last_ip": p.last_ip,
            "can_ban_globally": auth.is_admin(),
        }),
    )
}

/// POST /admin/participants/{id}/ban
pub async fn ban(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let p = load(admin, auth, req.id(1)?).await?;
    let global = req.text("scope") == Some("all");
    if global {
        auth.require_admin()?;
    }
    // Also banning the address stops a guest from coming back as someone new.
    let cidr = if req.checked("with_ip") {
        p.last_ip.clone()
    } else {
        None
    };
    let ban = moderation::bans::ban(
        &admin.chat,
        auth.actor(),
        BanRequest {
            site: if global { None } else { Some(p.site_id) },
            participant: Some(p.id),
            cidr,
            reason: req.text("reason").unwrap_or_default().to_owned(),
            minutes: bans::duration_minutes(req)?,
        },
    )
    .await?;
    Ok(
        Reply::redirect(&format!("/admin/participants/{}", p.id)).flash(Flash::Ok(format!(
            "{} is banned{}; their open chats were closed.",
            p.nick,
            ban.expires_at.map_or(String::new(), |t| format!(
                " until {}",
                crate::timefmt::utc(t)
            ))
        ))),
    )
}

/// POST /admin/participants/{id}/mute
pub async fn mute(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let p = load(admin, auth, req.id(1)?).await?;
    let minutes: i64 = req
        .field_as("minutes", "Duration")?
        .ok_or_else(|| AdminError::BadRequest("Choose how many minutes.".into()))?;
    let reason = req.text("reason").unwrap_or_default();
    moderation::mutes::mute(&admin.chat, auth.actor(), p.id, minutes, reason).await?;
    Ok(
        Reply::redirect(&format!("/admin/participants/{}", p.id)).flash(Flash::Ok(format!(
            "{} is muted for {minutes} minutes.",
            p.nick
        ))),
    )
}

/// POST /admin/participants/{id}/unmute
pub async fn unmute(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let p = load(admin, auth, req.id(1)?).await?;
    moderation::mutes::unmute(&admin.chat, auth.actor(), p.id).await?;
    Ok(Reply::redirect(&format!("/admin/participants/{}", p.id))
        .flash(Flash::Ok(format!("{} may post again.", p.nick))))
}

/// POST /admin/participants/{id}/delete-messages
pub async fn delete_messages(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let p = load(admin, auth, req.id(1)?).await?;
    let n = moderation::messages::delete_all_by(&admin.chat, auth.actor(), p.id).await?;
    Ok(Reply::redirect(&format!("/admin/participants/{}", p.id))
        .flash(Flash::Ok(format!("Deleted {n} messages of {}.", p.nick))))
}
