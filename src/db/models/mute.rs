//! Mutes: a participant who stays in the room but cannot send or signal,
//! until an expiry or until lifted.

use diesel::prelude::*;
use serde::Serialize;

use super::{AdminUserId, MuteId, ParticipantId, SiteId};
use crate::db::schema::mutes;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// A timeout: the participant may read but not post until `expires_at`.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = mutes)]
pub struct Mute {
    pub id: MuteId,
    pub site_id: SiteId,
    pub participant_id: ParticipantId,
    pub reason: String,
    pub created_by: Option<AdminUserId>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl Mute {
    pub fn create(
        conn: &mut DbConn,
        site: SiteId,
        participant: ParticipantId,
        reason: &str,
        by: Option<AdminUserId>,
        expires_at: i64,
    ) -> Result<Mute, DbError> {
        with_backend!(conn, c => diesel::insert_into(mutes::table)
            .values((
                mutes::site_id.eq(site),
                mutes::participant_id.eq(participant),
                mutes::reason.eq(reason),
                mutes::created_by.eq(by),
                mutes::created_at.eq(now_ms()),
                mutes::expires_at.eq(expires_at),
            ))
            .returning(Mute::as_returning())
            .get_result(c))
    }

    /// The mute in force for this participant that lasts longest, if any.
    pub fn active(conn: &mut DbConn, participant: ParticipantId) -> Result<Option<Mute>, DbError> {
        with_backend!(conn, c => mutes::table
            .filter(mutes::participant_id.eq(participant))
            .filter(mutes::revoked_at.is_null())
            .filter(mutes::expires_at.gt(now_ms()))
            .select(Mute::as_select())
            .order(mutes::expires_at.desc())
            .first(c)
            .optional())
    }

    /// Every mute in force on the site.
    pub fn active_for_site(conn: &mut DbConn, site: SiteId) -> Result<Vec<Mute>, DbError> {
        with_backend!(conn, c => mutes::table
            .filter(mutes::site_id.eq(site))
            .filter(mutes::revoked_at.is_null())
            .filter(mutes::expires_at.gt(now_ms()))
            .select(Mute::as_select())
            .load(c))
    }

    pub fn for_participant(
        conn: &mut DbConn,
        participant: ParticipantId,
    ) -> Result<Vec<Mute>, DbError> {
        with_backend!(conn, c => mutes::table
            .filter(mutes::participant_id.eq(participant))
            .select(Mute::as_select())
            .order(mutes::id.desc())
            .limit(20)
            .load(c))
    }

    /// Lifts every mute in force on the participant; returns how many.
    pub fn revoke_all(conn: &mut DbConn, participant: ParticipantId) -> Result<usize, DbError> {
        let now = now_ms();
        with_backend!(conn, c => diesel::update(
            mutes::table
                .filter(mutes::participant_id.eq(participant))
                .filter(mutes::revoked_at.is_null())
                .filter(mutes::expires_at.gt(now)),
        )
        .set(mutes::revoked_at.eq(Some(now)))
        .execute(c))
    }
}
