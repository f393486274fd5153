//! What the send path checks besides size and rate: room settings (slow mode,
//! lock, approve-first, length), mutes and the site's word filter; and the
//! site's own settings (length limit, room policy, room quota).
//!
//! They are read from the database once and cached in memory so a send costs
//! no query ([`TtlCache`]): a change made here removes its entry at once, one
//! made elsewhere when its cluster event is applied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::protocol::RoomRulesView;
use super::ttl_cache::TtlCache;
use super::word_filter::FilterSet;
use crate::db::models::{Mute, ParticipantId, Room, RoomId, Site, SiteId, WordFilter};
use crate::db::{Db, DbError};

/// A room's moderation settings.
#[derive(Debug, Clone)]
pub struct RoomRules {
    pub slow_mode_secs: u32,
    pub locked: bool,
    pub approve_first: bool,
    pub max_message_chars: Option<usize>,
}

/// The longest message allowed in a room, in characters: the smallest of the
/// server's cap, the site's limit and the room's own (a room may only be
/// stricter than its site).
pub fn max_message_chars(server_max: usize, site: &Site, room_max: Option<usize>) -> usize {
    let site_max = (site.max_message_chars.max(1) as usize).min(server_max);
    room_max.map_or(site_max, |room_max| site_max.min(room_max.max(1)))
}

impl RoomRules {
    /// What visitors' clients are told of the room's rules.
    pub fn view(&self, site: &Site, server_max: usize) -> RoomRulesView {
        RoomRulesView {
            max_message_chars: max_message_chars(server_max, site, self.max_message_chars),
            slow_mode_secs: self.slow_mode_secs,
            locked: self.locked,
            approve_first: self.approve_first,
        }
    }
}

impl From<&Room> for RoomRules {
    fn from(room: &Room) -> Self {
        RoomRules {
            slow_mode_secs: room.slow_mode_secs.max(0) as u32,
            locked: room.locked,
            approve_first: room.approve_first,
            max_message_chars: room.max_message_chars.map(|n| n.max(1) as usize),
        }
    }
}

/// A mute in force.
#[derive(Debug, Clone)]
pub struct MuteInfo {
    pub until: i64,
    pub reason: String,
}

pub struct Rules {
    db: Db,
    rooms: TtlCache<RoomId, Arc<RoomRules>>,
    /// Rooms by site and name, as a join found them (see [`Rules::room_named`]).
    rooms_by_name: TtlCache<(SiteId, String), Arc<Room>>,
    sites: TtlCache<SiteId, Arc<Site>>,
    filters: TtlCache<SiteId, Arc<FilterSet>>,
    /// Mutes in force per site: few at any time, so one query covers a site's senders.
    mutes: TtlCache<SiteId, Arc<HashMap<ParticipantId, MuteInfo>>>,
    /// When each participant last posted in each slow-mode room, as seen here.
    slow_marks: SlowMarks,
}

impl Rules {
    pub fn new(db: Db) -> Self {
        Rules {
            db,
            rooms: TtlCache::default(),
            rooms_by_name: TtlCache::default(),
            sites: TtlCache::default(),
            filters: TtlCache::default(),
            mutes: TtlCache::default(),
            slow_marks: SlowMarks::default(),
        }
    }

    pub async fn room(&self, room: RoomId) -> Result<Arc<RoomRules>, DbError> {
        (self.rooms)
            .get_or_load(room, || async {
                let loaded = self.db.run(move |conn| Room::find(conn, room)).await?;
                Ok(Arc::new(RoomRules::from(&loaded)))
            })
            .await
    }

    /// The room named `name` on `site`, as a join needs it: from memory
    /// while a connection of this server is in it (its settings are kept
    /// current by [`Rules::invalidate_room`]; its `last_seq` is not, and
    /// matters only to the room's first connection here), else read again.
    /// A crowd joining one room costs one read, not one each.
    pub async fn room_named(
        &self,
        hub: &super::hub::Hub,
        site: SiteId,
        name: &str,
    ) -> Result<Option<Arc<Room>>, DbError> {
        let key = (site, name.to_owned());
        if let Some(room) = self.rooms_by_name.get(&key) {
            if hub.has_connections(room.id) {
                return Ok(Some(room));
            }
        }
        let start = self.rooms_by_name.read_start();
        let lookup = name.to_owned();
        let found = self
            .db
            .run(move |conn| Room::find_by_name(conn, site, &lookup))
            .await?
            .map(Arc::new);
        if let Some(room) = &found {
            self.rooms_by_name.put(start, key, room.clone());
        }
        Ok(found)
    }

