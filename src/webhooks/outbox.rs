//! Events into the outbox: one delivery row per enabled endpoint subscribed
//! to the event, written by the caller's transaction (so the event and the
//! change it reports are stored together or not at all). Sending is
//! [`super::dispatch`]'s, later.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;

use crate::db::models::webhook::{Delivery, DeliveryState, Endpoint, EventType, NewDelivery};
use crate::db::models::{
    Message, Participant, ParticipantId, ParticipantKind, ReportId, Room, RoomId, SiteId,
};
use crate::db::{now_ms, DbConn, DbError};
use crate::input::random_token;

/// Something that happened, before it is addressed to endpoints.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    /// Message events: each endpoint gets a room's events one at a time, in order.
    pub room: Option<RoomId>,
    /// The event's `data`.
    pub data: Value,
}

impl Event {
    pub fn new(kind: EventType, data: Value) -> Event {
        Event {
            kind,
            room: None,
            data,
        }
    }

    /// An event delivered in order with the room's other ordered events.
    pub fn in_room(kind: EventType, room: RoomId, data: Value) -> Event {
        Event {
            kind,
            room: Some(room),
            data,
        }
    }
}

/// A participant as events show one: the host site's own user id (`sub`)
/// for users it verified, so that its backend knows who they are.
pub fn participant(p: &Participant) -> Value {
    let mut who = serde_json::json!({
        "id": p.id.0,
        "kind": p.kind.as_str(),
        "name": p.nick,
    });
    if p.kind == ParticipantKind::Verified {
        who["sub"] = p.external_id.clone().into();
    }
    if let Some(avatar) = &p.avatar_url {
        who["avatar"] = avatar.clone().into();
    }
    who
}

/// `room.created`, by `"admin"` (the panel, the command line, the API) or
/// `"visitor"` (opened by joining it).
pub fn room_created(room: &Room, by: &str) -> Event {
    Event::new(
        EventType::RoomCreated,
        serde_json::json!({"room": {"id": room.id.0, "name": room.name, "created_by": by}}),
    )
}

/// `report.created`: the report, the reported message (with its author)
/// and who reported it.
pub fn report_created(
    conn: &mut DbConn,
    (report, reporter): (ReportId, ParticipantId),
    message: &Message,
    reason: &str,
) -> Result<Event, DbError> {
    let room = Room::find(conn, message.room_id)?;
    let author = Participant::find(conn, message.participant_id)?;
    let reporter = Participant::find(conn, reporter)?;
    Ok(Event::new(
        EventType::ReportCreated,
        serde_json::json!({
            "report": {"id": report.0, "reason": reason},
            "room": room.name,
            "message": {
                "id": message.id.0,
                "seq": message.seq,
                "author": author.as_ref().map(participant),
                "text": message.body,
                "ts": message.created_at,
            },
            "reporter": reporter.as_ref().map(participant),
        }),
    ))
}

/// A delivery's body, as receivers get it.
#[derive(Serialize)]
struct Body<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: EventType,
    site: &'a str,
    timestamp: i64,
    data: &'a Value,
}

/// Rings the dispatcher when deliveries were stored, so they go out at once
/// rather than at its next poll.
#[derive(Clone, Default)]
pub struct Doorbell(Arc<Notify>);

impl Doorbell {
    pub fn ring(&self) {
        self.0.notify_one();
    }

    pub async fn wait(&self) {
        self.0.notified().await
    }
}

/// The enabled endpoints of some sites, read once for many events.
pub struct Subscribers {
    endpoints: Vec<(Endpoint, String)>,
}

impl Subscribers {
    /// The endpoints of these sites (`None`: of every site).
    pub fn load(conn: &mut DbConn, sites: Option<&[SiteId]>) -> Result<Subscribers, DbError> {
        if sites.is_some_and(<[SiteId]>::is_empty) {
            return Ok(Subscribers {
                endpoints: Vec::new(),
            });
        }
        Ok(Subscribers {
            endpoints: Endpoint::enabled_of(conn, sites)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// Whether some endpoint of `site` takes `kind` (build the event only then).
    pub fn wants(&self, site: SiteId, kind: EventType) -> bool {
        self.endpoints
            .iter()
            .any(|(e, _)| e.site_id == site && e.subscribes(kind))
    }

    /// The deliveries of `event` of `site` (`None`: of every site, each
    /// endpoint's body naming its own site), under one new event id.
    pub fn deliveries(&self, site: Option<SiteId>, event: &Event, now: i64) -> Vec<NewDelivery> {
        let id = format!("evt_{}", random_token(24));
        self.endpoints
            .iter()
            .filter(|(e, _)| site.is_none_or(|s| s == e.site_id) && e.subscribes(event.kind))
            .filter_map(|(endpoint, site_key)| {
                let body = Body {
                    id: &id,
                    kind: event.kind,
                    site: site_key,
                    timestamp: now,
                    data: &event.data,
                };
                let body = match serde_json::to_string(&body) {
                    Ok(body) => body,
                    Err(err) => {
                        tracing::error!(error = %err, kind = %event.kind, "cannot serialize a webhook event");
                        return None;
                    }
                };
                Some(NewDelivery {
                    endpoint_id: endpoint.id,
                    event_id: id.clone(),
                    event_type: event.kind,
                    room_id: event.room.map(|r| r.0),
                    body,
                    state: DeliveryState::Pending,
                    next_attempt_at: now,
                    created_at: now,
                })
            })
            .collect()
    }
}

/// Stores the deliveries of one event of `site` (`None`: an event of every
/// site, like a ban on all sites); returns how many. Call it inside the
/// transaction that makes the change.
pub fn enqueue(conn: &mut DbConn, site: Option<SiteId>, event: &Event) -> Result<usize, DbError> {
    let sites: Vec<SiteId> = site.into_iter().collect();
    let subscribers = Subscribers::load(conn, site.map(|_| sites.as_slice()))?;
    if subscribers.is_empty() {
        return Ok(0);
    }
    let rows = subscribers.deliveries(site, event, now_ms());
    Delivery::insert_many(conn, &rows)?;
    Ok(rows.len())
}
