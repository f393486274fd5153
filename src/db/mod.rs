//! Storage: diesel models and queries over SQLite (embedded default) or PostgreSQL.
//!
//! This layer knows nothing of rooms-as-live-objects, sockets or HTTP. Every
//! query runs on a blocking thread: async callers go through [`Db::run`].
//! Code that must differ per backend matches on [`DbConn`] with [`with_backend!`].

pub mod checkpoint;
pub mod error;
mod group_commit;
pub mod migrate;
pub mod models;
pub mod repair;
pub mod schema;
pub mod text_enum;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use tokio::sync::Semaphore;

pub use error::DbError;

/// Runs `$body` with `$c` bound to the concrete connection of either backend.
/// The body is compiled once per backend, so it may use backend-specific SQL.
/// Its diesel error comes out as a [`DbError`].
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConn::Sqlite($c) => $crate::db::DbError::lift($body),
            $crate::db::DbConn::Pg($c) => $crate::db::DbError::lift($body),
        }
    };
}

/// A connection to whichever backend `DATABASE_URL` names.
pub enum DbConn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl DbConn {
    pub fn backend_name(&self) -> &'static str {
        match self {
            DbConn::Sqlite(_) => "sqlite",
            DbConn::Pg(_) => "postgres",
        }
    }

    /// Runs `work` in a write transaction that model methods can join (they take
    /// `&mut DbConn`). On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`) so `busy_timeout` applies instead of failing on lock upgrade.
    pub fn write_transaction<T, E: From<DbError>>(
        &mut self,
        work: impl FnOnce(&mut DbConn) -> Result<T, E>,
    ) -> Result<T, E> {
        let begin = match self {
            DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
            DbConn::Pg(_) => "BEGIN",
        };
        with_backend!(self, c => c.batch_execute(begin))?;
        let result = work(self).and_then(|value| {
            with_backend!(self, c => c.batch_execute("COMMIT"))?;
            Ok(value)
        });
        if result.is_err() {
            // The transaction may already be gone (failed COMMIT); nothing more to undo then.
            let _ = with_backend!(self, c => c.batch_execute("ROLLBACK"));
        }
        result
    }
}

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DbUrl {
    /// Accepts `sqlite://path`, `sqlite:path`, `postgres://...` and `postgresql://...`.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DbUrl::Postgres(url.to_owned()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                DbError::Config(format!(
                    "unsupported database URL {url:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"
                ))
            })?;
        if path.is_empty() {
            return Err(DbError::Config("sqlite URL has an empty path".into()));
        }
        Ok(DbUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn connect(&self) -> Result<DbConn, DbError> {
        match self {
            DbUrl::Sqlite(path) => {
                let path = path
                    .to_str()
                    .ok_or_else(|| DbError::Config("sqlite path is not UTF-8".into()))?;
                let mut conn = SqliteConnection::establish(path)?;
                // WAL lets readers proceed while the writer commits; NORMAL is durable
                // across process crashes in WAL mode; busy_timeout absorbs brief locks.
                // Temporary files in memory: the statement journal of every
                // savepoint (each grouped hello has one) was a temporary file
                // written page by page.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; \
                     PRAGMA temp_store = MEMORY;",
                )?;
                Ok(DbConn::Sqlite(conn))
            }
            DbUrl::Postgres(url) => Ok(DbConn::Pg(PgConnection::establish(&with_timeouts(url))?)),
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DbUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DbUrl::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) if parsed.password().is_some() => {
                    let _ = parsed.set_password(Some("***"));
                    parsed.to_string()
                }
                _ => url.clone(),
            },
        }
    }
}

/// Client-side bounds for PostgreSQL connections, unless the URL sets its
/// own: libpq waits forever by default for a server that accepted the TCP
/// connection and then went silent, and a peer cut off by the network is
/// noticed by the kernel only after hours. With these, connecting gives up
/// after [`CONNECT_TIMEOUT_SECS`], and an established connection whose
/// peer stops answering (no acknowledgements, no keepalive replies) fails
/// within about half a minute, so the writer reconnects.
const PG_TIMEOUTS: [(&str, &str); 6] = [
    ("connect_timeout", CONNECT_TIMEOUT_SECS),
    ("keepalives", "1"),
    ("keepalives_idle", "10"),
    ("keepalives_interval", "5"),
    ("keepalives_count", "3"),
    // Milliseconds that sent data may stay unacknowledged.
    ("tcp_user_timeout", "20000"),
];
pub const CONNECT_TIMEOUT_SECS: &str = "10";

