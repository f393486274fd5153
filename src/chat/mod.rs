//! Live chat: the wire protocol, rooms and fan-out, the group-commit writer and
//! the per-connection session logic. Knows nothing of warp: the http layer
//! feeds a [`session::Session`] with text frames and writes what it returns.

pub mod admission;
mod catchup;
pub mod cluster;
mod guest_names;
pub mod holds;
pub mod hub;
mod identify;
pub mod limits;
pub mod protocol;
pub mod publish;
pub mod queue;
pub mod recent;
mod refusal;
pub(crate) mod rooms;
pub mod rules;
pub mod session;
mod ttl_cache;
pub mod word_filter;
pub mod writer;

pub use rooms::who;

use std::net::IpAddr;
use std::sync::Arc;

use thiserror::Error;

use crate::config::Limits;
use crate::db::models::Site;
use crate::db::{Db, DbError};
use crate::identity::accounts::Accounts;
use crate::identity::GuestTokens;
use crate::input::Origin;
use crate::mail::ReportAlerts;
use crate::metrics::Metrics;
use hub::{Hub, IpSlot};
use limits::IpRateLimiter;
use writer::Writer;

/// The chat service: everything a session needs, shared by all connections.
pub struct Chat {
    pub db: Db,
    pub hub: Arc<Hub>,
    pub writer: Writer,
    /// Other instances on the same PostgreSQL database (none on SQLite).
    pub cluster: Option<Arc<cluster::Cluster>>,
    /// This server process, random at each start: the changes it records
    /// (`moderation::remote`) carry it, so that it does not apply them twice.
    pub instance: u64,
    pub guest_tokens: GuestTokens,
    pub accounts: Accounts,
    /// Mails moderators about reported messages.
    pub report_alerts: Arc<ReportAlerts>,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub ip_limiter: IpRateLimiter,
    /// New guest identities per address.
    pub new_guest_limiter: IpRateLimiter,
    /// Rooms opened and signals sent, per participant and per address.
    pub quotas: limits::Quotas,
    /// Room settings, mutes and word filters, cached for the send path.
    pub rules: rules::Rules,
    /// Site keys, origins and bans, cached for the upgrade and the hello.
    pub admission: admission::AdmissionCache,
    /// Rooms someone is in here, held against prunes made anywhere.
    pub holds: holds::Holds,
    /// Rung when webhook deliveries were stored, so they go out at once.
    pub webhooks: crate::webhooks::outbox::Doorbell,
}

/// Why a WebSocket upgrade is refused, before any frame is exchanged.
#[derive(Debug, Error)]
pub enum UpgradeError {
    #[error("unknown site key")]
    UnknownSite,
    #[error("this site is disabled")]
    SiteDisabled,
    #[error("the Origin header is required")]
    OriginRequired,
    #[error("this page's origin is not allowed for this site")]
    OriginNotAllowed,
    #[error("{}", banned_message(.reason))]
    Banned { reason: String, until: Option<i64> },
    #[error("too many connections from this address")]
    TooManyConnections,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What a banned visitor reads (with `until` beside it), before a close and
/// on a refused upgrade alike.
pub fn banned_message(reason: &str) -> String {
    format!("You are banned from this chat. Reason: {reason}")
}

impl UpgradeError {
    pub fn code(&self) -> &'static str {
        match self {
            UpgradeError::UnknownSite => "unknown_site",
            UpgradeError::SiteDisabled => "site_disabled",
            UpgradeError::OriginRequired => "origin_required",
            UpgradeError::OriginNotAllowed => "origin_not_allowed",
            UpgradeError::Banned { .. } => "banned",
            UpgradeError::TooManyConnections => "too_many_connections",
            UpgradeError::ShuttingDown => "shutting_down",
            UpgradeError::Db(_) => "internal",
        }
    }
}

/// A connection that passed the upgrade checks.
pub struct Admission {
    pub site: Arc<Site>,
    pub ip: IpAddr,
    pub slot: IpSlot,
}

impl Chat {
    /// Tells the other instances (if any) that changes applied here were
    /// recorded (`moderation::events::record`), so they apply them at once.
    pub fn tell_others(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.ring();
        }
    }

    /// Open connections per site, on every instance.
    pub fn connections_by_site(
        &self,
    ) -> std::collections::HashMap<crate::db::models::SiteId, usize> {
        match &self.cluster {
            Some(cluster) => cluster.connections_by_site(),
            None => self.hub.connections_by_site(),
        }
    }

    /// Checks site key, origin, bans and per-IP connection count, in that order,
    /// and takes one of the address's connection slots.
    pub async fn admit(
        &self,
        site_key: &str,
        origin: Option<&str>,
        ip: IpAddr,
    ) -> Result<Admission, UpgradeError> {
        let site = self.check(site_key, origin, ip).await?;
        let slot = self
            .hub
            .reserve_ip(ip, self.limits.max_connections_per_ip)
            .ok_or(UpgradeError::TooManyConnections)?;
        Ok(Admission { site, ip, slot })
    }

    /// Would a connection from this page be admitted? Same checks as [`Chat::admit`]
    /// except the connection count; lets a widget explain a refused upgrade, which
    /// browsers do not expose.
    pub async fn check(
        &self,
        site_key: &str,
        origin: Option<&str>,
        ip: IpAddr,
    ) -> Result<Arc<Site>, UpgradeError> {
        let id = self
            .admission
            .site_id(site_key)
            .await?
            .ok_or(UpgradeError::UnknownSite)?;
        let site = match self.rules.site(id).await {
            Ok(site) => site,
            Err(DbError::NotFound) => {
                self.admission.forget_key(site_key);
                return Err(UpgradeError::UnknownSite);
            }
            Err(err) => return Err(err.into()),
        };
        if !site.enabled {
            return Err(UpgradeError::SiteDisabled);
        }
        let origin = match origin.map(Origin::parse_page) {
            None => return Err(UpgradeError::OriginRequired),
            Some(Err(_)) => return Err(UpgradeError::OriginNotAllowed),
            Some(Ok(origin)) => origin,
        };
        if !self.admission.allows_origin(&site, &origin).await? {
            return Err(UpgradeError::OriginNotAllowed);
        }
        if let Some(ban) = self.admission.ban(site.id, None, Some(ip)).await? {
            return Err(UpgradeError::Banned {
                reason: ban.reason,
                until: ban.expires_at,
            });
        }
        Ok(site)
    }
}
