//! Webhook endpoints (a site's URLs that hear about events) and the outbox of
//! their deliveries. Rows only; what an event says and how it is sent is
//! `crate::webhooks`'s.

use diesel::prelude::*;
use serde::Serialize;

use super::{SiteId, WebhookDeliveryId, WebhookEndpointId};
use crate::db::schema::{sites, webhook_deliveries, webhook_endpoints};
use crate::db::{DbConn, DbError};
use crate::with_backend;

crate::text_enum! {
    /// What happened, as a webhook's `type` names it.
    pub enum EventType as "webhook event" {
        MessageCreated = "message.created",
        MessageDeleted = "message.deleted",
        ReportCreated = "report.created",
        ParticipantBanned = "participant.banned",
        ParticipantUnbanned = "participant.unbanned",
        RoomCreated = "room.created",
        MemberRegistered = "member.registered",
    }
}

crate::text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryState as "delivery state" {
        /// Waiting for its (next) attempt, or being attempted.
        Pending = "pending",
        /// The endpoint answered 2xx.
        Delivered = "delivered",
        /// Given up: failed for the whole retry window.
        Failed = "failed",
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub site_id: SiteId,
    pub url: String,
    /// Event names separated by spaces; see [`Endpoint::events`].
    pub events: String,
    #[serde(skip)]
    pub secret: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<i64>,
    pub created_at: i64,
}

impl Endpoint {
    /// The subscribed events; names no longer known are left out.
    pub fn events(&self) -> Vec<EventType> {
        self.events
            .split_whitespace()
            .filter_map(|name| name.parse().ok())
            .collect()
    }

    pub fn subscribes(&self, kind: EventType) -> bool {
        self.events.split_whitespace().any(|n| n == kind.as_str())
    }

    pub fn create(
        conn: &mut DbConn,
        site: SiteId,
        url: &str,
        events: &[EventType],
        secret: &str,
        now: i64,
    ) -> Result<Endpoint, DbError> {
        let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
        with_backend!(conn, c => diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::site_id.eq(site),
                webhook_endpoints::url.eq(url),
                webhook_endpoints::events.eq(names.join(" ")),
                webhook_endpoints::secret.eq(secret),
                webhook_endpoints::enabled.eq(true),
                webhook_endpoints::created_at.eq(now),
            ))
            .returning(Endpoint::as_returning())
            .get_result(c))
    }

    pub fn find(conn: &mut DbConn, id: WebhookEndpointId) -> Result<Endpoint, DbError> {
        with_backend!(conn, c => webhook_endpoints::table
            .find(id)
            .select(Endpoint::as_select())
            .first(c))
    }

    pub fn list_for_site(conn: &mut DbConn, site: SiteId) -> Result<Vec<Endpoint>, DbError> {
        with_backend!(conn, c => webhook_endpoints::table
            .filter(webhook_endpoints::site_id.eq(site))
            .order(webhook_endpoints::id)
            .select(Endpoint::as_select())
            .load(c))
    }

    /// The enabled endpoints of these sites (`None`: of every site), each
    /// with its site's public key.
    pub fn enabled_of(
        conn: &mut DbConn,
        sites_of: Option<&[SiteId]>,
    ) -> Result<Vec<(Endpoint, String)>, DbError> {
        with_backend!(conn, c => {
            let mut q = webhook_endpoints::table
                .inner_join(sites::table)
                .filter(webhook_endpoints::enabled.eq(true))
                .select((Endpoint::as_select(), sites::public_key))
                .order(webhook_endpoints::id)
                .into_boxed();
            if let Some(ids) = sites_of {
                q = q.filter(webhook_endpoints::site_id.eq_any(ids.to_vec()));
            }
            q.load(c)
        })
    }

    pub fn delete(conn: &mut DbConn, id: WebhookEndpointId) -> Result<(), DbError> {
        let n =
            with_backend!(conn, c => diesel::delete(webhook_endpoints::table.find(id)).execute(c))?;
        if n == 0 {
            return Err(DbError::NotFound);
        }
        Ok(())
    }

    /// Enables (clearing the failure record) or disables with a reason.
    pub fn set_enabled(
        conn: &mut DbConn,
        id: WebhookEndpointId,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::enabled.eq(enabled),
                webhook_endpoints::disabled_reason.eq(reason),
                webhook_endpoints::failing_since.eq(None::<i64>),
            ))
            .execute(c))?;
        Ok(())
    }

    pub fn set_secret(
        conn: &mut DbConn,
        id: WebhookEndpointId,
        secret: &str,
    ) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(webhook_endpoints::table.find(id))
            .set(webhook_endpoints::secret.eq(secret))
            .execute(c))?;
        Ok(())
    }

    /// Records a success (`None`) or the time of a failure (kept if it
    /// already fails: the first failure since the last success counts).
    pub fn record_outcome(
        conn: &mut DbConn,
        id: WebhookEndpointId,
        failed_at: Option<i64>,
    ) -> Result<(), DbError> {
        let row = webhook_endpoints::table.find(id);
        with_backend!(conn, c => match failed_at {
            None => diesel::update(row)
                .set(webhook_endpoints::failing_since.eq(None::<i64>))
                .execute(c),
            Some(at) => diesel::update(row.filter(webhook_endpoints::failing_since.is_null()))
                .set(webhook_endpoints::failing_since.eq(Some(at)))
                .execute(c),
        })?;
        Ok(())
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: WebhookDeliveryId,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: String,
    pub event_type: EventType,
    pub room_id: Option<i64>,
    pub body: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status: Option<i32>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A delivery to store in the outbox.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery {
    pub endpoint_id: WebhookEndpointId,
    pub event_id: String,
    pub event_type: EventType,
    pub room_id: Option<i64>,
    pub body: String,
    pub state: DeliveryState,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub at: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Due deliveries of enabled endpoints, oldest first, that no earlier
/// pending delivery of the same endpoint and room holds back.
const DUE: &str = "SELECT d.id FROM webhook_deliveries d \
    JOIN webhook_endpoints e ON e.id = d.endpoint_id \
    WHERE d.state = 'pending' AND d.next_attempt_at <= {now} AND e.enabled \
    AND (d.room_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
        WHERE p.endpoint_id = d.endpoint_id AND p.room_id = d.room_id \
        AND p.state = 'pending' AND p.id < d.id)) \
    ORDER BY d.id LIMIT {limit}";