/// `url` with [`PG_TIMEOUTS`] added where it does not set them itself.
fn with_timeouts(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let given: Vec<String> = parsed.query_pairs().map(|(k, _)| k.into_owned()).collect();
    {
        let mut query = parsed.query_pairs_mut();
        for (key, value) in PG_TIMEOUTS {
            if !given.iter().any(|g| g == key) {
                query.append_pair(key, value);
            }
        }
    }
    parsed.to_string()
}

/// r2d2 manager that opens the backend named by the URL (and never guesses).
#[derive(Debug)]
pub struct Manager(DbUrl);

impl r2d2::ManageConnection for Manager {
    type Connection = DbConn;
    type Error = DbError;

    fn connect(&self) -> Result<DbConn, DbError> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), DbError> {
        with_backend!(conn, c => c.batch_execute("SELECT 1"))
    }

    fn has_broken(&self, _conn: &mut DbConn) -> bool {
        false
    }
}

pub type PooledConn = r2d2::PooledConnection<Manager>;

/// Cheap-to-clone handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<Manager>,
    /// One per pooled connection: [`Db::run`] callers wait here as futures,
    /// not each in a blocking thread parked on the pool. (Ten thousand hellos
    /// at once after a restart parked up to 512 threads, each with its stack
    /// and allocator caches: the server's memory tripled during the storm.)
    slots: Arc<Semaphore>,
    url: DbUrl,
    /// The queue of [`Db::run_grouped`].
    grouped: Arc<group_commit::GroupCommit>,
}

impl Db {
    pub fn connect(url: &str, max_size: u32) -> Result<Self, DbError> {
        let url = DbUrl::parse(url)?;
        // Fail fast with the real error instead of r2d2's generic timeout.
        drop(url.connect()?);
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .connection_timeout(Duration::from_secs(5))
            .build(Manager(url.clone()))
            .map_err(DbError::Pool)?;
        Ok(Db {
            pool,
            slots: Arc::new(Semaphore::new(max_size as usize)),
            url,
            grouped: Arc::default(),
        })
    }

    pub fn url(&self) -> &DbUrl {
        &self.url
    }

    /// A pooled connection, for blocking contexts (CLI, the writer thread).
    pub fn get(&self) -> Result<PooledConn, DbError> {
        self.pool.get().map_err(DbError::Pool)
    }

    /// Runs blocking database work off the async worker threads. The work
    /// returns the caller's own error type, so a domain refusal found inside a
    /// transaction is just an `Err` (database errors convert with `?`).
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        // FIFO: callers are served in the order they came. Never closed.
        let slot = (self.slots.clone().acquire_owned().await)
            .map_err(|e| DbError::Internal(format!("database slots: {e}")))?;
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut conn = pool.get().map_err(DbError::Pool)?;
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&mut conn)))
                .unwrap_or_else(|panic| {
                    // The connection goes back to the pool: not with a
                    // transaction left open, holding SQLite's write lock.
                    let _ = with_backend!(&mut *conn, c => c.batch_execute("ROLLBACK"));
                    std::panic::resume_unwind(panic)
                })
        })
        .await
        .map_err(|e| DbError::Internal(format!("database task failed: {e}")))?
    }

    /// Runs `work` as its own write transaction, committed together with
    /// the other `run_grouped` calls waiting at the time (one commit for a
    /// crowd; see [`group_commit`]). `work` runs in a savepoint: when it
    /// fails, only its own writes are undone. For short transactions that
    /// come in bursts (a `hello`'s participant). `work` must not begin or
    /// end a transaction itself, and must return the database errors it
    /// meets (one it swallowed would leave PostgreSQL's transaction
    /// aborted: the batch is then undone, and every caller told so).
    pub async fn run_grouped<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        group_commit::GroupCommit::run(self, work).await
    }
}

