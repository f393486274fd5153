//! Embedded migrations, one directory per backend.

use diesel::migration::MigrationSource;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::{DbConn, DbError};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

fn failed(err: impl std::fmt::Display) -> DbError {
    DbError::Migration(err.to_string())
}

/// What bringing a database up to date did.
#[derive(Debug, Default)]
pub struct Migrated {
    /// The names of the migrations that ran.
    pub ran: Vec<String>,
    /// Stored data changed to meet a rule made since ([`super::repair`]).
    pub repaired: Vec<String>,
}

/// Applies pending migrations, then fills and repairs what only the server
/// can compute; returns the names of the migrations that ran.
pub fn run_pending(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    Ok(migrate(conn)?.ran)
}

/// [`run_pending`], with what the repairs changed.
pub fn migrate(conn: &mut DbConn) -> Result<Migrated, DbError> {
    let ran = match conn {
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE).map_err(failed)?,
        DbConn::Pg(c) => c.run_pending_migrations(POSTGRES).map_err(failed)?,
    };
    let ran: Vec<String> = ran.iter().map(|v| v.to_string()).collect();
    let keyed = super::models::name_key::backfill(conn)?;
    if keyed > 0 {
        tracing::info!(names = keyed, "computed the comparison keys of names");
    }
    let repaired = super::repair::run(conn)?;
    Ok(Migrated { ran, repaired })
}

/// Every embedded migration with whether it has been applied.
pub fn status(conn: &mut DbConn) -> Result<Vec<(String, bool)>, DbError> {
    fn collect<C, S>(c: &mut C, source: S) -> Result<Vec<(String, bool)>, DbError>
    where
        C: MigrationHarness<C::Backend> + diesel::Connection,
        S: MigrationSource<C::Backend>,
    {
        let applied: Vec<String> = c
            .applied_migrations()
            .map_err(failed)?
            .iter()
            .map(|v| v.to_string())
            .collect();
        Ok(source
            .migrations()
            .map_err(failed)?
            .iter()
            .map(|m| {
                let name = m.name().version().to_string();
                let done = applied.contains(&name);
                (m.name().to_string(), done)
            })
            .collect())
    }
    match conn {
        DbConn::Sqlite(c) => collect(c, SQLITE),
        DbConn::Pg(c) => collect(c, POSTGRES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<DB: diesel::backend::Backend>(source: impl MigrationSource<DB>) -> Vec<String> {
        let mut names: Vec<String> = source
            .migrations()
            .unwrap()
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        names.sort();
        names
    }

    /// Two migrations with one version (the date part of the folder name)
    /// would pass for each other: the second would never run.
    #[test]
    fn versions_are_unique_and_both_backends_have_the_same_migrations() {
        let sqlite = names::<diesel::sqlite::Sqlite>(SQLITE);
        let postgres = names::<diesel::pg::Pg>(POSTGRES);
        assert_eq!(sqlite, postgres, "every migration exists for both backends");
        let mut versions: Vec<&str> = sqlite.iter().map(|n| &n[..17]).collect();
        versions.dedup();
        assert_eq!(
            versions.len(),
            sqlite.len(),
            "one version twice: {sqlite:?}"
        );
    }
}
