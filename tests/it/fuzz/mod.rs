//! Bounded fuzzing with proptest against a real `chatctl serve` process:
//! client frames (arbitrary text, arbitrary JSON, valid frames with a field
//! mutated) and raw HTTP requests (paths, queries, upgrade headers). After
//! every input the server must still answer; at the end its stderr must hold
//! no panic. Every input tried is written to `fuzz-*.log` under cargo's test
//! tmp dir, and the counts are printed.
//!
//! `FUZZ_CASES` sets the number of inputs per target (default 400).

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use proptest::test_runner::{Config, TestRunner};

use crate::support::process::{create_site, ServerProcess};
use crate::support::{test_db, TestDb};

mod frames;
mod framing;
mod http;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400)
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// A `chatctl serve` under fuzzing, with a site, and the runtime that drives
/// it. The server's stderr goes to `fuzz-{name}-server.log`, every input tried
/// (with what came of it) to `fuzz-{name}.log`. The runner wants an `Fn`:
/// the input log and the count are shared state.
struct FuzzTarget {
    rt: tokio::runtime::Runtime,
    server: ServerProcess,
    key: String,
    server_log: PathBuf,
    inputs: RefCell<std::fs::File>,
    tried: Cell<u64>,
    database: TestDb,
}

impl FuzzTarget {
    fn start(name: &str, serve_args: &[&str]) -> FuzzTarget {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let database = test_db();
        let key = create_site(&database.url);
        let server_log = artifact(&format!("fuzz-{name}-server.log"));
        let server = rt.block_on(ServerProcess::start_logged(
            &database.url,
            serve_args,
            server_log.clone(),
        ));
        let inputs = std::fs::File::create(artifact(&format!("fuzz-{name}.log"))).unwrap();
        FuzzTarget {
            rt,
            server,
            key,
            server_log,
            inputs: RefCell::new(inputs),
            tried: Cell::new(0),
            database,
        }
    }

    /// `FUZZ_CASES` inputs, none remembered between runs.
    fn runner() -> TestRunner {
        TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        })
    }

    /// Counts one more input; returns its number (from 1).
    fn next_input(&self) -> u64 {
        self.tried.set(self.tried.get() + 1);
        self.tried.get()
    }

    /// Writes a line to the input log.
    fn record(&self, line: String) {
        let _ = writeln!(self.inputs.borrow_mut(), "{line}");
    }

    /// The status of `/healthz`, if the server answers.
    fn health(&self) -> Option<u16> {
        self.rt
            .block_on(async {
                reqwest::get(format!("http://{}/healthz", self.server.addr))
                    .await
                    .map(|r| r.status().as_u16())
            })
            .ok()
    }

    /// Waits (up to a minute) for `/widget.js`: its first answer waits for the
    /// start-up compression (Zopfli), which a busy machine can stretch past
    /// the 10 s a fuzz answer is given.
    fn warm_up(&self) {
        let url = format!("http://{}/widget.js", self.server.addr);
        let warmed = self.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), reqwest::get(url)).await
        });
        assert!(
            matches!(warmed, Ok(Ok(_))),
            "/widget.js did not answer: {warmed:?}"
        );
    }

    /// Stops the server and prints what was tried (`{n} {what}`); returns the
    /// server's stderr, to check with [`assert_no_panic`].
    fn stop(self, what: &str) -> String {
        drop(self.server);
        let stderr = std::fs::read_to_string(&self.server_log).unwrap_or_default();
        eprintln!(
            "fuzz: {} {what}, server log: {}",
            self.tried.get(),
            self.server_log.display()
        );
        stderr
    }
}

fn assert_no_panic(server_stderr: &str) {
    assert!(
        !server_stderr.contains("panicked"),
        "the server panicked:\n{server_stderr}"
    );
}
