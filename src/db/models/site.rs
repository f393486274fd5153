//! Sites: the public key of the script tag, the JWT secret, allowed origins
//! and the settings that say who may join and how rooms open.

use diesel::prelude::*;
use serde::Serialize;

use super::SiteId;
use crate::db::schema::{site_origins, sites};
use crate::db::{now_ms, DbConn, DbError};
use crate::input::{random_token, Origin, SiteKey};
use crate::with_backend;

#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = sites)]
pub struct Site {
    pub id: SiteId,
    pub public_key: String,
    /// Signs host-verified identity tokens. Never serialized.
    #[serde(skip)]
    pub secret: String,
    pub name: String,
    pub enabled: bool,
    pub is_demo: bool,
    pub guests_allowed: bool,
    pub registration_allowed: bool,
    pub verified_required: bool,
    pub room_policy: RoomPolicy,
    pub max_rooms: i32,
    pub max_message_chars: i32,
    /// Milliseconds since the Unix epoch; serialized as RFC 3339, like every
    /// time chatctl prints.
    #[serde(serialize_with = "crate::timefmt::rfc3339")]
    pub created_at: i64,
    pub room_scope: RoomScope,
    /// The widget prints "X joined" / "X left" lines (never in rooms of more
    /// than 50 people: docs/PROTOCOL.md, `welcome`).
    pub presence_lines: bool,
}

crate::text_enum! {
    /// Whether visitors may create rooms by joining them.
    pub enum RoomPolicy as "room policy" {
        /// Rooms are created on first join, up to the site's cap.
        Open = "open",
        /// Only rooms created by an operator exist.
        Precreated = "precreated",
    }
}

/// The room every page of a [`RoomScope::Site`] site joins; the widget's
/// home page (`/`) uses it under [`RoomScope::Page`] too.
pub const SITE_ROOM: &str = "lobby";

crate::text_enum! {
    /// Which room a widget joins when its tag names none (`data-room`).
    pub enum RoomScope as "room scope" {
        /// One room for the whole site: `lobby`. The default of new sites.
        Site = "site",
        /// Each page its own room, named after its path.
        Page = "page",
    }
}

impl Site {
    /// The tag a site owner pastes into their pages.
    pub fn script_tag(&self, public_url: &str) -> String {
        format!(
            r#"<script src="{}/widget.js" data-site="{}" async></script>"#,
            public_url.trim_end_matches('/'),
            self.public_key
        )
    }

    fn new_secret() -> String {
        format!("sk_{}", random_token(40))
    }

    /// Inserts a site with its origins. Run it inside a write transaction
    /// when there are origins, so that the site and its origins land together.
    pub fn create(
        conn: &mut DbConn,
        name: &str,
        origins: &[Origin],
        is_demo: bool,
    ) -> Result<Site, DbError> {
        let key = SiteKey::generate();
        let secret = Self::new_secret();
        let now = now_ms();
        let site: Site = with_backend!(conn, c => diesel::insert_into(sites::table)
            .values((
                sites::public_key.eq(key.as_str()),
                sites::secret.eq(&secret),
                sites::name.eq(name),
                sites::is_demo.eq(is_demo),
                sites::created_at.eq(now),
                sites::room_scope.eq(RoomScope::Site),
            ))
            .returning(Site::as_returning())
            .get_result(c))?;
        for origin in origins {
            site.add_origin(conn, origin)?;
        }
        Ok(site)
    }

    pub fn find_by_key(conn: &mut DbConn, key: &str) -> Result<Option<Site>, DbError> {
        with_backend!(conn, c => sites::table
            .filter(sites::public_key.eq(key))
            .select(Site::as_select())
            .first(c)
            .optional())
    }

    pub fn find(conn: &mut DbConn, id: SiteId) -> Result<Site, DbError> {
        with_backend!(conn, c => sites::table.find(id).select(Site::as_select()).first(c))
    }

    /// Serializes, per site, what may bring a room into use (a room's
    /// creation, a join, a room's first message) until the transaction
    /// ends, and returns the site's room quota. PostgreSQL locks the site's
    /// row `FOR NO KEY UPDATE`, so rows referencing the site are still
    /// inserted meanwhile; on SQLite the write transaction is exclusive.
    pub fn lock_room_quota(conn: &mut DbConn, id: SiteId) -> Result<i32, DbError> {
        let quota = sites::table.find(id).select(sites::max_rooms);
        match conn {
            DbConn::Pg(c) => Ok(quota.for_no_key_update().first(c)?),
            DbConn::Sqlite(c) => Ok(quota.first(c)?),
        }
    }

    pub fn find_demo(conn: &mut DbConn) -> Result<Option<Site>, DbError> {
        with_backend!(conn, c => sites::table
            .filter(sites::is_demo.eq(true))
            .select(Site::as_select())
            .order(sites::id)
            .first(c)
            .optional())
    }

