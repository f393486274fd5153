//! Group commit for small write transactions that come in crowds
//! ([`Db::run_grouped`](super::Db::run_grouped)): one thread runs everything
//! queued in one transaction, each piece in its own savepoint (a piece that
//! fails is undone alone, the others stay), commits once, then answers all of
//! them. A room of thousands reconnecting after a restart is thousands of
//! `hello`s, each writing its participant: one commit and one hand-off to a
//! blocking thread per batch instead of per hello (docs/PERFORMANCE.md, "Big
//! rooms").

use diesel::connection::SimpleConnection;
use tokio::sync::{mpsc, oneshot};

use super::{DbConn, DbError, Manager};
use crate::with_backend;

/// Most pieces of work in one transaction: bounds how long the write lock is
/// held and how long the first of a batch waits for the last.
const MAX_BATCH: usize = 256;

/// What a piece of work says once the batch's commit is known.
type Answer = Box<dyn FnOnce(Result<(), &DbError>) + Send>;
/// A piece of work, given the connection inside the batch's transaction, or
/// `None` when the transaction could not begin.
type Job = Box<dyn FnOnce(Option<&mut DbConn>) -> Answer + Send>;

/// The queue of the group-commit thread; the thread ends when this is dropped.
pub(super) struct GroupCommit {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GroupCommit {
    pub(super) fn start(pool: r2d2::Pool<Manager>) -> Result<Self, DbError> {
        let (jobs, queue) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("chatctl-group-commit".into())
            .spawn(move || serve(pool, queue))
            .map_err(|e| DbError::Internal(format!("cannot start the group-commit thread: {e}")))?;
        Ok(GroupCommit { jobs })
    }

    /// Runs `work` in the next batch's transaction (in a savepoint of its
    /// own) and returns its result once the batch committed; an error of
    /// the commit is every piece's error.
    pub(super) async fn run<T, E, F>(&self, work: F) -> Result<T, E>
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
        self.jobs
            .send(job)
            .map_err(|_| E::from(DbError::Internal("the group-commit thread stopped".into())))?;
        answer
            .await
            .map_err(|_| E::from(DbError::Internal("the group-commit thread stopped".into())))?
    }
}

fn serve(pool: r2d2::Pool<Manager>, mut queue: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match pool.get() {
            Ok(mut conn) => commit(&mut conn, batch),
            Err(err) => {
                let err = DbError::Pool(err);
                for job in batch {
                    job(None)(Err(&err));
                }
            }
        }
    }
}

/// Runs the batch in one transaction and answers each piece after the commit.
fn commit(conn: &mut DbConn, batch: Vec<Job>) {
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
    match with_backend!(&mut *conn, c => c.batch_execute("COMMIT")) {
        Ok(()) => answers.into_iter().for_each(|answer| answer(Ok(()))),
        Err(err) => {
            // The transaction may already be gone; nothing more to undo then.
            let _ = with_backend!(&mut *conn, c => c.batch_execute("ROLLBACK"));
            answers.into_iter().for_each(|answer| answer(Err(&err)));
        }
    }
}

/// `work` in a savepoint: undone alone when it fails.
fn in_savepoint<T, E: From<DbError>>(
    conn: &mut DbConn,
    work: impl FnOnce(&mut DbConn) -> Result<T, E>,
) -> Result<T, E> {
    with_backend!(&mut *conn, c => c.batch_execute("SAVEPOINT grouped"))?;
    let result = work(conn);
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
    use super::super::Db;
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

    /// Forty writes queued at once: the failing ones are undone alone, every
    /// other one is committed before its caller hears of it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_piece_is_undone_alone_and_the_others_commit() {
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
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let result = call.await.unwrap();
            assert_eq!(result.is_err(), i % 4 == 0, "w{i}: {result:?}");
            // Committed when answered: another connection sees it.
            let name = format!("w{i}");
            let seen = db
                .run(move |conn| Ok::<_, DbError>(count(conn, &name)))
                .await
                .unwrap();
            assert_eq!(seen, i64::from(i % 4 != 0), "w{i}");
        }
    }
}
