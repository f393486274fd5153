//! Participants: a person as a site's chat knows them (guest, verified or
//! member), with their name, its comparison key and the addresses they used.

use diesel::prelude::*;
use serde::Serialize;

use super::name_key::ParticipantKeys;
use super::{ParticipantId, SiteId};
use crate::db::schema::{participant_ips, participants};
use crate::db::{now_ms, DbConn, DbError};
use crate::input::NameKey;
use crate::with_backend;

/// Someone who chats on a site: a guest, a user verified by the host site, or a
/// registered member. Distinct from admin accounts.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = participants)]
pub struct Participant {
    pub id: ParticipantId,
    pub site_id: SiteId,
    pub kind: ParticipantKind,
    pub external_id: Option<String>,
    pub nick: String,
    pub last_ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// http(s) URL from a host-verified token.
    pub avatar_url: Option<String>,
    /// Comparison keys of the name (see `name_key`); guests seen before
    /// their keys were stored have none until they come back.
    #[serde(skip)]
    pub name_key: Option<String>,
    #[serde(skip)]
    pub name_key_exact: Option<String>,
}

crate::text_enum! {
    /// How a participant proved who they are.
    pub enum ParticipantKind as "participant kind" {
        /// A nickname, kept by a signed guest token.
        Guest = "guest",
        /// A user verified by the host site (JWT signed with the site secret).
        Verified = "verified",
        /// A registered account with a confirmed email.
        Member = "member",
        /// The site itself, posting through the server API (one per site).
        System = "system",
    }
}

/// A participant to insert, seen now.
#[derive(Insertable)]
#[diesel(table_name = participants)]
struct NewParticipant<'a> {
    site_id: SiteId,
    kind: ParticipantKind,
    external_id: Option<&'a str>,
    nick: &'a str,
    #[diesel(embed)]
    keys: ParticipantKeys<'a>,
    avatar_url: Option<&'a str>,
    last_ip: Option<&'a str>,
    created_at: i64,
    last_seen_at: i64,
}

