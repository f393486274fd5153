//! Group commit for small write transactions that come in crowds
//! ([`Db::run_grouped`](super::Db::run_grouped)): everything queued runs in
//! one transaction, each piece in its own savepoint (a piece that fails is
//! undone alone, the others stay), committed once, then every piece is
//! answered. A room of thousands reconnecting after a restart is thousands
//! of `hello`s, each writing its participant: one commit and one hand-off to
//! a blocking thread per batch instead of per hello, and no queue of
//! writers sleeping in SQLite's busy handler (docs/PERFORMANCE.md, "Big
//! rooms").
//!
//! There is no thread of its own: the first caller to find the queue idle
//! spawns a task that runs batches through [`Db::run`](super::Db::run) (so
//! they take a connection slot like any other work) until the queue is
//! empty. Nothing outlives the runtime or holds the pool between bursts.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use tokio::sync::oneshot;

use super::{Db, DbConn, DbError};
use crate::with_backend;

/// Most pieces of work in one transaction: bounds how long the write lock is
/// held and how long the first of a batch waits for the last.
const MAX_BATCH: usize = 256;

/// A batch holding the write lock longer than this is logged: everyone
/// else's writes wait for it.
const SLOW_BATCH: Duration = Duration::from_secs(1);

/// What a piece of work says once the batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), &DbError>) + Send>;
/// A piece of work, given the connection inside the batch's transaction, or
/// `None` when the transaction could not begin.
type Job = Box<dyn FnOnce(Option<&mut DbConn>) -> Answer + Send>;

/// The queue of pieces waiting for the next batch.
#[derive(Default)]
pub(super) struct GroupCommit {
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A task is running batches; it empties the queue before it ends.
    draining: bool,
}

impl GroupCommit {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `work` in the next batch's transaction (in a savepoint of its
    /// own) and returns its result once the batch committed; an error of
    /// the commit is every piece's error.
    pub(super) async fn run<T, E, F>(db: &Db, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
            let outcome = conn.map(|conn| in_savepoint(conn, work));
            Box::new(move |committed| {
                let result = match (committed, outcome) {
                    (Ok(()), Some(outcome)) => outcome,
                    (Err(err), _) => Err(E::from(DbError::Internal(format!(
                        "the grouped transaction failed: {err}"
                    )))),
                    (Ok(()), None) => Err(E::from(DbError::Internal(
                        "the grouped transaction did not run".into(),
                    ))),
                };
                // The caller may have gone (its connection closed).
                let _ = reply.send(result);
            })
        });
        let lead = {
            let mut queue = db.grouped.queue();
            queue.jobs.push(job);
            !std::mem::replace(&mut queue.draining, true)
        };
        if lead {
            tokio::spawn(drain(db.clone()));
        }
        answer.await.map_err(|_| {
            E::from(DbError::Internal(
                "the grouped transaction was abandoned".into(),
            ))
        })?
    }
}

/// Runs batches until the queue is empty (then the next caller leads again).
async fn drain(db: Db) {
    loop {
        let batch: Vec<Job> = {
            let mut queue = db.grouped.queue();
            if queue.jobs.is_empty() {
                queue.draining = false;
                return;
            }
            let take = queue.jobs.len().min(MAX_BATCH);
            queue.jobs.drain(..take).collect()
        };
        // An error here means the batch never reached a connection (its
        // pieces were dropped unanswered, and their callers told so).
        let ran = db
            .run(move |conn| {
                commit(conn, batch);
                Ok::<_, DbError>(())
            })
            .await;
        if let Err(err) = ran {
            tracing::error!(error = %err, "a group commit could not run");
        }
    }
}

/// Runs the batch in one transaction and answers each piece after the commit.
fn commit(conn: &mut DbConn, batch: Vec<Job>) {
    let started = Instant::now();
    let pieces = batch.len();
    let begin = match conn {
        // The write lock up front, as `DbConn::write_transaction` takes it.
        DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConn::Pg(_) => "BEGIN",
    };
    if let Err(err) = with_backend!(&mut *conn, c => c.batch_execute(begin)) {
        for job in batch {
            job(None)(Err(&err));
        }
        return;
    }
    let answers: Vec<Answer> = batch.into_iter().map(|job| job(Some(conn))).collect();
    let committed = with_backend!(&mut *conn, c => c.batch_execute("COMMIT"));
    if let Err(err) = &committed {
        tracing::error!(error = %err, pieces, "a group commit failed");
        // The transaction may already be gone; nothing more to undo then.
        let _ = with_backend!(&mut *conn, c => c.batch_execute("ROLLBACK"));
    }
    let held = started.elapsed();
    if held > SLOW_BATCH {
        tracing::warn!(
            held_ms = held.as_millis() as u64,
            pieces,
            "slow group commit"
        );
    }
    let committed = committed.as_ref().map(|_| ());
    answers.into_iter().for_each(|answer| answer(committed));
}

/// `work` in a savepoint: undone alone when it fails or panics (a panic is
/// a bug, answered as an internal error, not a reason to lose the batch).
fn in_savepoint<T, E: From<DbError>>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    with_backend!(&mut *conn, c => c.batch_execute("SAVEPOINT grouped"))?;
    let result = catch_unwind(AssertUnwindSafe(|| work(&mut *conn))).unwrap_or_else(|_| {
        tracing::error!("a grouped transaction panicked; undone");
        Err(E::from(DbError::Internal(
            "a grouped transaction panicked".into(),
        )))
    });
    let end = if result.is_ok() {
        "RELEASE SAVEPOINT grouped"
    } else {
        "ROLLBACK TO SAVEPOINT grouped; RELEASE SAVEPOINT grouped"
    };
    with_backend!(&mut *conn, c => c.batch_execute(end))?;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(conn: &mut DbConn, name: &str) -> i64 {
        use diesel::prelude::*;
        use diesel::sql_types::{BigInt, Text};
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        with_backend!(conn, c => diesel::sql_query("SELECT COUNT(*) AS n FROM t WHERE name = ?")
            .bind::<Text, _>(name)
            .get_result::<Count>(c))
        .unwrap()
        .n
    }

    /// Forty writes queued at once: the failing ones (and one that panics)
    /// are undone alone, every other one is committed before its caller
    /// hears of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_or_panicking_piece_is_undone_alone_and_the_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, 2).unwrap();
        db.run(
            |conn| with_backend!(conn, c => c.batch_execute("CREATE TABLE t (name TEXT NOT NULL)")),
        )
        .await
        .unwrap();
        let calls: Vec<_> = (0..40)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.run_grouped(move |conn| -> Result<(), DbError> {
                        let insert = format!("INSERT INTO t (name) VALUES ('w{i}')");
                        with_backend!(conn, c => c.batch_execute(&insert))?;
                        if i % 4 == 0 {
                            return Err(DbError::Internal("refused".into()));
                        }
                        if i == 7 {
                            panic!("a bug in one piece");
                        }
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let result = call.await.unwrap();
            let fails = i % 4 == 0 || i == 7;
            assert_eq!(result.is_err(), fails, "w{i}: {result:?}");
            // Committed when answered: another connection sees it.
            let name = format!("w{i}");
            let seen = db
                .run(move |conn| Ok::<_, DbError>(count(conn, &name)))
                .await
                .unwrap();
            assert_eq!(seen, i64::from(!fails), "w{i}");
        }
    }
}