/// Current Unix time in milliseconds, the unit of every stored timestamp.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threads of this process now (the test harness's own come and go: the
    /// check below leaves room for them).
    fn threads() -> usize {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("Threads:"))?;
                line.split_whitespace().nth(1)?.parse().ok()
            })
            .unwrap_or(0)
    }

    /// Two hundred callers on a pool of two wait as futures: a couple of
    /// blocking threads do the work, not one thread per caller.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_beyond_the_pool_wait_without_a_thread_each() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).unwrap();
        let before = threads();
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let calls: Vec<_> = (0..200)
            .map(|_| {
                let (db, peak) = (db.clone(), peak.clone());
                tokio::spawn(async move {
                    db.run(move |_| -> Result<(), DbError> {
                        std::thread::sleep(Duration::from_millis(2));
                        peak.fetch_max(threads(), std::sync::atomic::Ordering::Relaxed);
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        let grew = peak
            .load(std::sync::atomic::Ordering::Relaxed)
            .saturating_sub(before);
        assert!(
            grew < 50,
            "{grew} more threads for 200 callers on a pool of 2"
        );
    }

    /// Work that panics inside a write transaction: its connection goes
    /// back to the pool, but not still holding SQLite's write lock (another
    /// connection writes at once instead of failing with "database is
    /// locked" after the busy timeout).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_inside_a_transaction_leaves_no_lock_behind() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 1).unwrap();
        let create = |conn: &mut DbConn| with_backend!(conn, c => c.batch_execute("CREATE TABLE t (name TEXT NOT NULL)"));
        db.run(create).await.unwrap();
        let panicked = db
            .run(|conn| {
                conn.write_transaction(|conn| -> Result<(), DbError> {
                    with_backend!(conn, c => c.batch_execute("INSERT INTO t VALUES ('lost')"))?;
                    panic!("a bug while holding the write lock")
                })
            })
            .await;
        assert!(panicked.is_err());
        let mut other = DbUrl::parse(&url).unwrap().connect().unwrap();
        with_backend!(&mut other, c => c.batch_execute("PRAGMA busy_timeout = 200; INSERT INTO t VALUES ('next')"))
            .expect("the write lock was released");
        // The pooled connection is usable and sees only committed rows.
        let rows = db
            .run(|conn| {
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct Row {
                    #[diesel(sql_type = diesel::sql_types::Text)]
                    name: String,
                }
                with_backend!(conn, c => diesel::sql_query("SELECT name FROM t").load::<Row>(c))
            })
            .await
            .unwrap();
        let names: Vec<_> = rows.into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["next"]);
    }

    #[test]
    fn parses_database_urls() {
        assert_eq!(
            DbUrl::parse("sqlite://chatctl.db").unwrap(),
            DbUrl::Sqlite("chatctl.db".into())
        );
        assert_eq!(
            DbUrl::parse("sqlite:///var/lib/c.db").unwrap(),
            DbUrl::Sqlite("/var/lib/c.db".into())
        );
        assert!(matches!(
            DbUrl::parse("postgresql://u@h/db").unwrap(),
            DbUrl::Postgres(_)
        ));
        assert!(DbUrl::parse("mysql://x").is_err());
        assert!(DbUrl::parse("chatctl.db").is_err());
        assert!(DbUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn postgres_connections_get_timeouts_unless_the_url_sets_them() {
        let url = with_timeouts("postgres://u:p@h:5432/db?sslmode=disable&connect_timeout=3");
        assert!(url.starts_with("postgres://u:p@h:5432/db?sslmode=disable&connect_timeout=3&"));
        assert_eq!(url.matches("connect_timeout").count(), 1, "{url}");
        assert!(url.contains("&keepalives_idle=10&"), "{url}");
        assert!(url.ends_with("&tcp_user_timeout=20000"), "{url}");
        let plain = with_timeouts("postgres://u@h/db");
        assert!(
            plain.starts_with("postgres://u@h/db?connect_timeout=10&keepalives=1"),
            "{plain}"
        );
    }

    #[test]
    fn redacts_passwords() {
        let url = DbUrl::parse("postgres://chat:hunter2@localhost/chat").unwrap();
        assert!(!url.redacted().contains("hunter2"));
    }
}