impl<'a> NewParticipant<'a> {
    /// Without an external id or avatar (a guest's, unless set after).
    fn new(
        site_id: SiteId,
        kind: ParticipantKind,
        nick: &'a str,
        key: &'a NameKey,
        ip: Option<&'a str>,
    ) -> Self {
        let now = now_ms();
        NewParticipant {
            site_id,
            kind,
            external_id: None,
            nick,
            keys: ParticipantKeys::from(key),
            avatar_url: None,
            last_ip: ip,
            created_at: now,
            last_seen_at: now,
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
        Self::create_guest_keyed(conn, site_id, (nick, &NameKey::of(nick)), ip)
    }

    /// A new guest called `nick`, whose key is `key` (`NameKey::of(nick)`,
    /// computed by the caller outside the transaction).
    pub fn create_guest_keyed(
        conn: &mut DbConn,
        site_id: SiteId,
        (nick, key): (&str, &NameKey),
        ip: Option<&str>,
    ) -> Result<Participant, DbError> {
        let new = NewParticipant::new(site_id, ParticipantKind::Guest, nick, key, ip);
        with_backend!(conn, c => diesel::insert_into(participants::table)
            .values(&new)
            .returning(Participant::as_returning())
            .get_result(c))
    }

    /// The participant behind an identity the server did not issue itself (a
    /// host-verified user or a registered account), created on first sight and
    /// refreshed with the current name and avatar afterwards; with whether the name or
    /// avatar others see changed (not for a participant seen for the first time).
    pub fn upsert_external(
        conn: &mut DbConn,
        site_id: SiteId,
        kind: ParticipantKind,
        external_id: &str,
        nick: &str,
        avatar: Option<&str>,
        ip: Option<&str>,
    ) -> Result<(Participant, bool), DbError> {
        let now = now_ms();
        let key = NameKey::of(nick);
        if let Some(found) = Self::find_external(conn, site_id, kind, external_id)? {
            let changed = found.nick != nick || found.avatar_url.as_deref() != avatar;
            let updated = with_backend!(conn, c => diesel::update(participants::table.find(found.id))
                .set((
                    participants::nick.eq(nick),
                    ParticipantKeys::from(&key),
                    participants::avatar_url.eq(avatar),
                    participants::last_ip.eq(ip),
                    participants::last_seen_at.eq(now),
                ))
                .returning(Participant::as_returning())
                .get_result(c))?;
            return Ok((updated, changed));
        }
        let new = NewParticipant {
            external_id: Some(external_id),
            avatar_url: avatar,
            ..NewParticipant::new(site_id, kind, nick, &key, ip)
        };
        let inserted = with_backend!(conn, c => diesel::insert_into(participants::table)
            .values(&new)
            // Not a caught unique violation: on PostgreSQL that aborts the
            // caller's transaction.
            .on_conflict_do_nothing()
            .returning(Participant::as_returning())
            .get_result(c)
            .optional())?;
        match inserted {
            Some(participant) => Ok((participant, false)),
            // Two first connections raced: the other one created it.
            None => Self::upsert_external(conn, site_id, kind, external_id, nick, avatar, ip),
        }
    }

    /// The participant of `site` with this identity given by someone else
    /// (a host-verified user's `sub`, a member's account id).
    pub fn find_external(
        conn: &mut DbConn,
        site: SiteId,
        kind: ParticipantKind,
        external_id: &str,
    ) -> Result<Option<Participant>, DbError> {
        with_backend!(conn, c => participants::table
            .filter(participants::site_id.eq(site))
            .filter(participants::kind.eq(kind))
            .filter(participants::external_id.eq(external_id))
            .select(Participant::as_select())
            .first(c)
            .optional())
    }

    pub fn find(conn: &mut DbConn, id: ParticipantId) -> Result<Option<Participant>, DbError> {
        with_backend!(conn, c => participants::table.find(id).select(Participant::as_select()).first(c).optional())
    }

    /// Records a guest's new session: current nickname (and its keys, `key`
    /// being `NameKey::of(nick)`) and address.
    pub fn touch(
        &mut self,
        conn: &mut DbConn,
        (nick, key): (&str, &NameKey),
        ip: Option<&str>,
    ) -> Result<(), DbError> {
        let now = now_ms();
        with_backend!(conn, c => diesel::update(participants::table.find(self.id))
            .set((
                participants::nick.eq(nick),
                ParticipantKeys::from(key),
                participants::last_ip.eq(ip),
                participants::last_seen_at.eq(now),
            ))
            .execute(c))?;
        self.nick = nick.to_owned();
        self.last_ip = ip.map(str::to_owned);
        self.last_seen_at = now;
        Ok(())
    }
}

/// An address a participant connected from.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = participant_ips)]
pub struct ParticipantIp {
    pub participant_id: ParticipantId,
    pub ip: String,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

/// How to look participants up in the admin panel.
#[derive(Debug, Clone)]
pub enum ParticipantQuery {
    /// Everyone (the most recently seen, as the search orders them).
    Everyone,
    Id(ParticipantId),
    /// Nickname substring, any case.
    Nick(String),
    /// Exact address, current or seen before.
    Ip(String),
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// `%text%` for LIKE, with the wildcards of `text` escaped (escape character `\`).
pub fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

impl Participant {
    /// Records that the participant connected from `ip` (first and last time seen).
    ///
    /// An insert that skips an existing pair, then an update if it did. The
    /// insert stays prepared on the connection; diesel prepares an `ON
    /// CONFLICT DO UPDATE` (and any `UPDATE`) again each time, and the
    /// hellos of new guests, thousands when a big room fills, need only the
    /// insert.
    pub fn record_ip(conn: &mut DbConn, id: ParticipantId, ip: &str) -> Result<(), DbError> {
        let now = now_ms();
        let inserted = with_backend!(conn, c => diesel::insert_into(participant_ips::table)
            .values((
                participant_ips::participant_id.eq(id),
                participant_ips::ip.eq(ip),
                participant_ips::first_seen_at.eq(now),
                participant_ips::last_seen_at.eq(now),
            ))
            .on_conflict((participant_ips::participant_id, participant_ips::ip))
            .do_nothing()
            .execute(c))?;
        if inserted == 0 {
            with_backend!(conn, c => diesel::update(
                participant_ips::table
                    .filter(participant_ips::participant_id.eq(id))
                    .filter(participant_ips::ip.eq(ip)),
            )
            .set(participant_ips::last_seen_at.eq(now))
            .execute(c))?;
        }
        Ok(())
    }

    pub fn ips(conn: &mut DbConn, id: ParticipantId) -> Result<Vec<ParticipantIp>, DbError> {
        with_backend!(conn, c => participant_ips::table
            .filter(participant_ips::participant_id.eq(id))
            .select(ParticipantIp::as_select())
            .order(participant_ips::last_seen_at.desc())
            .limit(100)
            .load(c))
    }

    /// How many participants a site has ever had.
    pub fn count_for_site(conn: &mut DbConn, site: SiteId) -> Result<i64, DbError> {
        with_backend!(conn, c => participants::table
            .filter(participants::site_id.eq(site))
            .count()
            .get_result(c))
    }

