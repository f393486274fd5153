//! People: who is online in a room, participants (by id or by the site's
//! own `sub`), mutes and bans. Bans and mutes go through `moderation`, as
//! the panel's do: the same checks, the same live effects (connections
//! closed, sends refused, on every instance), audited with the key's name.

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::rooms::find;
use super::{done, id_in_path, reply, Answer, Api, ApiError, Call, Caller};
use crate::chat::protocol::Who;
use crate::db::models::{Ban, BanId, Participant, ParticipantId, ParticipantKind, Scope};
use crate::moderation::bans::{self, BanRequest};
use crate::moderation::{mutes, ModerationError};

/// GET /api/v1/rooms/{room}/online
pub async fn online(api: &Api, caller: &Caller, room: &str) -> Answer {
    caller.require(Scope::Read)?;
    let room = find(api, caller, room).await?;
    let online = api.chat.hub.online_in(room.id);
    reply(
        StatusCode::OK,
        &serde_json::json!({"room": room.name, "count": online.len(), "online": online}),
    )
}

/// A restriction in force: why, and until when (`null`: for good).
#[derive(Serialize)]
struct Restriction {
    reason: String,
    until: Option<i64>,
}

#[derive(Serialize)]
struct ParticipantView {
    #[serde(flatten)]
    who: Who,
    /// The site's own id for a verified user.
    sub: Option<String>,
    created_at: i64,
    last_seen_at: i64,
    /// In at least one room now, on any instance.
    online: bool,
    banned: Option<Restriction>,
    muted: Option<Restriction>,
}

async fn view(api: &Api, caller: &Caller, p: Participant) -> Result<ParticipantView, ApiError> {
    let (site, id) = (caller.site.id, p.id);
    let ban = api
        .run(move |conn| Ban::find_active(conn, site, Some(id), None))
        .await?;
    let mute = api.chat.rules.mute(site, id).await?;
    let online = api
        .chat
        .hub
        .online_participants(Some(&[site]))
        .contains_key(&id.0);
    Ok(ParticipantView {
        who: crate::chat::who(&p),
        sub: (p.kind == ParticipantKind::Verified)
            .then(|| p.external_id.clone())
            .flatten(),
        created_at: p.created_at,
        last_seen_at: p.last_seen_at,
        online,
        banned: ban.map(|b| Restriction {
            reason: b.reason,
            until: b.expires_at,
        }),
        muted: mute.map(|m| Restriction {
            reason: m.reason,
            until: Some(m.until),
        }),
    })
}

/// The participant of the caller's site with this id.
async fn participant(api: &Api, caller: &Caller, raw: &str) -> Result<Participant, ApiError> {
    let missing =
        || ApiError::ParticipantNotFound(format!("There is no participant {raw} on this site."));
    let id = ParticipantId(id_in_path(raw, missing)?);
    let site = caller.site.id;
    api.run(move |conn| Participant::find(conn, id))
        .await?
        .filter(|p| p.site_id == site)
        .ok_or_else(missing)
}

/// The verified user with the site's id `sub`.
async fn by_sub(api: &Api, caller: &Caller, sub: &str) -> Result<Participant, ApiError> {
    let (site, wanted) = (caller.site.id, sub.to_owned());
    api.run(move |conn| Participant::find_external(conn, site, ParticipantKind::Verified, &wanted))
        .await?
        .ok_or_else(|| {
            ApiError::ParticipantNotFound(format!(
                "No user with sub {sub:?} has chatted on this site."
            ))
        })
}

/// GET /api/v1/participants?sub=
pub async fn lookup(api: &Api, caller: &Caller, call: &Call) -> Answer {
    caller.require(Scope::Read)?;
    let sub = call
        .query("sub")
        .ok_or_else(|| ApiError::BadRequest("Name the user: ?sub=<your user id>.".into()))?;
    let found = by_sub(api, caller, sub).await?;
    reply(StatusCode::OK, &view(api, caller, found).await?)
}

