use std::net::IpAddr;

use diesel::prelude::*;
use ipnet::IpNet;
use serde::Serialize;

use super::{AdminUserId, BanId, ParticipantId, SiteId};
use crate::db::schema::bans;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// A ban of a participant and/or an address range, on one site or all sites.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = bans)]
pub struct Ban {
    pub id: BanId,
    pub site_id: Option<SiteId>,
    pub participant_id: Option<ParticipantId>,
    pub cidr: Option<String>,
    pub reason: String,
    pub created_by: Option<AdminUserId>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl Ban {
    /// Whether the ban covers this address. A stored range that no longer parses
    /// covers nothing (and was rejected when it was written).
    pub fn covers_ip(&self, ip: IpAddr) -> bool {
        self.cidr
            .as_deref()
            .and_then(|c| {
                c.parse::<IpNet>()
                    .ok()
                    .or_else(|| c.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .is_some_and(|net| net.contains(&ip))
    }

    /// Active bans that apply on `site` (site-scoped or global).
    pub fn active_for_site(conn: &mut DbConn, site: SiteId) -> Result<Vec<Ban>, DbError> {
        let now = now_ms();
        with_backend!(conn, c => bans::table
            .filter(bans::revoked_at.is_null())
            .filter(bans::expires_at.is_null().or(bans::expires_at.gt(now)))
            .filter(bans::site_id.is_null().or(bans::site_id.eq(site)))
            .select(Ban::as_select())
            .load(c))
        .map_err(DbError::from)
    }

    /// The first active ban on `site` matching the participant or the address.
    pub fn find_active(
        conn: &mut DbConn,
        site: SiteId,
        participant: Option<ParticipantId>,
        ip: Option<IpAddr>,
    ) -> Result<Option<Ban>, DbError> {
        Ok(Self::active_for_site(conn, site)?.into_iter().find(|ban| {
            (participant.is_some() && ban.participant_id == participant)
                || ip.is_some_and(|ip| ban.covers_ip(ip))
        }))
    }
}