    /// The site as now stored: live connections follow its settings, not
    /// those of the moment they connected.
    pub async fn site(&self, site: SiteId) -> Result<Arc<Site>, DbError> {
        (self.sites)
            .get_or_load(site, || async {
                Ok(Arc::new(
                    self.db.run(move |conn| Site::find(conn, site)).await?,
                ))
            })
            .await
    }

    pub async fn filters(&self, site: SiteId) -> Result<Arc<FilterSet>, DbError> {
        (self.filters)
            .get_or_load(site, || async {
                let entries = self
                    .db
                    .run(move |conn| WordFilter::for_site(conn, site))
                    .await?;
                Ok(Arc::new(FilterSet::new(&entries)))
            })
            .await
    }

    pub async fn mute(
        &self,
        site: SiteId,
        participant: ParticipantId,
    ) -> Result<Option<MuteInfo>, DbError> {
        let now = crate::db::now_ms();
        let mutes = (self.mutes)
            .get_or_load(site, || async {
                let loaded = self
                    .db
                    .run(move |conn| Mute::active_for_site(conn, site))
                    .await?;
                let mut map: HashMap<ParticipantId, MuteInfo> = HashMap::new();
                for m in loaded {
                    // The longest mute in force wins.
                    if map
                        .get(&m.participant_id)
                        .is_none_or(|old| old.until < m.expires_at)
                    {
                        map.insert(
                            m.participant_id,
                            MuteInfo {
                                until: m.expires_at,
                                reason: m.reason,
                            },
                        );
                    }
                }
                Ok::<_, DbError>(Arc::new(map))
            })
            .await?;
        Ok(mutes.get(&participant).filter(|m| m.until > now).cloned())
    }

    /// This instance's slow-mode marks: a fast first refusal, before the
    /// writer's check against the stored messages (`writer::slow`).
    pub fn slow_marks(&self) -> SlowMarks {
        self.slow_marks.clone()
    }

    /// `Err(wait)` when the participant posted in this room less than `secs` ago
    /// through this instance; otherwise records this post.
    pub fn slow_mode(&self, room: RoomId, who: ParticipantId, secs: u32) -> Result<(), Duration> {
        self.slow_marks.check(room, who, secs)
    }

    /// A room's settings changed, or it was deleted.
    pub fn invalidate_room(&self, room: RoomId) {
        self.rooms.remove(&room);
        // Rare: every name is read again rather than an index kept by id.
        self.rooms_by_name.clear();
    }

    pub fn invalidate_site(&self, site: SiteId) {
        self.sites.remove(&site);
    }

    pub fn invalidate_filters(&self, site: SiteId) {
        self.filters.remove(&site);
    }

    pub fn invalidate_mutes(&self, site: SiteId) {
        self.mutes.remove(&site);
    }
}

/// When each participant last posted in each slow-mode room, as this instance
/// saw it (shared with the writer, which corrects it from the stored messages).
#[derive(Clone, Default)]
pub struct SlowMarks(Arc<Mutex<HashMap<(RoomId, ParticipantId), Instant>>>);

impl SlowMarks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(RoomId, ParticipantId), Instant>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(wait)` when the participant posted in this room less than `secs` ago;
    /// otherwise records this post.
    pub fn check(&self, room: RoomId, who: ParticipantId, secs: u32) -> Result<(), Duration> {
        if secs == 0 {
            return Ok(());
        }
        let gap = Duration::from_secs(u64::from(secs));
        let now = Instant::now();
        let mut last = self.lock();
        if let Some(at) = last.get(&(room, who)) {
            let since = now.duration_since(*at);
            if since < gap {
                return Err(gap - since);
            }
        }
        if last.len() > 100_000 {
            // Only recent posts matter; slow mode is at most hours.
            last.retain(|_, at| now.duration_since(*at) < Duration::from_secs(6 * 3600));
        }
        last.insert((room, who), now);
        Ok(())
    }

    /// The participant's last message in this room was stored `ago` ago (the
    /// writer refused one for slow mode): the mark moves there, so that a
    /// retry after the refusal's `retry_after_ms` is not refused here again.
    pub fn posted(&self, room: RoomId, who: ParticipantId, ago: Duration) {
        let now = Instant::now();
        let at = now.checked_sub(ago).unwrap_or(now);
        self.lock().insert((room, who), at);
    }
}
