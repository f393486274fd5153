//! `chatctl ... | head -1`: a reader that closes the pipe early ends a
//! command quietly. It used to panic ("failed printing to stdout: Broken
//! pipe") with exit code 101.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::cli::{chatctl, created_site, stdout};
use crate::support::{test_db, TestDb};

/// Runs the real binary with its stdout a pipe whose reader is gone before
/// the command prints (it opens and migrates the database first): every
/// write fails with EPIPE, as after `head -1` has read its line.
fn with_stdout_closed(db: &TestDb, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("chatctl"))
        .env_remove("DATABASE_URL")
        .env_remove("CHATCTL_DATABASE_URL")
        .arg("--database-url")
        .arg(&db.url)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn commands_end_quietly_when_their_reader_goes() {
    let db = test_db();
    let site = created_site(&db, "Blog", "https://blog.example.com");
    let key = site["public_key"].as_str().unwrap();
    for name in ["one", "two", "three"] {
        stdout(chatctl(&db).args([
            "site", "api-key", "create", key, "--name", name, "--scope", "read",
        ]));
    }
    stdout(chatctl(&db).args(["site", "add-room", key, "lobby"]));
    let commands: &[&[&str]] = &[
        &["site", "api-key", "list", key, "--json"],
        &["site", "api-key", "list", key],
        &["site", "list"],
        &["site", "list", "--json"],
        &["site", "show", key],
        &["site", "rooms", "list", key],
        &["site", "webhook", "list", key],
        &["user", "list"],
        &["migrate", "--status"],
        &["migrate"],
        &["--help"],
    ];
    for args in commands {
        let (status, stderr) = with_stdout_closed(&db, args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?} says nothing on stderr");
        assert!(status.success(), "{args:?}: {status}");
    }
    // A command that fails still says why, on stderr.
    let (status, stderr) = with_stdout_closed(&db, &["site", "show", "pk_nosuchsite000000000000"]);
    assert!(
        !status.success() && stderr.starts_with("error: unknown site"),
        "{stderr}"
    );
}

/// Where the secret-keeping tests' webhooks point (nothing listens).
const HOOKS: &str = "https://hooks.example.com";

/// What is shown once (a new secret or key) is not lost quietly when nobody
/// reads stdout (found by the outside tester: `site rotate-secret`, `api-key
/// create` and `webhook add` exited 0 with their secret gone): the command
/// fails and says what became of it; a new key or endpoint nobody saw is
/// undone.
#[test]
fn a_secret_shown_once_is_not_lost_quietly_on_a_closed_stdout() {
    let db = test_db();
    let create = "site create --name Blog --origin https://blog.example.com";
    let create: Vec<&str> = create.split_whitespace().collect();
    let (status, stderr) = with_stdout_closed(&db, &create);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.starts_with("error: site pk_") && stderr.contains("rotate-secret"),
        "{stderr}"
    );
    let sites: Value =
        serde_json::from_str(&stdout(chatctl(&db).args(["site", "list", "--json"]))).unwrap();
    let key = sites[0]["public_key"].as_str().unwrap().to_owned();
    let key = key.as_str();

    let cases = [
        (format!("site rotate-secret {key}"), "rotate-secret"),
        (
            format!("site api-key create {key} --name lost --scope read"),
            "revoked",
        ),
        (
            format!("site api-key create {key} --name lost-json --scope read --json"),
            "revoked",
        ),
        (
            format!("site webhook add {key} {HOOKS}/a --event message.created"),
            "removed again",
        ),
        (
            format!("site webhook add {key} {HOOKS}/b --event message.created --json"),
            "removed again",
        ),
    ];
    for (line, says) in cases {
        let args: Vec<&str> = line.split_whitespace().collect();
        let (status, stderr) = with_stdout_closed(&db, &args);
        assert!(!status.success(), "{args:?} exited 0: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("standard output was closed"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // The keys nobody saw are revoked; the endpoints are gone.
    assert_all_keys_revoked(&db, key, 2);
    let hooks = stdout(chatctl(&db).args(["site", "webhook", "list", key, "--json"]));
    assert_eq!(
        serde_json::from_str::<Value>(&hooks).unwrap(),
        serde_json::json!([])
    );

    // Shown, it is kept.
    let shown = stdout(chatctl(&db).args(["site", "rotate-secret", key]));
    assert!(shown.contains("shown once"), "{shown}");
}

/// A secret printed into /dev/null is shown to nobody, though every write
/// succeeds: so is one whose stdout was closed before the command started
/// (`>&-`: the runtime puts /dev/null in its place). Found by the outside
/// tester: `api-key create ... >&-` exited 0 with the key active.
#[test]
fn a_secret_is_not_printed_into_dev_null() {
    let db = test_db();
    let site = created_site(&db, "Blog", "https://blog.example.com");
    let key = site["public_key"].as_str().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("chatctl");
    let create = |name: &str| {
        format!(
            "exec '{}' --database-url '{}' site api-key create {key} --name {name} --scope read",
            bin.display(),
            db.url
        )
    };
    for (name, shell) in [
        ("nulled", format!("{} > /dev/null", create("nulled"))),
        ("closed", format!("{} >&-", create("closed"))),
    ] {
        let out = Command::new("sh")
            .args(["-c", &shell])
            .env_remove("DATABASE_URL")
            .env_remove("CHATCTL_DATABASE_URL")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: exited 0: {stderr}");
        assert!(
            stderr.contains("revoked") && stderr.contains("/dev/null"),
            "{name}: {stderr}"
        );
    }
    assert_all_keys_revoked(&db, key, 2);
}

/// The site has `n` API keys, every one revoked.
fn assert_all_keys_revoked(db: &TestDb, key: &str, n: usize) {
    let keys: Value = serde_json::from_str(&stdout(
        chatctl(db).args(["site", "api-key", "list", key, "--json"]),
    ))
    .unwrap();
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), n, "{keys:?}");
    assert!(keys.iter().all(|k| !k["revoked_at"].is_null()), "{keys:?}");
}
