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

use super::{Db, DbConn, DbError, DbUrl};
use crate::with_backend;

/// Most pieces of work in one transaction on SQLite: bounds how long the
/// write lock is held and how long the first of a batch waits for the last.
const MAX_BATCH_SQLITE: usize = 256;
/// On PostgreSQL each piece's savepoint that writes is a subtransaction;
/// past 64 in one transaction a backend's subtransaction cache overflows
/// and every session's snapshots get slower (`PGPROC_MAX_CACHED_SUBXIDS`).
const MAX_BATCH_POSTGRES: usize = 32;

/// A batch holding the write lock longer than this is logged: everyone
/// else's writes wait for it.
const SLOW_BATCH: Duration = Duration::from_secs(1);

/// What a piece of work says once the batch's outcome is known.
type Answer = Box<dyn FnOnce(Result<(), &DbError>) + Send>;
/// A piece of work, given the connection inside the batch's transaction, or
/// `None` when it is not to run (the transaction could not begin, or broke).
type Job = Box<dyn FnOnce(Option<&mut DbConn>) -> Ran + Send>;

/// A piece that ran, or was skipped.
struct Ran {
    answer: Answer,
    /// Its savepoint could not be opened, released or rolled back to: the
    /// transaction is in an unknown state (SQLite may have rolled all of it
    /// back, PostgreSQL may have aborted it), so the batch ends undone.
    broke: Option<DbError>,
}

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
            let (outcome, broke) = match conn.map(|conn| in_savepoint(conn, work)) {
                Some(Ok(outcome)) => (Some(outcome), None),
                Some(Err(broke)) => (None, Some(broke)),
                None => (None, None),
            };
            let answer: Answer = Box::new(move |committed| {
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
            });
            Ran { answer, broke }
        });
        let lead = {
            let mut queue = db.grouped.queue();
            queue.jobs.push(job);
            !std::mem::replace(&mut queue.draining, true)
        };
        if lead {
            tokio::spawn(drain(Draining {
                db: db.clone(),
                finished: false,
            }));
        }
        answer.await.map_err(|_| {
            E::from(DbError::Internal(
                "the grouped transaction was abandoned".into(),
            ))
        })?
    }
}

/// The draining task's hold on the queue. Should the task end early (the
/// runtime shutting down drops it), the queue is left for the next caller
/// to drain, not marked as drained forever; the pieces still queued are
/// dropped, and their callers told so.
struct Draining {
    db: Db,
    /// The queue was found empty and handed back.
    finished: bool,
}

impl Drop for Draining {
    fn drop(&mut self) {
        if !self.finished {
            let mut queue = self.db.grouped.queue();
            queue.draining = false;
            queue.jobs.clear();
        }
    }
}

