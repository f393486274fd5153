use diesel::prelude::*;
use serde::Serialize;

use super::{ParticipantId, SiteId};
use crate::db::schema::participants;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

/// Someone who chats on a site: a guest, a user verified by the host site, or a
/// registered member. Distinct from admin accounts.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = participants)]
pub struct Participant {
    pub id: ParticipantId,
    pub site_id: SiteId,
    pub kind: String,
    pub external_id: Option<String>,
    pub nick: String,
    pub last_ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// http(s) URL from a host-verified token.
    pub avatar_url: Option<String>,
    /// Lowercased nick of non-guests, for the impersonation check.
    #[serde(skip)]
    pub nick_folded: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantKind {
    Guest,
    Verified,
    Member,
}

impl ParticipantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantKind::Guest => "guest",
            ParticipantKind::Verified => "verified",
            ParticipantKind::Member => "member",
        }
    }
}

impl Participant {
    pub fn create_guest(
        conn: &mut DbConn,
        site_id: SiteId,
        nick: &str,
        ip: Option<&str>,
    ) -> Result<Participant, DbError> {
        let now = now_ms();
        with_backend!(conn, c => diesel::insert_into(participants::table)
            .values((
                participants::site_id.eq(site_id),
                participants::kind.eq(ParticipantKind::Guest.as_str()),
                participants::nick.eq(nick),
                participants::last_ip.eq(ip),
                participants::created_at.eq(now),
                participants::last_seen_at.eq(now),
            ))
            .returning(Participant::as_returning())
            .get_result(c))
        .map_err(DbError::from)
    }

    /// The participant behind an identity the server did not issue itself (a
    /// host-verified user or a registered account), created on first sight and
    /// refreshed with the current name and avatar afterwards.
    pub fn upsert_external(
        conn: &mut DbConn,
        site_id: SiteId,
        kind: ParticipantKind,
        external_id: &str,
        nick: &str,
        avatar: Option<&str>,
        ip: Option<&str>,
    ) -> Result<Participant, DbError> {
        let now = now_ms();
        let existing = with_backend!(conn, c => participants::table
            .filter(participants::site_id.eq(site_id))
            .filter(participants::kind.eq(kind.as_str()))
            .filter(participants::external_id.eq(external_id))
            .select(Participant::as_select())
            .first(c)
            .optional())?;
        if let Some(found) = existing {
            return with_backend!(conn, c => diesel::update(participants::table.find(found.id))
                .set((
                    participants::nick.eq(nick),
                    participants::nick_folded.eq(nick.to_lowercase()),
                    participants::avatar_url.eq(avatar),
                    participants::last_ip.eq(ip),
                    participants::last_seen_at.eq(now),
                ))
                .returning(Participant::as_returning())
                .get_result(c))
            .map_err(DbError::from);
        }
        let inserted = with_backend!(conn, c => diesel::insert_into(participants::table)
            .values((
                participants::site_id.eq(site_id),
                participants::kind.eq(kind.as_str()),
                participants::external_id.eq(external_id),
                participants::nick.eq(nick),
                participants::nick_folded.eq(nick.to_lowercase()),
                participants::avatar_url.eq(avatar),
                participants::last_ip.eq(ip),
                participants::created_at.eq(now),
                participants::last_seen_at.eq(now),
            ))
            .returning(Participant::as_returning())
            .get_result(c))
        .map_err(DbError::from);
        match inserted {
            // Two first connections raced: the other one created it.
            Err(DbError::Conflict(_)) => {
                Self::upsert_external(conn, site_id, kind, external_id, nick, avatar, ip)
            }
            other => other,
        }
    }

    /// Whether a verified user or registered member of the site goes by this
    /// name (case-insensitively): guests may not impersonate them.
    pub fn nick_reserved(conn: &mut DbConn, site_id: SiteId, nick: &str) -> Result<bool, DbError> {
        let found = with_backend!(conn, c => participants::table
            .filter(participants::site_id.eq(site_id))
            .filter(participants::nick_folded.eq(nick.to_lowercase()))
            .select(participants::id)
            .first::<ParticipantId>(c)
            .optional())?;
        Ok(found.is_some())
    }

    pub fn find(conn: &mut DbConn, id: ParticipantId) -> Result<Option<Participant>, DbError> {
        with_backend!(conn, c => participants::table.find(id).select(Participant::as_select()).first(c).optional())
            .map_err(DbError::from)
    }

    /// Records a new session: current nickname and address.
    pub fn touch(
        &mut self,
        conn: &mut DbConn,
        nick: &str,
        ip: Option<&str>,
    ) -> Result<(), DbError> {
        let now = now_ms();
        with_backend!(conn, c => diesel::update(participants::table.find(self.id))
            .set((participants::nick.eq(nick), participants::last_ip.eq(ip), participants::last_seen_at.eq(now)))
            .execute(c))?;
        self.nick = nick.to_owned();
        self.last_ip = ip.map(str::to_owned);
        self.last_seen_at = now;
        Ok(())
    }
}
