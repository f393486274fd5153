//! SQLite WAL checkpoints on a thread of their own.
//!
//! By default the connection whose commit pushes the WAL past 1000 pages
//! copies it into the database file, fsync included, before returning. For the
//! message writer that is a stall in the middle of the hot path (perf showed
//! checkpoint I/O at a fifth of its time); it turns automatic checkpoints off
//! ([`disable_auto`]) and this thread checkpoints behind it. PASSIVE
//! checkpoints never block the writer or readers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::{DbConn, DbUrl};

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(250);

pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the checkpoint thread for a SQLite database; `None` for other backends.
pub fn start(url: &DbUrl) -> Option<Checkpointer> {
    if !matches!(url, DbUrl::Sqlite(_)) {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let url = url.clone();
    let stopping = stop.clone();
    let thread = std::thread::Builder::new()
        .name("chatctl-checkpoint".into())
        .spawn(move || {
            let mut conn = None;
            while !stopping.load(Ordering::Relaxed) {
                std::thread::park_timeout(EVERY);
                if conn.is_none() {
                    conn = url.connect().ok();
                }
                if let Some(DbConn::Sqlite(c)) = &mut conn {
                    if let Err(err) = c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                        tracing::warn!(error = %err, "WAL checkpoint failed; will retry");
                        conn = None;
                    }
                }
            }
        })
        .ok();
    Some(Checkpointer { stop, thread })
}

/// Turns off automatic checkpoints on this connection (its commits then only append).
pub fn disable_auto(conn: &mut DbConn) -> Result<(), super::DbError> {
    if let DbConn::Sqlite(c) = conn {
        c.batch_execute("PRAGMA wal_autocheckpoint = 0;")?;
    }
    Ok(())
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}
