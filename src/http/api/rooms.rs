//! `/api/v1/rooms`: list (with who is online and the last activity), create,
//! show, settings, delete. Changes go through `moderation::rooms`, like the
//! panel's, with the same live effects.

use serde::{Deserialize, Serialize};
use warp::http::StatusCode;

use super::{done, reply, Answer, Api, ApiError, Call, Caller};
use crate::db::models::room::RoomSettings;
use crate::db::models::{Message, Room, Scope};
use crate::input::RoomName;
use crate::moderation;

/// A room as the API shows it.
#[derive(Serialize)]
struct RoomView {
    name: String,
    /// Participants in the room now, on every instance.
    online: usize,
    /// The room's highest seq (0 before the first message).
    last_seq: i64,
    /// When the last message was posted (Unix ms), `null` before the first.
    last_activity: Option<i64>,
    created_at: i64,
    locked: bool,
    slow_mode_secs: i32,
    approve_first: bool,
    /// `null`: the site's limit applies.
    max_message_chars: Option<i32>,
}

fn view(api: &Api, room: Room, last_activity: Option<i64>) -> RoomView {
    RoomView {
        online: api.chat.hub.online_count(room.id),
        last_seq: room.last_seq,
        last_activity,
        created_at: room.created_at,
        locked: room.locked,
        slow_mode_secs: room.slow_mode_secs,
        approve_first: room.approve_first,
        max_message_chars: room.max_message_chars,
        name: room.name,
    }
}

/// A room name from a path (percent-decoded), checked.
pub(super) fn name(raw: &str) -> Result<RoomName, ApiError> {
    RoomName::parse(raw).map_err(|e| ApiError::InvalidRoom(e.sentence()))
}

/// The room of the caller's site with this name.
pub(super) async fn find(api: &Api, caller: &Caller, raw: &str) -> Result<Room, ApiError> {
    let name = name(raw)?;
    let site = caller.site.id;
    let wanted = name.as_str().to_owned();
    api.run(move |conn| Room::find_by_name(conn, site, &wanted))
        .await?
        .ok_or_else(|| ApiError::RoomNotFound(name.into_inner()))
}

/// GET /api/v1/rooms
pub async fn list(api: &Api, caller: &Caller) -> Answer {
    caller.require(Scope::Read)?;
    let site = caller.site.id;
    let (rooms, activity) = api
        .run(move |conn| -> Result<_, crate::db::DbError> {
            Ok((
                Room::list_for_site(conn, site)?,
                Message::last_activity(conn, site)?,
            ))
        })
        .await?;
    let rooms: Vec<RoomView> = rooms
        .into_iter()
        .map(|room| {
            let at = activity.get(&room.id).copied();
            view(api, room, at)
        })
        .collect();
    reply(StatusCode::OK, &serde_json::json!({ "rooms": rooms }))
}

/// GET /api/v1/rooms/{room}
pub async fn show(api: &Api, caller: &Caller, room: &str) -> Answer {
    caller.require(Scope::Read)?;
    let room = find(api, caller, room).await?;
    let (site, id) = (caller.site.id, room.id);
    let at = api
        .run(move |conn| Message::last_activity(conn, site))
        .await?
        .get(&id)
        .copied();
    reply(StatusCode::OK, &view(api, room, at))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRoom {
    name: String,
}

/// POST /api/v1/rooms — a room made ahead of time (the only kind that
/// exists on sites whose rooms are pre-created).
pub async fn create(api: &Api, caller: &Caller, call: &Call) -> Answer {
    caller.require(Scope::Publish)?;
    let body: NewRoom = call.json()?;
    let name = name(&body.name)?;
    let (site, wanted) = (caller.site.id, name.as_str().to_owned());
    let exists = api
        .run(move |conn| Room::find_by_name(conn, site, &wanted))
        .await?;
    if exists.is_some() {
        return Err(ApiError::RoomExists(name.as_str().to_owned()));
    }
    // The quota is checked in the creating transaction (rooms in use, on
    // every instance at once).
    let room = moderation::rooms::create(
        &api.chat,
        caller.actor(),
        site,
        name.as_str(),
        moderation::rooms::Quota::Applies,
    )
    .await?;
    reply(StatusCode::CREATED, &view(api, room, None))
}

/// The settings a PATCH may change; absent ones stay as they are.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    #[serde(default, deserialize_with = "not_null")]
    locked: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    slow_mode_secs: Option<i32>,
    #[serde(default, deserialize_with = "not_null")]
    approve_first: Option<bool>,
    /// `null` (explicitly): back to the site's limit.
    #[serde(default, with = "double_option")]
    max_message_chars: Option<Option<i32>>,
}

/// A field that may be absent (`None`) but not `null`: `Option<T>` alone
/// takes `null` as absent, which the schema does not allow.
fn not_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `Option<Option<T>>` that tells an absent field from an explicit `null`.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// PATCH /api/v1/rooms/{room} — lock, slow mode, approve-first, length limit.
pub async fn update(api: &Api, caller: &Caller, room: &str, call: &Call) -> Answer {
    caller.require(Scope::Moderate)?;
    let room = find(api, caller, room).await?;
    let patch: SettingsPatch = call.json()?;
    let settings = RoomSettings {
        slow_mode_secs: patch.slow_mode_secs.unwrap_or(room.slow_mode_secs),
        locked: patch.locked.unwrap_or(room.locked),
        approve_first: patch.approve_first.unwrap_or(room.approve_first),
        max_message_chars: patch.max_message_chars.unwrap_or(room.max_message_chars),
    };
    moderation::rooms::update(&api.chat, caller.actor(), room.id, settings).await?;
    let name = room.name.clone();
    show(api, caller, &name).await
}

/// DELETE /api/v1/rooms/{room} — with its messages; people inside are
/// disconnected (their widgets reconnect to a new, empty room).
pub async fn delete(api: &Api, caller: &Caller, room: &str) -> Answer {
    caller.require(Scope::Moderate)?;
    let room = find(api, caller, room).await?;
    moderation::rooms::delete(&api.chat, caller.actor(), room.id).await?;
    done()
}
