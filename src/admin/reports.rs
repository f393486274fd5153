//! Reports from visitors and the approve-first queue.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::bans::{self, DurationFields};
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::{
    HeldMessage, HeldMessageId, Participant, ParticipantId, Report, ReportId, SiteId,
};
use crate::moderation::{self, bans::BanRequest};

/// GET /admin/reports?state=open|resolved&site=ID
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let open = req.query("state") != Some("resolved");
    let site: Option<SiteId> = req.query_as::<i64>("site")?.map(SiteId);
    if let Some(site) = site {
        auth.require_site(site)?;
    }
    let visible = sites::visible(admin, auth).await?;
    let site_names: HashMap<SiteId, String> =
        visible.iter().map(|s| (s.id, s.name.clone())).collect();
    let sites = site.map(|s| vec![s]).or_else(|| auth.sites.clone());
    let (reports, held, people) = admin
        .run(move |conn| -> Result<_> {
            let reports = Report::list(conn, sites.as_deref(), open, 200)?;
            let held = HeldMessage::queue(conn, sites.as_deref(), 200)?;
            let mut ids: Vec<ParticipantId> = reports
                .iter()
                .flat_map(|(r, m, _)| [r.reporter_id, m.participant_id])
                .collect();
            ids.sort();
            ids.dedup();
            let people: HashMap<ParticipantId, Participant> = Participant::find_many(conn, &ids)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect();
            Ok((reports, held, people))
        })
        .await?;
    // Name, kind and id: two people may share a name.
    let who = |id: ParticipantId| match people.get(&id) {
        Some(p) => json!({"id": id, "nick": p.nick, "kind": p.kind}),
        None => json!({"id": id, "nick": id.to_string(), "kind": "unknown"}),
    };
    let rows: Vec<_> = reports
        .iter()
        .map(|(r, m, room)| {
            json!({
                "id": r.id,
                "reason": r.reason,
                "created_at": r.created_at,
                "resolution": r.resolution,
                "resolved_at": r.resolved_at,
                "room": room,
                "site": site_names.get(&r.site_id),
                "message": {"id": m.id, "text": m.body, "deleted": m.deleted_at.is_some(), "created_at": m.created_at},
                "author": who(m.participant_id),
                "reporter": who(r.reporter_id),
            })
        })
        .collect();
    let queue: Vec<_> = held
        .iter()
        .map(|(h, p, room)| {
            json!({"id": h.id, "text": h.body, "room": room, "created_at": h.created_at,
                   "site": site_names.get(&h.site_id),
                   "author": {"id": p.id, "nick": p.nick, "kind": p.kind}})
        })
        .collect();
    admin.page(
        req,
        auth,
        "reports",
        json!({"title": "Reports", "open": open, "reports": rows, "held": queue,
               "sites": sites::options(&visible, site), "site": site,
               "several_sites": visible.len() > 1}),
    )
}

async fn load(
    admin: &Admin,
    auth: &Auth,
    id: ReportId,
) -> Result<(Report, crate::db::models::Message)> {
    let (report, message, _) = admin.find(move |conn| Report::find(conn, id)).await?;
    auth.require_site(report.site_id)?;
    Ok((report, message))
}

/// POST /admin/reports/{id}/dismiss
pub async fn dismiss(admin: &Admin, auth: &Auth, id: ReportId) -> Result<Reply> {
    let (report, _) = load(admin, auth, id).await?;
    moderation::messages::dismiss_report(&admin.chat, auth.actor(), report.id).await?;
    Ok(Reply::redirect("/admin/reports").flash(Flash::Ok("Report dismissed.".into())))
}

/// POST /admin/reports/{id}/delete — deletes the reported message.
pub async fn delete_message(admin: &Admin, auth: &Auth, id: ReportId) -> Result<Reply> {
    let (_, message) = load(admin, auth, id).await?;
    match moderation::messages::delete_message(&admin.chat, auth.actor(), message.id).await {
        Ok(()) | Err(moderation::ModerationError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Reply::redirect("/admin/reports")
        .flash(Flash::Ok("Message deleted and report closed.".into())))
}

/// The "Ban author" form of a report: the reason the author will read, and how long.
#[derive(Deserialize)]
struct BanAuthorForm {
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    duration: DurationFields,
}

/// POST /admin/reports/{id}/ban — bans the author on this site and deletes the message.
pub async fn ban_author(admin: &Admin, req: &Request, auth: &Auth, id: ReportId) -> Result<Reply> {
    let (report, message) = load(admin, auth, id).await?;
    let form: BanAuthorForm = req.form()?;
    let reason = form.reason.trim().to_owned();
    if reason.is_empty() {
        return Err(AdminError::BadRequest(
            "Give the reason the author will read.".into(),
        ));
    }
    let banned = moderation::bans::ban(
        &admin.chat,
        auth.actor(),
        BanRequest {
            site: Some(report.site_id),
            participant: Some(message.participant_id),
            cidr: None,
            reason,
            minutes: form.duration.minutes()?,
        },
    )
    .await?;
    match moderation::messages::delete_message(&admin.chat, auth.actor(), message.id).await {
        Ok(()) | Err(moderation::ModerationError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Reply::redirect("/admin/reports").flash(Flash::Ok(format!(
        "Author banned {}; message deleted; {}.",
        banned
            .ban
            .expires_at
            .map_or("permanently".to_owned(), |t| format!(
                "until {}",
                crate::timefmt::utc(t)
            )),
        bans::closed_chats(banned.closed_here)
    ))))
}

async fn load_held(admin: &Admin, auth: &Auth, id: HeldMessageId) -> Result<HeldMessage> {
    let held = admin.find(move |conn| HeldMessage::find(conn, id)).await?;
    auth.require_site(held.site_id)?;
    Ok(held)
}

/// POST /admin/held/{id}/approve
pub async fn approve(admin: &Admin, auth: &Auth, id: HeldMessageId) -> Result<Reply> {
    let held = load_held(admin, auth, id).await?;
    let flash = match moderation::messages::approve(&admin.chat, auth.actor(), held.id).await {
        Ok(()) => Flash::Ok("Message approved: it is now in the room.".into()),
        Err(moderation::ModerationError::Invalid(why)) => Flash::Err(why),
        Err(e) => return Err(e.into()),
    };
    Ok(Reply::redirect("/admin/reports").flash(flash))
}

/// POST /admin/held/{id}/reject
pub async fn reject(admin: &Admin, auth: &Auth, id: HeldMessageId) -> Result<Reply> {
    let held = load_held(admin, auth, id).await?;
    moderation::messages::reject(&admin.chat, auth.actor(), held.id).await?;
    Ok(Reply::redirect("/admin/reports").flash(Flash::Ok("Message rejected.".into())))
}
