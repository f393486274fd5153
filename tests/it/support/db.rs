//! A fresh database per test: a SQLite file in a temporary folder, or, when
//! `DATABASE_URL` names a PostgreSQL server, a database created on it and
//! dropped with the [`TestDb`].

/// A database for one test. It lives as long as this value: the SQLite
/// directory is removed, and the PostgreSQL database dropped, with it.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server to connect to and the database to drop.
    pg: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        use diesel::{Connection, RunQueryDsl};
        let Some((base, name)) = self.pg.take() else {
            return;
        };
        // FORCE ends the connections a server under test may still hold.
        let dropped = match diesel::PgConnection::establish(&base) {
            Ok(mut admin) => {
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(err) = dropped {
            eprintln!("could not drop test database {name}: {err}");
        }
    }
}

impl TestDb {
    /// A fresh database on the backend `DATABASE_URL` chooses (SQLite without it).
    pub fn new() -> TestDb {
        match postgres_base_url() {
            Some(base) => TestDb::postgres(base),
            None => TestDb::sqlite(),
        }
    }

    fn postgres(base: String) -> TestDb {
        use diesel::{Connection, RunQueryDsl};
        let name = format!(
            "chatctl_test_{}",
            chatctl::input::random_token(12).to_lowercase()
        );
        let mut admin = diesel::PgConnection::establish(&base)
            .expect("connect to the PostgreSQL in DATABASE_URL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        let mut url = url::Url::parse(&base).expect("DATABASE_URL is a URL");
        url.set_path(&name);
        TestDb {
            url: url.to_string(),
            _dir: None,
            pg: Some((base, name)),
        }
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("chatctl.db").display());
        TestDb {
            url,
            _dir: Some(dir),
            pg: None,
        }
    }

    /// The same database for a second server on it; dropping the alias
    /// drops nothing (the original owns it).
    pub fn alias(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            _dir: None,
            pg: None,
        }
    }

    /// Takes the database out of `slot`, leaving a placeholder that owns nothing.
    pub(super) fn take(slot: &mut TestDb) -> TestDb {
        let none = TestDb {
            url: String::new(),
            _dir: None,
            pg: None,
        };
        std::mem::replace(slot, none)
    }
}

/// The PostgreSQL server named by `DATABASE_URL`, if it names one.
pub fn postgres_base_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

/// A fresh database (see [`TestDb::new`]).
pub fn test_db() -> TestDb {
    TestDb::new()
}