impl Delivery {
    /// Stores deliveries, in order (their ids follow it). SQLite: one
    /// statement each (diesel would wrap a multi-row insert in a transaction
    /// of its own, inside the caller's). PostgreSQL: in chunks, as a writer
    /// batch times a site's endpoints can exceed 65,535 bind parameters.
    pub fn insert_many(conn: &mut DbConn, rows: &[NewDelivery]) -> Result<(), DbError> {
        match conn {
            DbConn::Sqlite(c) => {
                for row in rows {
                    diesel::insert_into(webhook_deliveries::table)
                        .values(row)
                        .execute(c)?;
                }
            }
            DbConn::Pg(c) => {
                for chunk in rows.chunks(4096) {
                    diesel::insert_into(webhook_deliveries::table)
                        .values(chunk)
                        .execute(c)?;
                }
            }
        }
        Ok(())
    }

    /// Takes up to `limit` due deliveries for an attempt: each is counted as
    /// attempted and not due again before `lease_until` (so that if this
    /// process dies mid-attempt, it is retried then). On PostgreSQL other
    /// instances skip the rows being claimed (`SKIP LOCKED`), so no delivery
    /// is attempted twice at once. Call it in a write transaction.
    pub fn claim(
        conn: &mut DbConn,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Delivery>, DbError> {
        let ids: Vec<i64> = match conn {
            DbConn::Sqlite(c) => {
                let sql = DUE.replace("{now}", "?").replace("{limit}", "?");
                diesel::sql_query(sql)
                    .bind::<diesel::sql_types::BigInt, _>(now)
                    .bind::<diesel::sql_types::BigInt, _>(limit)
                    .load::<IdRow>(c)?
            }
            DbConn::Pg(c) => {
                let sql = DUE.replace("{now}", "$1").replace("{limit}", "$2")
                    + " FOR UPDATE OF d SKIP LOCKED";
                diesel::sql_query(sql)
                    .bind::<diesel::sql_types::BigInt, _>(now)
                    .bind::<diesel::sql_types::BigInt, _>(limit)
                    .load::<IdRow>(c)?
            }
        }
        .into_iter()
        .map(|r| r.id)
        .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        with_backend!(conn, c => diesel::update(
                webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)),
            )
            .set((
                webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                webhook_deliveries::next_attempt_at.eq(lease_until),
            ))
            .returning(Delivery::as_returning())
            .get_results(c))
        .map(|mut rows: Vec<Delivery>| {
            rows.sort_by_key(|d| d.id);
            rows
        })
    }

    /// Records an attempt: the new state and, while pending, the next attempt's time.
    pub fn record(
        conn: &mut DbConn,
        id: WebhookDeliveryId,
        attempt: &Attempt,
        state: DeliveryState,
        next_attempt_at: i64,
    ) -> Result<(), DbError> {
        let delivered_at = (state == DeliveryState::Delivered).then_some(attempt.at);
        with_backend!(conn, c => diesel::update(webhook_deliveries::table.find(id))
            .set((
                webhook_deliveries::state.eq(state),
                webhook_deliveries::next_attempt_at.eq(next_attempt_at),
                webhook_deliveries::last_attempt_at.eq(Some(attempt.at)),
                webhook_deliveries::last_status.eq(attempt.status),
                webhook_deliveries::last_latency_ms.eq(Some(attempt.latency_ms)),
                webhook_deliveries::last_error.eq(attempt.error.as_deref()),
                webhook_deliveries::delivered_at.eq(delivered_at),
            ))
            .execute(c))?;
        Ok(())
    }

    pub fn find(conn: &mut DbConn, id: WebhookDeliveryId) -> Result<Delivery, DbError> {
        with_backend!(conn, c => webhook_deliveries::table
            .find(id)
            .select(Delivery::as_select())
            .first(c))
    }

    /// An endpoint's latest deliveries, newest first.
    pub fn recent(
        conn: &mut DbConn,
        endpoint: WebhookEndpointId,
        limit: i64,
    ) -> Result<Vec<Delivery>, DbError> {
        with_backend!(conn, c => webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint))
            .order(webhook_deliveries::id.desc())
            .limit(limit)
            .select(Delivery::as_select())
            .load(c))
    }

    /// Makes an endpoint's pending deliveries due now (after it is enabled again).
    pub fn wake_pending(
        conn: &mut DbConn,
        endpoint: WebhookEndpointId,
        now: i64,
    ) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint_id.eq(endpoint))
                    .filter(webhook_deliveries::state.eq(DeliveryState::Pending)),
            )
            .set(webhook_deliveries::next_attempt_at.eq(now))
            .execute(c))
    }

    /// Whether any delivery may be due (a read: on SQLite, looking costs the
    /// writer nothing, while claiming takes the write lock).
    pub fn any_due(conn: &mut DbConn, now: i64) -> Result<bool, DbError> {
        with_backend!(conn, c => diesel::select(diesel::dsl::exists(
            webhook_deliveries::table
                .inner_join(webhook_endpoints::table)
                .filter(webhook_endpoints::enabled.eq(true))
                .filter(webhook_deliveries::state.eq(DeliveryState::Pending))
                .filter(webhook_deliveries::next_attempt_at.le(now)),
        ))
        .get_result(c))
    }

    /// Deletes up to `limit` finished deliveries (delivered or given up)
    /// made before `before`; returns how many. Bounded, so that on SQLite
    /// the write lock is held briefly.
    pub fn prune(conn: &mut DbConn, before: i64, limit: i64) -> Result<usize, DbError> {
        let ids: Vec<WebhookDeliveryId> = with_backend!(conn, c => webhook_deliveries::table
            .filter(webhook_deliveries::created_at.lt(before))
            .filter(webhook_deliveries::state.ne(DeliveryState::Pending))
            .order(webhook_deliveries::id)
            .limit(limit)
            .select(webhook_deliveries::id)
            .load(c))?;
        if ids.is_empty() {
            return Ok(0);
        }
        with_backend!(conn, c => diesel::delete(
                webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)),
            )
            .execute(c))
    }
}
