//! Bans: by participant, by address or range, or both; on one site or all;
//! with a reason and a duration. Active and ended lists; unban.

use serde::Deserialize;
use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::{self, Request};
use super::{sites, Admin};
use crate::db::models::ban::BanState;
use crate::db::models::{Ban, BanId, Participant, ParticipantId, SiteId};
use crate::db::now_ms;
use crate::moderation::{self, bans::BanRequest};

/// A ban as pages show it (`_ban_row.hbs`), with whether this account may lift it.
pub fn view(ban: &Ban, now: i64, auth: &Auth) -> serde_json::Value {
    json!({
        "id": ban.id,
        "site_id": ban.site_id,
        "participant_id": ban.participant_id,
        "cidr": ban.cidr,
        "reason": ban.reason,
        "created_at": ban.created_at,
        "expires_at": ban.expires_at,
        "revoked_at": ban.revoked_at,
        "active": ban.is_active(now),
        // Moderators see global bans but only admins may lift them.
        "can_revoke": ban.site_id.is_some() || auth.is_admin(),
    })
}

/// The duration fields of every ban form (`_duration.hbs`): `duration` (a
/// number) and `unit` (minutes, hours, days, or `permanent`).
#[derive(Deserialize)]
pub struct DurationFields {
    duration: Option<String>,
    unit: Option<String>,
}

impl DurationFields {
    /// The ban's length in minutes; `None` means permanent.
    pub fn minutes(self) -> Result<Option<i64>> {
        let unit = request::text(self.unit).unwrap_or_else(|| "permanent".into());
        if unit == "permanent" {
            return Ok(None);
        }
        let n: i64 = request::parse(self.duration, "Duration")?.ok_or_else(|| {
            AdminError::BadRequest("Give a duration, or choose permanent.".into())
        })?;
        duration_in_minutes(n, &unit).map(Some)
    }
}

/// `n` `unit`s in minutes, at most ten years.
fn duration_in_minutes(n: i64, unit: &str) -> Result<i64> {
    let factor = match unit {
        "minutes" => 1,
        "hours" => 60,
        "days" => 1440,
        _ => return Err(AdminError::BadRequest("Unknown duration unit.".into())),
    };
    if !(1..=crate::moderation::bans::MAX_MINUTES).contains(&n.saturating_mul(factor)) {
        return Err(AdminError::BadRequest(
            "The duration must be positive and under ten years.".into(),
        ));
    }
    Ok(n * factor)
}

/// What a ban closed, for the moderator's confirmation line.
pub fn closed_chats(closed: usize) -> String {
    match closed {
        0 => "no chat was open".into(),
        1 => "1 open chat was closed".into(),
        n => format!("{n} open chats were closed"),
    }
}

/// The ban form on the bans page: a participant id, an address or range, or both.
#[derive(Deserialize)]
struct BanForm {
    /// A site id, or `all` (admins only).
    scope: Option<String>,
    participant: Option<String>,
    cidr: Option<String>,
    #[serde(default)]
    reason: String,
    #[serde(flatten)]
    duration: DurationFields,
}

/// GET /admin/bans?state=active|ended
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let ended = req.query("state") == Some("ended");
    let state = if ended {
        BanState::Ended
    } else {
        BanState::Active
    };
    let sites = auth.sites.clone();
    let (list, people) = admin
        .run(move |conn| -> Result<_> {
            let list = Ban::list(conn, sites.as_deref(), true, state, 500)?;
            let ids: Vec<ParticipantId> = list.iter().filter_map(|b| b.participant_id).collect();
            Ok((list, Participant::find_many(conn, &ids)?))
        })
        .await?;
    let now = now_ms();
    let visible = sites::visible(admin, auth).await?;
    let name = |id: Option<SiteId>| match id {
        None => "All sites".to_owned(),
        Some(id) => visible
            .iter()
            .find(|s| s.id == id)
            .map_or(id.to_string(), |s| s.name.clone()),
    };
    let rows: Vec<_> = list
        .iter()
        // A moderator sees global address bans (they apply to their sites) but not
        // the global bans of participants on sites they cannot see.
        .filter(|b| auth.is_admin() || b.site_id.is_some() || b.participant_id.is_none())
        .map(|b| {
            let mut v = view(b, now, auth);
            v["site_name"] = json!(name(b.site_id));
            v["nick"] = json!(b
                .participant_id
                .and_then(|id| people.iter().find(|p| p.id == id))
                .map(|p| p.nick.clone()));
            v
        })
        .collect();
    admin.page(
        req,
        auth,
        "bans",
        json!({
            "title": "Bans",
            "ended": ended,
            "bans": rows,
            "sites": sites::options(&visible, None),
            // With one site there is nothing to choose; with several, no silent default.
            "one_site": visible.len() == 1,
            "can_ban_globally": auth.is_admin(),
        }),
    )
}

/// POST /admin/bans — ban from the bans page (participant id and/or address).
pub async fn create(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let form: BanForm = req.form()?;
    let site = match request::text(form.scope).as_deref() {
        Some("all") => {
            auth.require_admin()?;
            None
        }
        Some(id) => {
            let id = SiteId(
                id.parse()
                    .map_err(|_| AdminError::BadRequest("Choose a site.".into()))?,
            );
            auth.require_site(id)?;
            Some(id)
        }
        None => return Err(AdminError::BadRequest("Choose a site.".into())),
    };
    let participant: Option<ParticipantId> =
        request::parse::<i64>(form.participant, "Participant id")?.map(ParticipantId);
    if let Some(p) = participant {
        let found = admin
            .run(move |conn| Participant::find(conn, p))
            .await?
            .ok_or_else(|| AdminError::BadRequest(format!("There is no participant {p}.")))?;
        auth.require_site(found.site_id)?;
        if site.is_some_and(|s| s != found.site_id) {
            return Err(AdminError::BadRequest(format!(
                "Participant {p} belongs to another site."
            )));
        }
    }
    let banned = moderation::bans::ban(
        &admin.chat,
        auth.actor(),
        BanRequest {
            site,
            participant,
            cidr: request::text(form.cidr),
            reason: form.reason.trim().to_owned(),
            minutes: form.duration.minutes()?,
        },
    )
    .await?;
    Ok(Reply::redirect("/admin/bans").flash(Flash::Ok(format!(
        "Ban created; {}.",
        closed_chats(banned.closed_here)
    ))))
}

/// POST /admin/bans/{id}/revoke
pub async fn revoke(admin: &Admin, req: &Request, auth: &Auth, id: BanId) -> Result<Reply> {
    let ban = admin.find(move |conn| Ban::find(conn, id)).await?;
    match ban.site_id {
        Some(site) => auth.require_site(site)?,
        None => auth.require_admin()?,
    }
    moderation::bans::unban(&admin.chat, auth.actor(), id).await?;
    Ok(Reply::redirect(&req.back_or("/admin/bans")).flash(Flash::Ok("Ban lifted.".into())))
}
