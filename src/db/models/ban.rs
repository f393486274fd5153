//! Bans of a participant, an address or an address range (CIDR) on a site,
//! with an optional expiry; revoked bans stay for the record.

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

/// A ban to create. At least one of `participant_id` and `cidr` is set (checked by the caller).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = bans)]
pub struct NewBan {
    pub site_id: Option<SiteId>,
    pub participant_id: Option<ParticipantId>,
    pub cidr: Option<String>,
    pub reason: String,
    pub created_by: Option<AdminUserId>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// Which bans a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanState {
    Active,
    /// Expired or revoked.
    Ended,
}

impl Ban {
    pub fn create(conn: &mut DbConn, new: &NewBan) -> Result<Ban, DbError> {
        with_backend!(conn, c => diesel::insert_into(bans::table)
            .values(new)
            .returning(Ban::as_returning())
            .get_result(c))
    }

    pub fn find(conn: &mut DbConn, id: BanId) -> Result<Option<Ban>, DbError> {
        with_backend!(conn, c => bans::table.find(id).select(Ban::as_select()).first(c).optional())
    }

    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|t| t > now)
    }

    pub fn revoke(conn: &mut DbConn, id: BanId) -> Result<bool, DbError> {
        let n = with_backend!(conn, c => diesel::update(bans::table.find(id).filter(bans::revoked_at.is_null()))
            .set(bans::revoked_at.eq(Some(now_ms())))
            .execute(c))?;
        Ok(n > 0)
    }

    /// Bans in `state`, newest first. `sites`: `None` for every ban, else bans
    /// scoped to those sites (global bans included only when `include_global`).
    pub fn list(
        conn: &mut DbConn,
        sites: Option<&[SiteId]>,
        include_global: bool,
        state: BanState,
        limit: i64,
    ) -> Result<Vec<Ban>, DbError> {
        let now = now_ms();
        with_backend!(conn, c => {
            let mut q = bans::table.select(Ban::as_select()).into_boxed();
            if let Some(sites) = sites {
                let sites = sites.to_vec();
                q = if include_global {
                    q.filter(bans::site_id.eq_any(sites).or(bans::site_id.is_null()))
                } else {
                    q.filter(bans::site_id.eq_any(sites))
                };
            }
            q = match state {
                BanState::Active => q
                    .filter(bans::revoked_at.is_null())
                    .filter(bans::expires_at.is_null().or(bans::expires_at.gt(now))),
                BanState::Ended => q.filter(
                    bans::revoked_at.is_not_null().or(bans::expires_at.le(now)),
                ),
            };
            q.order(bans::id.desc()).limit(limit).load(c)
        })
    }

    /// Active bans with an id above `after`, oldest first.
    pub fn active_after(conn: &mut DbConn, after: i64) -> Result<Vec<Ban>, DbError> {
        let now = now_ms();
        with_backend!(conn, c => bans::table
            .filter(bans::id.gt(after))
            .filter(bans::revoked_at.is_null())
            .filter(bans::expires_at.is_null().or(bans::expires_at.gt(now)))
            .select(Ban::as_select())
            .order(bans::id)
            .limit(1000)
            .load(c))
    }

    /// Every ban naming this participant, newest first.
    pub fn for_participant(
        conn: &mut DbConn,
        participant: ParticipantId,
    ) -> Result<Vec<Ban>, DbError> {
        with_backend!(conn, c => bans::table
            .filter(bans::participant_id.eq(participant))
            .select(Ban::as_select())
            .order(bans::id.desc())
            .load(c))
    }

    /// The address range banned, if any. A stored range that no longer
    /// parses is none (and was rejected when it was written).
    pub fn range(&self) -> Option<IpNet> {
        self.cidr.as_deref().and_then(|c| {
            c.parse::<IpNet>()
                .ok()
                .or_else(|| c.parse::<IpAddr>().ok().map(IpNet::from))
        })
    }

    /// Whether the ban covers this address.
    pub fn covers_ip(&self, ip: IpAddr) -> bool {
        self.range().is_some_and(|net| net.contains(&ip))
    }

    /// Bans of an IPv6 range (or of an IPv4 range written as IPv6).
    pub fn of_ipv6_ranges(conn: &mut DbConn) -> Result<Vec<Ban>, DbError> {
        with_backend!(conn, c => bans::table
            .filter(bans::cidr.like("%:%"))
            .select(Ban::as_select())
            .order(bans::id)
            .load(c))
    }

    /// Stores `range` as the ban's range.
    pub fn set_range(conn: &mut DbConn, id: BanId, range: &IpNet) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(bans::table.find(id))
            .set(bans::cidr.eq(range.to_string()))
            .execute(c))?;
        Ok(())
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