    /// The participants of these sites (`None`: all) seen most recently, newest first.
    pub fn recent(
        conn: &mut DbConn,
        sites: Option<&[SiteId]>,
        limit: i64,
    ) -> Result<Vec<Participant>, DbError> {
        Self::search(conn, sites, &ParticipantQuery::Everyone, limit)
    }

    /// How many participants other than `except` connected from `ip` at or
    /// after `since_ms` (epoch ms), on `site` (`None`: every site): the people
    /// a ban of that address would shut out with them.
    pub fn others_at_ip(
        conn: &mut DbConn,
        ip: &str,
        except: ParticipantId,
        site: Option<SiteId>,
        since_ms: i64,
    ) -> Result<i64, DbError> {
        with_backend!(conn, c => {
            let mut q = participant_ips::table
                .inner_join(participants::table)
                .filter(participant_ips::ip.eq(ip))
                .filter(participant_ips::last_seen_at.ge(since_ms))
                .filter(participant_ips::participant_id.ne(except))
                .into_boxed();
            if let Some(site) = site {
                q = q.filter(participants::site_id.eq(site));
            }
            q.count().get_result(c)
        })
    }

    /// Participants matching the query on these sites (`None`: all), most recently seen first.
    pub fn search(
        conn: &mut DbConn,
        sites: Option<&[SiteId]>,
        query: &ParticipantQuery,
        limit: i64,
    ) -> Result<Vec<Participant>, DbError> {
        with_backend!(conn, c => {
            let mut q = participants::table.select(Participant::as_select()).into_boxed();
            if let Some(sites) = sites {
                q = q.filter(participants::site_id.eq_any(sites.to_vec()));
            }
            q = match query {
                ParticipantQuery::Everyone => q,
                ParticipantQuery::Id(id) => q.filter(participants::id.eq(*id)),
                ParticipantQuery::Nick(nick) => q.filter(lower(participants::nick).like(like_pattern(nick)).escape('\\')),
                ParticipantQuery::Ip(ip) => q.filter(
                    participants::last_ip.eq(ip.clone()).or(participants::id.eq_any(
                        participant_ips::table
                            .filter(participant_ips::ip.eq(ip.clone()))
                            .select(participant_ips::participant_id),
                    )),
                ),
            };
            q.order(participants::last_seen_at.desc()).limit(limit).load(c)
        })
    }

    pub fn find_many(
        conn: &mut DbConn,
        ids: &[ParticipantId],
    ) -> Result<Vec<Participant>, DbError> {
        with_backend!(conn, c => participants::table
            .filter(participants::id.eq_any(ids.to_vec()))
            .select(Participant::as_select())
            .load(c))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::InstrumentationEvent;
    use diesel::sqlite::SqliteConnection;

    use super::*;
    use crate::db::migrate::migrate;

    /// The first time from an address sets both times, later ones only the
    /// last; the insert, all a new guest's hello needs, is prepared once and
    /// kept on the connection (diesel keeps no `ON CONFLICT DO UPDATE`).
    #[test]
    fn addresses_keep_their_first_time_and_their_statements_stay_prepared() {
        let mut conn = DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        migrate(&mut conn).unwrap();
        // Addresses alone: no participant rows to point at.
        with_backend!(&mut conn, c => diesel::connection::SimpleConnection::batch_execute(c, "PRAGMA foreign_keys = OFF"))
            .unwrap();
        let cached = Arc::new(Mutex::new(Vec::new()));
        let sink = cached.clone();
        let DbConn::Sqlite(c) = &mut conn else {
            unreachable!()
        };
        c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                sink.lock().unwrap().push(sql.to_owned());
            }
        });
        let id = ParticipantId(1);
        Participant::record_ip(&mut conn, id, "192.0.2.1").unwrap();
        let first = Participant::ips(&mut conn, id).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        for _ in 0..3 {
            Participant::record_ip(&mut conn, id, "192.0.2.1").unwrap();
        }
        Participant::record_ip(&mut conn, id, "192.0.2.2").unwrap();
        let ips = Participant::ips(&mut conn, id).unwrap();
        assert_eq!(ips.len(), 2);
        let again = ips.iter().find(|ip| ip.ip == "192.0.2.1").unwrap();
        assert_eq!(again.first_seen_at, first[0].first_seen_at);
        assert!(again.last_seen_at > first[0].last_seen_at);
        let cached = cached.lock().unwrap();
        assert!(
            cached
                .iter()
                .any(|sql| sql.starts_with("INSERT INTO `participant_ips`")),
            "the insert is kept prepared: {cached:#?}"
        );
    }
}
