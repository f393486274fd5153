//! The `chatctl` binary as a test runs it: on the test's database, whatever
//! the environment says.

use assert_cmd::Command;

use super::db::TestDb;

/// `chatctl --database-url <the test's database>`, with the database
/// variables of the environment removed (they would point elsewhere).
pub fn chatctl(db: &TestDb) -> Command {
    let mut cmd = Command::cargo_bin("chatctl").unwrap();
    cmd.env_remove("DATABASE_URL")
        .env_remove("CHATCTL_DATABASE_URL")
        .arg("--database-url")
        .arg(&db.url);
    cmd
}

/// Runs `cmd`, asserts it succeeded, and returns its standard output.
pub fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `chatctl site create --name <name> --origin <origin> --json`: the new site as printed.
pub fn created_site(db: &TestDb, name: &str, origin: &str) -> serde_json::Value {
    let out = stdout(chatctl(db).args([
        "site", "create", "--name", name, "--origin", origin, "--json",
    ]));
    serde_json::from_str(&out).unwrap()
}

/// `chatctl user create` of `who` (email and name) with `role` and
/// `--site`s, the password typed on stdin.
pub fn user_create(
    db: &TestDb,
    who: [&str; 2],
    role: &str,
    sites: &[&str],
    password: &str,
) -> Command {
    let [email, name] = who;
    let mut cmd = chatctl(db);
    cmd.args([
        "user", "create", "--email", email, "--name", name, "--role", role,
    ]);
    for site in sites {
        cmd.args(["--site", site]);
    }
    cmd.arg("--password-stdin")
        .write_stdin(format!("{password}\n"));
    cmd
}
