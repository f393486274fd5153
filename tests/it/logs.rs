//! What an operator reads: the server's log when it is not on a terminal,
//! and the error when it cannot start.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::process::chatctl;
use crate::support::test_db;

/// `chatctl serve` on a free port with its log (`RUST_LOG=filter`) going to
/// the file `log`, not a terminal; returns the process and its address.
fn serve_logging_to(database_url: &str, log: &Path, filter: &str) -> (Child, SocketAddr) {
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Command::new(chatctl())
        .args(["--database-url", database_url, "serve", "--no-demo"])
        .args(["--bind", &addr.to_string()])
        .env("RUST_LOG", filter)
        .stdout(std::fs::File::create(log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (server, addr)
}

/// Logs written to a file carry no colour codes, and each request is one
/// line with its method, path, status, client address and duration (it used
/// to be two lines with neither the address nor the time).
#[tokio::test]
async fn each_request_is_one_plain_line_with_client_and_duration() {
    let db = test_db();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("chatctl.log");
    let (mut server, addr) = serve_logging_to(&db.url, &log_path, "info");
    let url = format!("http://{addr}/healthz?probe=secret-ish");
    let mut answered = false;
    for _ in 0..300 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the server answers /healthz");
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI escape codes in a file:\n{log}"
    );
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("/healthz") && l.contains("status=200"))
        .collect();
    assert!(!lines.is_empty(), "a line for the request:\n{log}");
    let line = lines[lines.len() - 1];
    for field in ["method=GET", "path=/healthz", "client=127.0.0.1", "ms="] {
        assert!(line.contains(field), "{field} in {line}");
    }
    assert!(
        !line.contains("secret-ish"),
        "the query is not logged: {line}"
    );
    let successful = log.lines().filter(|l| l.contains("/healthz")).count();
    assert_eq!(successful, lines.len(), "one line per request:\n{log}");
    assert!(
        !log.contains("ERROR"),
        "a clean SIGTERM logs no error:\n{log}"
    );
}

/// An address already in use is said once, not twice.
#[test]
fn a_port_in_use_is_one_clear_line() {
    let db = test_db();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = Command::new(chatctl())
        .args(["--database-url", &db.url, "serve", "--no-demo"])
        .args(["--bind", &addr.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("in use").count(),
        1,
        "the cause is said once: {stderr}"
    );
}

/// The start-up hint for the first admin account works as typed: it names
/// the program as it was started and the database when it is not the
/// default (it used to say `chatctl user create`, with no database).
#[tokio::test]
async fn the_first_admin_hint_works_as_typed() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("my chat.db").display());
    let log_path = dir.path().join("chatctl.log");
    let (mut server, _) = serve_logging_to(&database, &log_path, "warn");
    let mut hint = None;
    for _ in 0..300 {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if let Some(at) = log.find("create one with: ") {
            let rest = &log[at + "create one with: ".len()..];
            hint = rest.lines().next().map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    let hint = hint.expect("the server says how to create an admin account");
    assert!(hint.contains("--database-url"), "{hint}");
    let out = Command::new("sh")
        .args(["-c", &format!("{hint} --password-stdin")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"Brand new 77 staple\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{hint}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = Command::new(chatctl())
        .args(["--database-url", &database, "user", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("you@example.com"));
}

/// `chatctl serve` whose stdout is a pipe nobody reads any more (found by the
/// outside tester: stderr was flooded with tracing-subscriber's write errors,
/// a line per event): one warning on stderr, then the log goes on there.
#[tokio::test]
async fn a_closed_stdout_moves_the_log_to_stderr_with_one_warning() {
    let db = test_db();
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut server = Command::new(chatctl())
        .args(["--database-url", &db.url, "serve", "--no-demo"])
        .args(["--bind", &addr.to_string()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(server.stdout.take());
    let url = format!("http://{addr}/healthz");
    let mut answered = 0;
    for _ in 0..300 {
        if reqwest::get(&url).await.is_ok_and(|r| r.status() == 200) {
            answered += 1;
            if answered == 20 {
                break;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(answered, 20, "the server answers /healthz");
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let out = server.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings = stderr.matches("cannot write the log").count();
    assert_eq!(warnings, 1, "{stderr}");
    assert!(!stderr.contains("Unable to write"), "{stderr}");
    // The requests after the warning are logged on stderr, one line each.
    let requests = stderr.lines().filter(|l| l.contains("/healthz")).count();
    assert!(requests >= 19, "{stderr}");
}