/// GET /api/v1/participants/{id}
pub async fn show(api: &Api, caller: &Caller, id: &str) -> Answer {
    caller.require(Scope::Read)?;
    let found = participant(api, caller, id).await?;
    reply(StatusCode::OK, &view(api, caller, found).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MuteBody {
    minutes: i64,
    #[serde(default)]
    reason: String,
}

/// POST /api/v1/participants/{id}/mute — reads but cannot post or signal.
pub async fn mute(api: &Api, caller: &Caller, id: &str, call: &Call) -> Answer {
    caller.require(Scope::Moderate)?;
    let found = participant(api, caller, id).await?;
    let body: MuteBody = call.json()?;
    let made = mutes::mute(
        &api.chat,
        caller.actor(),
        found.id,
        body.minutes,
        &body.reason,
    )
    .await?;
    reply(
        StatusCode::CREATED,
        &serde_json::json!({"participant": found.id, "reason": made.reason, "until": made.expires_at}),
    )
}

/// DELETE /api/v1/participants/{id}/mute
pub async fn unmute(api: &Api, caller: &Caller, id: &str) -> Answer {
    caller.require(Scope::Moderate)?;
    let found = participant(api, caller, id).await?;
    mutes::unmute(&api.chat, caller.actor(), found.id).await?;
    done()
}

#[derive(Serialize)]
struct BanView {
    id: BanId,
    participant: Option<ParticipantId>,
    /// The address or range (CIDR).
    ip: Option<String>,
    reason: String,
    created_at: i64,
    /// `null`: permanent.
    until: Option<i64>,
}

impl From<Ban> for BanView {
    fn from(ban: Ban) -> Self {
        BanView {
            id: ban.id,
            participant: ban.participant_id,
            ip: ban.cidr,
            reason: ban.reason,
            created_at: ban.created_at,
            until: ban.expires_at,
        }
    }
}

/// GET /api/v1/bans — the site's bans in force.
pub async fn bans(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Moderate)?;
    let site = caller.site.id;
    let bans = api
        .run(move |conn| Ban::active_for_site(conn, site))
        .await?;
    // Server-wide bans are the operator's, not the site's.
    let bans: Vec<BanView> = bans
        .into_iter()
        .filter(|b| b.site_id == Some(site))
        .map(BanView::from)
        .collect();
    reply(StatusCode::OK, &serde_json::json!({ "bans": bans }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BanBody {
    /// A participant id...
    participant: Option<i64>,
    /// ...or a verified user by the site's id.
    sub: Option<String>,
    /// An address or a CIDR range.
    ip: Option<String>,
    reason: String,
    /// `null` or absent: permanent.
    minutes: Option<i64>,
}

/// POST /api/v1/bans — closes the connections it covers, on every instance.
pub async fn ban(api: &Api, caller: &Caller, call: &Call) -> Answer {
    caller.require(Scope::Moderate)?;
    let body: BanBody = call.json()?;
    let participant = match (body.participant, body.sub.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "Give participant or sub, not both.".into(),
            ))
        }
        (Some(id), None) => Some(participant(api, caller, &id.to_string()).await?.id),
        (None, Some(sub)) => Some(by_sub(api, caller, sub).await?.id),
        (None, None) => None,
    };
    let request = BanRequest {
        site: Some(caller.site.id),
        participant,
        cidr: body.ip,
        reason: body.reason,
        minutes: body.minutes,
    };
    let banned = bans::ban(&api.chat, caller.actor(), request).await?;
    reply(
        StatusCode::CREATED,
        &serde_json::json!({"ban": BanView::from(banned.ban), "closed": banned.closed_here}),
    )
}

/// DELETE /api/v1/bans/{id}
pub async fn unban(api: &Api, caller: &Caller, id: &str) -> Answer {
    caller.require(Scope::Moderate)?;
    let missing = || ApiError::BanNotFound(format!("There is no ban {id} in force on this site."));
    let ban_id = BanId(id_in_path(id, missing)?);
    let site = caller.site.id;
    let found = api
        .run(move |conn| Ban::find(conn, ban_id))
        .await?
        .filter(|b| b.site_id == Some(site) && b.is_active(crate::db::now_ms()))
        .ok_or_else(missing)?;
    match bans::unban(&api.chat, caller.actor(), found.id).await {
        Err(ModerationError::NotFound) => Err(missing()),
        other => other.map_err(ApiError::from).and_then(|()| done()),
    }
}
