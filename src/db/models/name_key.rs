//! Which names are taken on a site: those of verified users and members
//! (their participants) and of registered accounts, compared by the keys of
//! [`crate::input::names`]. Guests' names are never reserved, but they are
//! keyed too: a guest's name is theirs while they are around
//! ([`guests_named`], `chat::guest_names`). A guest's keys are computed at
//! each hello, so a migration that changes the key rules may clear them too
//! (`kind = 'guest'`): a guest without keys is compared again from their next
//! hello on.

use diesel::prelude::*;

use super::{ParticipantId, ParticipantKind, SiteId};
use crate::db::schema::{accounts, participants};
use crate::db::{DbConn, DbError};
use crate::input::NameKey;
use crate::with_backend;

macro_rules! key_columns {
    ($name:ident, $table:ident) => {
        /// A name's three keys as columns of the table, to insert or set.
        #[derive(Insertable, AsChangeset)]
        #[diesel(table_name = $table)]
        pub(super) struct $name<'a> {
            name_key: &'a str,
            name_key_exact: &'a str,
            name_key_upper: &'a str,
        }

        impl<'a> From<&'a NameKey> for $name<'a> {
            fn from(key: &'a NameKey) -> Self {
                $name {
                    name_key: &key.folded,
                    name_key_exact: &key.exact,
                    name_key_upper: &key.upper,
                }
            }
        }
    };
}

key_columns!(ParticipantKeys, participants);
key_columns!(AccountKeys, accounts);

// The site is repeated in each branch of the name tests: SQLite uses an index
// for an OR only when every branch can use one (its "OR optimization"); with
// `site_id = ? AND (a OR b OR c)` it walked every participant of the site, at
// each hello (10,000 guests joining took a minute).

/// Whether a verified user, member or account of the site has a name that
/// looks like the one with `key`.
pub fn taken(conn: &mut DbConn, site: SiteId, key: &NameKey) -> Result<bool, DbError> {
    let (folded, exact, upper) = (key.folded.as_str(), key.exact.as_str(), key.upper.as_str());
    let participant = with_backend!(conn, c => diesel::select(diesel::dsl::exists(
        participants::table
            .filter(
                participants::site_id.eq(site).and(participants::name_key.eq(folded))
                    .or(participants::site_id.eq(site).and(participants::name_key_exact.eq(exact)))
                    .or(participants::site_id.eq(site).and(participants::name_key_upper.eq(upper))),
            )
            .filter(participants::kind.ne(ParticipantKind::Guest)),
    ))
    .get_result::<bool>(c))?;
    if participant {
        return Ok(true);
    }
    with_backend!(conn, c => diesel::select(diesel::dsl::exists(
        accounts::table.filter(
            accounts::site_id.eq(site).and(accounts::name_key.eq(folded))
                .or(accounts::site_id.eq(site).and(accounts::name_key_exact.eq(exact)))
                .or(accounts::site_id.eq(site).and(accounts::name_key_upper.eq(upper))),
        ),
    ))
    .get_result::<bool>(c))
}

/// Guests of the site but `except` whose name looks like the one with `key`,
/// most recently seen first, with when they were (at most 20: the newest
/// decide whether the name is in use).
pub fn guests_named(
    conn: &mut DbConn,
    site: SiteId,
    key: &NameKey,
    except: Option<ParticipantId>,
) -> Result<Vec<(ParticipantId, i64)>, DbError> {
    let (folded, exact, upper) = (key.folded.as_str(), key.exact.as_str(), key.upper.as_str());
    let except = except.map_or(-1, |id| id.0);
    with_backend!(conn, c => participants::table
        .filter(
            participants::site_id.eq(site).and(participants::name_key.eq(folded))
                .or(participants::site_id.eq(site).and(participants::name_key_exact.eq(exact)))
                .or(participants::site_id.eq(site).and(participants::name_key_upper.eq(upper))),
        )
        .filter(participants::kind.eq(ParticipantKind::Guest))
        .filter(participants::id.ne(except))
        .select((participants::id, participants::last_seen_at))
        .order(participants::last_seen_at.desc())
        .limit(20)
        .load(c))
}

/// Computes the keys the database lacks (after a migration that added or
/// cleared them: only the server knows how). Returns how many rows it filled.
pub fn backfill(conn: &mut DbConn) -> Result<usize, DbError> {
    let people: Vec<(i64, String)> = with_backend!(conn, c => participants::table
        .filter(participants::name_key.is_null())
        .filter(participants::kind.ne(ParticipantKind::Guest))
        .select((participants::id, participants::nick))
        .load(c))?;
    for (id, nick) in &people {
        let key = NameKey::of(nick);
        with_backend!(conn, c => diesel::update(participants::table.find(id))
            .set(ParticipantKeys::from(&key))
            .execute(c))?;
    }
    let registered: Vec<(i64, String)> = with_backend!(conn, c => accounts::table
        .filter(accounts::name_key.is_null())
        .select((accounts::id, accounts::name))
        .load(c))?;
    for (id, name) in &registered {
        let key = NameKey::of(name);
        with_backend!(conn, c => diesel::update(accounts::table.find(id))
            .set(AccountKeys::from(&key))
            .execute(c))?;
    }
    Ok(people.len() + registered.len())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::connection::{Instrumentation, InstrumentationEvent};
    use diesel::sql_types::Text;
    use diesel::sqlite::SqliteConnection;

    use super::*;
    use crate::db::migrate::migrate;

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text)]
        detail: String,
    }

    /// What SQLite's planner does (EXPLAIN QUERY PLAN) with each statement `run` executes.
    fn plans(run: impl FnOnce(&mut DbConn)) -> Vec<String> {
        let mut conn = DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        migrate(&mut conn).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let DbConn::Sqlite(c) = &mut conn else {
            unreachable!()
        };
        c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event {
                sink.lock().unwrap().push(query.to_string());
            }
        });
        run(&mut conn);
        let DbConn::Sqlite(c) = &mut conn else {
            unreachable!()
        };
        c.set_instrumentation(None::<Box<dyn Instrumentation>>);
        let statements = seen.lock().unwrap().clone();
        statements
            .iter()
            .flat_map(|statement| {
                // Planned with the parameters unbound: the plan does not depend on them.
                let sql = statement.split(" -- binds:").next().unwrap();
                diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                    .load::<PlanLine>(c)
                    .unwrap()
                    .into_iter()
                    .map(|line| line.detail)
            })
            .collect()
    }

    /// A hello compares the name with everyone's on the site: each table must be
    /// searched by its name-key indexes, not walked through (one scan per hello
    /// made 10,000 guests take a minute to join).
    #[test]
    fn name_checks_search_the_name_key_indexes_instead_of_walking_the_site() {
        let key = NameKey::of("Alice");
        let lines = plans(|conn| {
            taken(conn, SiteId(1), &key).unwrap();
            guests_named(conn, SiteId(1), &key, Some(ParticipantId(7))).unwrap();
        });
        let tables: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("participants") || l.contains("accounts"))
            .collect();
        assert!(tables.len() >= 3, "{lines:#?}");
        for line in tables {
            assert!(
                line.contains("name_key"),
                "not by name key: {line}\n{lines:#?}"
            );
        }
    }
}
