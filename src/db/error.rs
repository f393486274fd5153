//! The database layer's error, and which of its kinds are worth a retry.

use thiserror::Error;

/// Errors of the storage layer. Callers map them to user-facing errors; their
/// text may contain SQL details and is for logs only.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("cannot connect to the database: {0}")]
    Connect(diesel::ConnectionError),
    #[error("database pool: {0}")]
    Pool(r2d2::Error),
    #[error("query failed: {}", with_causes(.0))]
    Query(diesel::result::Error),
    /// A uniqueness constraint rejected the write (duplicate email, site key...).
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Internal(String),
}

/// `From<DbError>` for a service's error enum that has `NotFound` and
/// `Db(DbError)` variants: a missing row is the service's `NotFound`, the
/// rest passes through.
#[macro_export]
macro_rules! from_db_error {
    ($error:ident) => {
        impl From<$crate::db::DbError> for $error {
            fn from(err: $crate::db::DbError) -> Self {
                match err {
                    $crate::db::DbError::NotFound => $error::NotFound,
                    other => $error::Db(other),
                }
            }
        }
    };
}

// Causes are part of each message (logs print only the message) and are not
// also declared as `source`: an error chain printed whole (`{:#}` at the CLI)
// would show them twice.
impl From<diesel::ConnectionError> for DbError {
    fn from(err: diesel::ConnectionError) -> Self {
        DbError::Connect(err)
    }
}

impl From<diesel::result::Error> for DbError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => DbError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                DbError::Conflict(info.message().to_owned())
            }
            other => DbError::Query(other),
        }
    }
}

/// An error with its causes: diesel names only the field it could not read
/// (`Error deserializing field 'room_policy'`), the cause says why.
fn with_causes(err: &diesel::result::Error) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let line = c.to_string();
        if !text.contains(&line) {
            text = format!("{text}: {line}");
        }
        cause = c.source();
    }
    text
}

impl DbError {
    /// A query's result with diesel's error as ours (used by [`with_backend!`](crate::with_backend)).
    pub fn lift<T>(result: diesel::QueryResult<T>) -> Result<T, DbError> {
        result.map_err(DbError::from)
    }

    /// Busy, locked or unreachable database: the operation may succeed if retried.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Pool(_) | DbError::Connect(_) => true,
            DbError::Query(diesel::result::Error::DatabaseError(kind, info)) => {
                matches!(kind, diesel::result::DatabaseErrorKind::ClosedConnection)
                    || info.message().contains("locked")
                    || info.message().contains("busy")
            }
            _ => false,
        }
    }
}