    /// Which of `ids` are disabled.
    pub fn disabled_among(conn: &mut DbConn, ids: &[SiteId]) -> Result<Vec<SiteId>, DbError> {
        with_backend!(conn, c => sites::table
            .filter(sites::id.eq_any(ids))
            .filter(sites::enabled.eq(false))
            .select(sites::id)
            .load(c))
    }

    pub fn list(conn: &mut DbConn) -> Result<Vec<Site>, DbError> {
        with_backend!(conn, c => sites::table.select(Site::as_select()).order(sites::id).load(c))
    }

    pub fn origins(&self, conn: &mut DbConn) -> Result<Vec<String>, DbError> {
        with_backend!(conn, c => site_origins::table
            .filter(site_origins::site_id.eq(self.id))
            .select(site_origins::origin)
            .order(site_origins::origin)
            .load(c))
    }

    /// Whether a page of `origin` may embed the chat: the origin itself or a
    /// wildcard covering it is allowed (one indexed lookup).
    pub fn allows_origin(&self, conn: &mut DbConn, origin: &Origin) -> Result<bool, DbError> {
        let patterns = origin.admitted_by();
        let count: i64 = with_backend!(conn, c => site_origins::table
            .filter(site_origins::site_id.eq(self.id))
            .filter(site_origins::origin.eq_any(&patterns))
            .count()
            .get_result(c))?;
        Ok(count > 0)
    }

    /// Whether `origin` is in the list as written (a page covered by a
    /// wildcard is not, and can be added on its own).
    fn lists_origin(&self, conn: &mut DbConn, origin: &Origin) -> Result<bool, DbError> {
        let count: i64 = with_backend!(conn, c => site_origins::table
            .filter(site_origins::site_id.eq(self.id))
            .filter(site_origins::origin.eq(origin.as_str()))
            .count()
            .get_result(c))?;
        Ok(count > 0)
    }

    /// Adds an origin; returns false when it was already in the list.
    pub fn add_origin(&self, conn: &mut DbConn, origin: &Origin) -> Result<bool, DbError> {
        if self.lists_origin(conn, origin)? {
            return Ok(false);
        }
        with_backend!(conn, c => diesel::insert_into(site_origins::table)
            .values((site_origins::site_id.eq(self.id), site_origins::origin.eq(origin.as_str())))
            .execute(c))?;
        Ok(true)
    }

    /// Removes an origin; returns false when it was not allowed.
    pub fn remove_origin(&self, conn: &mut DbConn, origin: &Origin) -> Result<bool, DbError> {
        let removed = with_backend!(conn, c => diesel::delete(
            site_origins::table
                .filter(site_origins::site_id.eq(self.id))
                .filter(site_origins::origin.eq(origin.as_str())),
        )
        .execute(c))?;
        Ok(removed > 0)
    }

    pub fn set_enabled(&self, conn: &mut DbConn, enabled: bool) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::update(sites::table.find(self.id)).set(sites::enabled.eq(enabled)).execute(c))?;
        Ok(())
    }

    /// Deletes the site and, by the schema's cascades, everything of it:
    /// origins, rooms, messages, participants, bans, reports. Audit lines stay
    /// (their site becomes null).
    pub fn delete(&self, conn: &mut DbConn) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::delete(sites::table.find(self.id)).execute(c))?;
        Ok(())
    }

    /// Replaces the secret and returns the new one (tokens signed with the old one stop working).
    pub fn rotate_secret(&self, conn: &mut DbConn) -> Result<String, DbError> {
        let secret = Self::new_secret();
        with_backend!(conn, c => diesel::update(sites::table.find(self.id)).set(sites::secret.eq(&secret)).execute(c))?;
        Ok(secret)
    }
}

/// Setting changes; `None` leaves a setting as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = sites)]
pub struct SiteSettings {
    pub name: Option<String>,
    pub guests_allowed: Option<bool>,
    pub registration_allowed: Option<bool>,
    pub verified_required: Option<bool>,
    pub room_policy: Option<RoomPolicy>,
    pub room_scope: Option<RoomScope>,
    pub max_rooms: Option<i32>,
    pub max_message_chars: Option<i32>,
    pub presence_lines: Option<bool>,
}

impl SiteSettings {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.guests_allowed.is_none()
            && self.registration_allowed.is_none()
            && self.verified_required.is_none()
            && self.room_policy.is_none()
            && self.room_scope.is_none()
            && self.max_rooms.is_none()
            && self.max_message_chars.is_none()
            && self.presence_lines.is_none()
    }

    pub fn apply(&self, conn: &mut DbConn, site: SiteId) -> Result<(), DbError> {
        if self.is_empty() {
            return Ok(());
        }
        with_backend!(conn, c => diesel::update(sites::table.find(site)).set(self).execute(c))?;
        Ok(())
    }
}
