//! What the WebSocket upgrade and the `hello` are checked against, kept in
//! memory: the site each key names, the origins each site allows, and the
//! bans in force. A room reconnecting after a restart is thousands of
//! upgrades a second, and each would otherwise read all three from the
//! database (docs/PERFORMANCE.md, "Big rooms").
//!
//! Every change made through chatctl clears what it touches: a ban made or
//! lifted, an origin added or removed, a site changed, enabled, disabled or
//! given a new secret (the site itself is [`Rules::site`](super::rules::Rules::site)).
//! Here at once; on the other servers when they apply the change's cluster
//! event (`moderation::remote`: at once over the broker, else within its
//! 250 ms poll). Bans that expire are dropped at each lookup; a change made
//! by hand in the database is seen within the cache's TTL.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use super::ttl_cache::TtlCache;
use crate::db::models::{Ban, ParticipantId, Site, SiteId};
use crate::db::{now_ms, Db, DbError};
use crate::input::Origin;

/// A ban in force, its address range parsed once.
struct ActiveBan {
    ban: Ban,
    range: Option<IpNet>,
}

impl ActiveBan {
    fn covers(&self, participant: Option<ParticipantId>, ip: Option<IpAddr>, now: i64) -> bool {
        self.ban.expires_at.is_none_or(|until| until > now)
            && ((participant.is_some() && self.ban.participant_id == participant)
                || ip.is_some_and(|ip| self.range.is_some_and(|net| net.contains(&ip))))
    }
}

pub struct AdmissionCache {
    db: Db,
    /// The site each key names. Keys never change; a deleted site's key is
    /// forgotten when its site is found missing.
    site_ids: Mutex<HashMap<String, SiteId>>,
    /// The origins each site lists, wildcards as written.
    origins: TtlCache<SiteId, Arc<Vec<String>>>,
    /// The bans in force on each site, its own and those on every site.
    bans: TtlCache<SiteId, Arc<Vec<ActiveBan>>>,
}

impl AdmissionCache {
    pub fn new(db: Db) -> Self {
        AdmissionCache {
            db,
            site_ids: Mutex::new(HashMap::new()),
            origins: TtlCache::default(),
            bans: TtlCache::default(),
        }
    }

    fn site_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, SiteId>> {
        self.site_ids.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The site `key` names, if any. Unknown keys are not remembered (anyone
    /// can make up keys), so each costs a query.
    pub async fn site_id(&self, key: &str) -> Result<Option<SiteId>, DbError> {
        if let Some(id) = self.site_ids().get(key) {
            return Ok(Some(*id));
        }
        let lookup = key.to_owned();
        let found = self
            .db
            .run(move |conn| Site::find_by_key(conn, &lookup))
            .await?;
        if let Some(site) = &found {
            self.site_ids().insert(key.to_owned(), site.id);
        }
        Ok(found.map(|site| site.id))
    }

    /// The site of `key` is gone (deleted).
    pub fn forget_key(&self, key: &str) {
        self.site_ids().remove(key);
    }

    /// Whether pages of `origin` may embed the chat of `site`: the origin
    /// itself or a wildcard covering it is listed (see [`Origin::admitted_by`]).
    pub async fn allows_origin(&self, site: &Arc<Site>, origin: &Origin) -> Result<bool, DbError> {
        let listed = (self.origins)
            .get_or_load(site.id, || async {
                let of = site.clone();
                Ok::<_, DbError>(Arc::new(self.db.run(move |conn| of.origins(conn)).await?))
            })
            .await?;
        Ok(origin
            .admitted_by()
            .iter()
            .any(|pattern| listed.contains(pattern)))
    }

    /// The first ban in force on `site` that covers the participant or the
    /// address (as [`Ban::find_active`] finds it in the database).
    pub async fn ban(
        &self,
        site: SiteId,
        participant: Option<ParticipantId>,
        ip: Option<IpAddr>,
    ) -> Result<Option<Ban>, DbError> {
        let active = (self.bans)
            .get_or_load(site, || async {
                let loaded = self
                    .db
                    .run(move |conn| Ban::active_for_site(conn, site))
                    .await?;
                let parsed = loaded.into_iter().map(|ban| ActiveBan {
                    range: ban.range(),
                    ban,
                });
                Ok::<_, DbError>(Arc::new(parsed.collect::<Vec<_>>()))
            })
            .await?;
        let now = now_ms();
        Ok(active
            .iter()
            .find(|a| a.covers(participant, ip, now))
            .map(|a| a.ban.clone()))
    }

    /// A ban was made or lifted (on one site or on all: every site's list is read again).
    pub fn bans_changed(&self) {
        self.bans.clear();
    }

    /// The origins `site` allows changed.
    pub fn origins_changed(&self, site: SiteId) {
        self.origins.remove(&site);
    }
}