/// Runs batches until the queue is empty (then the next caller leads again).
async fn drain(mut draining: Draining) {
    let db = draining.db.clone();
    let max_batch = match db.url() {
        DbUrl::Sqlite(_) => MAX_BATCH_SQLITE,
        DbUrl::Postgres(_) => MAX_BATCH_POSTGRES,
    };
    loop {
        let batch: Vec<Job> = {
            let mut queue = db.grouped.queue();
            if queue.jobs.is_empty() {
                // Cleared here, under the lock that a new piece is queued
                // under: it finds either this task still draining, or none.
                queue.draining = false;
                draining.finished = true;
                return;
            }
            let take = queue.jobs.len().min(max_batch);
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
            (job(None).answer)(Err(&err));
        }
        return;
    }
    let mut broken: Option<DbError> = None;
    let mut answers = Vec::with_capacity(pieces);
    for job in batch {
        let ran = job(if broken.is_none() { Some(conn) } else { None });
        if broken.is_none() {
            broken = ran.broke;
        }
        answers.push(ran.answer);
    }
    let committed = match broken {
        None => with_backend!(&mut *conn, c => c.batch_execute("COMMIT")),
        Some(err) => Err(err),
    };
    if let Err(err) = &committed {
        tracing::error!(error = %err, pieces, "a group commit failed; all of it undone");
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
/// The outer error: the savepoint itself failed, and with it the batch.
fn in_savepoint<T, E: From<DbError>>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<Result<T, E>, DbError> {
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
    Ok(result)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn count(conn: &mut DbConn, name: &str) -> i64 {
        use diesel::prelude::*;
        use diesel::sql_types::{BigInt, Text};
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        with_backend!(conn, c => diesel::sql_query("SELECT COUNT(*) AS n FROM t WHERE name LIKE ?")
            .bind::<Text, _>(name)
            .get_result::<Count>(c))
        .unwrap()
        .n
    }

    async fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        // One connection: the test can hold it while pieces queue up.
        let db = Db::connect(&url, 1).unwrap();
        db.run(
            |conn| with_backend!(conn, c => c.batch_execute("CREATE TABLE t (name TEXT NOT NULL)")),
        )
        .await
        .unwrap();
        (dir, db)
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        for _ in 0..2000 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("timed out waiting for {what}");
    }

    type Piece = Box<dyn FnOnce(&mut DbConn) -> Result<(), DbError> + Send>;

    /// Runs `pieces` as one batch: the database's only connection is held
    /// until all of them are queued behind a first batch of one. Returns
    /// each piece's result, in order.
    async fn in_one_batch(db: &Db, pieces: Vec<Piece>) -> Vec<Result<(), DbError>> {
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (holding, hold_started) = oneshot::channel();
        let hold = tokio::spawn({
            let db = db.clone();
            async move {
                db.run(move |_| {
                    let _ = holding.send(());
                    let _ = held.recv();
                    Ok::<_, DbError>(())
                })
                .await
            }
        });
        hold_started.await.unwrap();
        let opener = tokio::spawn({
            let db = db.clone();
            async move { db.run_grouped(|_| Ok::<_, DbError>(())).await }
        });
        until("the first batch to be taken", || {
            let queue = db.grouped.queue();
            queue.draining && queue.jobs.is_empty()
        })
        .await;
        let n = pieces.len();
        let calls: Vec<_> = pieces
            .into_iter()
            .map(|piece| {
                let db = db.clone();
                tokio::spawn(async move { db.run_grouped(piece).await })
            })
            .collect();
        until("every piece to be queued", || {
            db.grouped.queue().jobs.len() == n
        })
        .await;
        release.send(()).unwrap();
        hold.await.unwrap().unwrap();
        opener.await.unwrap().unwrap();
        let mut results = Vec::new();
        for call in calls {
            results.push(call.await.unwrap());
        }
        results
    }

    fn insert(name: String) -> impl FnOnce(&mut DbConn) -> Result<(), DbError> {
        move |conn| {
            let insert = format!("INSERT INTO t (name) VALUES ('{name}')");
            with_backend!(conn, c => c.batch_execute(&insert))
        }
    }

    /// Forty writes in one transaction: the failing ones (and one that
    /// panics) are undone alone, every other one is committed before its
    /// caller hears of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_or_panicking_piece_is_undone_alone_and_the_others_commit() {
        let (_dir, db) = database().await;
        let fails = |i: usize| i.is_multiple_of(4) || i == 7;
        let pieces: Vec<Piece> = (0..40usize)
            .map(|i| -> Piece {
                let insert = insert(format!("w{i}"));
                Box::new(move |conn| {
                    insert(conn)?;
                    if i == 7 {
                        panic!("a bug in one piece");
                    }
                    if i.is_multiple_of(4) {
                        return Err(DbError::Internal("refused".into()));
                    }
                    Ok(())
                })
            })
            .collect();
        let results = in_one_batch(&db, pieces).await;
        for (i, result) in results.iter().enumerate() {
            assert_eq!(result.is_err(), fails(i), "w{i}: {result:?}");
            let name = format!("w{i}");
            let seen = db
                .run(move |conn| Ok::<_, DbError>(count(conn, &name)))
                .await
                .unwrap();
            assert_eq!(seen, i64::from(!fails(i)), "w{i}");
        }
    }

    /// A piece that leaves the transaction in an unknown state (here it ends
    /// it; SQLite does as much on a full disk): nobody is told their write
    /// was kept, and none of the batch is, before it or after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_whose_transaction_broke_is_all_undone_and_all_told() {
        let (_dir, db) = database().await;
        let pieces: Vec<Piece> = (0..10)
            .map(|i| -> Piece {
                let insert = insert(format!("b{i}"));
                Box::new(move |conn| {
                    insert(conn)?;
                    if i == 4 {
                        with_backend!(conn, c => c.batch_execute("ROLLBACK"))?;
                    }
                    Ok(())
                })
            })
            .collect();
        let results = in_one_batch(&db, pieces).await;
        assert!(results.iter().all(Result::is_err), "{results:?}");
        let kept = db
            .run(|conn| Ok::<_, DbError>(count(conn, "b%")))
            .await
            .unwrap();
        assert_eq!(kept, 0);
        // The next batch runs as usual.
        db.run_grouped(insert("after".into())).await.unwrap();
        let after = db
            .run(|conn| Ok::<_, DbError>(count(conn, "after")))
            .await
            .unwrap();
        assert_eq!(after, 1);
    }
}
