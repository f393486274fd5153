//! The `chatctl` binary: sites, users, migrations, and its errors.

use assert_cmd::Command;
use serde_json::Value;

use crate::support::cli::{chatctl, created_site, stdout, user_create};
use crate::support::{test_db, TestDb};

fn failure(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "one clear line: {stderr}");
    stderr
}

/// `chatctl site create --name <name> --origin <origin>`.
fn site_create(db: &TestDb, name: &str, origin: &str) -> Command {
    let mut cmd = chatctl(db);
    cmd.args(["site", "create", "--name", name, "--origin", origin]);
    cmd
}

#[test]
fn migrate_reports_what_ran_then_nothing() {
    let db = test_db();
    let out = stdout(chatctl(&db).args(["migrate", "--status"]));
    assert!(out.contains("[pending]"), "{out}");
    let out = stdout(chatctl(&db).arg("migrate"));
    assert!(out.contains("applied"), "{out}");
    let out = stdout(chatctl(&db).arg("migrate"));
    assert!(out.contains("already up to date"), "{out}");
    let out = stdout(chatctl(&db).args(["migrate", "--status"]));
    assert!(
        out.contains("[applied]") && !out.contains("[pending]"),
        "{out}"
    );
}

#[test]
fn site_lifecycle() {
    let db = test_db();
    let created = created_site(&db, "Blog", "https://Blog.example.com/");
    let key = created["public_key"].as_str().unwrap().to_owned();
    assert!(created["secret"].as_str().unwrap().starts_with("sk_"));
    assert_eq!(created["origins"][0], "https://blog.example.com");
    assert_eq!(
        created["script_tag"],
        format!(
            r#"<script src="http://localhost:8080/widget.js" data-site="{key}" async></script>"#
        )
    );

    let human = stdout(&mut site_create(&db, "Shop", "https://shop.example"));
    assert!(
        human.contains("secret:") && human.contains("<script src="),
        "{human}"
    );

    stdout(chatctl(&db).args(["site", "add-origin", &key, "https://www.example.com"]));
    stdout(chatctl(&db).args(["site", "remove-origin", &key, "https://blog.example.com"]));
    stdout(chatctl(&db).args([
        "site",
        "set",
        &key,
        "--guests",
        "false",
        "--room-policy",
        "precreated",
        "--max-rooms",
        "5",
    ]));
    stdout(chatctl(&db).args(["site", "add-room", &key, "support"]));
    let shown: Value =
        serde_json::from_str(&stdout(chatctl(&db).args(["site", "show", &key, "--json"]))).unwrap();
    assert_eq!(
        shown["origins"],
        serde_json::json!(["https://www.example.com"])
    );
    assert_eq!(shown["rooms"], serde_json::json!(["support"]));
    assert_eq!(
        (
            shown["guests_allowed"].as_bool(),
            shown["room_policy"].as_str(),
            shown["max_rooms"].as_i64()
        ),
        (Some(false), Some("precreated"), Some(5))
    );
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once only"
    );

    let rotated = stdout(chatctl(&db).args(["site", "rotate-secret", &key]));
    assert!(rotated.contains("sk_") && !rotated.contains(created["secret"].as_str().unwrap()));
    stdout(chatctl(&db).args(["site", "disable", &key]));
    let list: Value =
        serde_json::from_str(&stdout(chatctl(&db).args(["site", "list", "--json"]))).unwrap();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["public_key"] == key.as_str())
        .unwrap();
    assert_eq!(row["enabled"], false);
    // One schema for a site: `list` rows are what `show` prints, times as RFC 3339.
    let printed = stdout(chatctl(&db).args(["site", "show", &key, "--json"]));
    // A JSON parser keeps one of two equal keys: count them in the text.
    assert_eq!(printed.matches("\"created_at\"").count(), 1, "{printed}");
    let shown: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(row, &shown);
    let at = shown["created_at"].as_str().unwrap();
    assert!(at.len() == 20 && at.ends_with('Z'), "{at}");
    assert!(stdout(chatctl(&db).args(["site", "list"])).contains("(disabled)"));
}

#[test]
fn site_errors_are_clear() {
    let db = test_db();
    assert!(failure(&mut site_create(&db, "X", "example.com"))
        .to_lowercase()
        .contains("malformed origin"));
    assert!(failure(&mut site_create(&db, "X", "https://x.com/path")).contains("without path"));
    assert!(failure(&mut site_create(&db, " ", "https://x.com")).contains("name"));
    assert!(failure(chatctl(&db).args(["site", "show", "pk_nope"])).contains("unknown site"));
    assert!(
        failure(chatctl(&db).args(["site", "disable", "pk_000000000000000000000000"]))
            .contains("unknown site")
    );
    let key = created_site(&db, "X", "https://x.com")["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        failure(chatctl(&db).args(["site", "remove-origin", &key, "https://other.com"]))
            .contains("does not allow")
    );
    assert!(failure(chatctl(&db).args(["site", "set", &key])).contains("nothing to change"));
    assert!(
        failure(chatctl(&db).args(["site", "add-room", &key, "bad room"])).contains("room names")
    );
    // Clap-level errors exit non-zero too.
    assert!(!chatctl(&db)
        .args(["site", "set", &key, "--max-rooms", "0"])
        .output()
        .unwrap()
        .status
        .success());
    assert!(failure(Command::cargo_bin("chatctl").unwrap().args([
        "--database-url",
        "mysql://x",
        "site",
        "list"
    ]))
    .contains("unsupported database URL"));
}

/// A database with a site (its key) and an owner and a moderator of it.
fn with_two_users() -> (TestDb, String) {
    let db = test_db();
    let key = created_site(&db, "S", "https://s.example")["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = stdout(&mut user_create(
        &db,
        ["Owner@Example.com", "Olga"],
        "owner",
        &[],
        "correct Horse battery",
    ));
    assert!(out.contains("owner@example.com"), "{out}");
    stdout(&mut user_create(
        &db,
        ["mod@example.com", "Mo"],
        "moderator",
        &[&key],
        "another Passphrase 2",
    ));
    (db, key)
}

#[test]
fn users_are_created_and_listed_without_their_passwords() {
    let (db, key) = with_two_users();
    let users: Value =
        serde_json::from_str(&stdout(chatctl(&db).args(["user", "list", "--json"]))).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);
    assert_eq!(users[1]["sites"], serde_json::json!([key]));
    assert!(users[0].get("password_hash").is_none());
}

#[test]
fn user_create_refuses_what_is_not_an_account() {
    let (db, _) = with_two_users();
    let fine = "fine Password 1";
    for (email, role, password, says) in [
        ("owner@example.com", "admin", fine, "already exists"),
        ("OWNER@example.com", "admin", fine, "already exists"),
        ("new@example.com", "admin", "short", "at least 10"),
        (
            "new@example.com",
            "admin",
            "Password12",
            "too easy to guess",
        ),
        ("not-an-email", "admin", fine, "not a valid email"),
        (
            "new@example.com",
            "moderator",
            fine,
            "needs at least one site",
        ),
    ] {
        let error = failure(&mut user_create(&db, [email, "N"], role, &[], password));
        assert!(error.contains(says), "{email} {role} {password}: {error}");
    }
    let superuser = user_create(&db, ["new@example.com", "N"], "superuser", &[], fine)
        .output()
        .unwrap();
    assert!(!superuser.status.success());
    // Without a terminal and without --password-stdin there is nobody to ask.
    let mut no_tty = chatctl(&db);
    no_tty
        .args([
            "user",
            "create",
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "admin",
        ])
        .write_stdin("");
    assert!(failure(&mut no_tty).contains("--password-stdin"));
}

#[test]
fn users_get_new_passwords_and_are_disabled() {
    let (db, _) = with_two_users();
    stdout(
        chatctl(&db)
            .args([
                "user",
                "set-password",
                "--email",
                "mod@example.com",
                "--password-stdin",
            ])
            .write_stdin("brand new Pass 3\n"),
    );
    stdout(chatctl(&db).args(["user", "disable", "--email", "mod@example.com"]));
    assert!(stdout(chatctl(&db).args(["user", "list"])).contains("(disabled)"));
    assert!(
        failure(chatctl(&db).args(["user", "disable", "--email", "ghost@example.com"]))
            .contains("no admin account")
    );
}

#[test]
fn help_reads_well() {
    let help = stdout(Command::cargo_bin("chatctl").unwrap().arg("--help"));
    for word in ["migrate", "user", "site", "serve", "--database-url"] {
        assert!(help.contains(word), "{help}");
    }
    let serve = stdout(
        Command::cargo_bin("chatctl")
            .unwrap()
            .args(["serve", "--help"]),
    );
    for var in [
        "CHATCTL_BIND",
        "CHATCTL_PUBLIC_URL",
        "CHATCTL_MAX_FRAME_BYTES",
        "CHATCTL_RESUME_CAP",
        "CHATCTL_TRUSTED_PROXIES",
        "CHATCTL_SMTP_CA_FILE",
        "CHATCTL_NEW_GUESTS_PER_IP_PER_MINUTE",
        "Examples",
    ] {
        assert!(serve.contains(var), "serve --help mentions {var}");
    }
    let bad_proxy = failure(Command::cargo_bin("chatctl").unwrap().args([
        "serve",
        "--trusted-proxies",
        "10.0.0.0/8,proxy.example",
    ]));
    assert!(
        bad_proxy.contains("\"proxy.example\" is neither an IP address nor a CIDR range"),
        "{bad_proxy}"
    );
    let create = stdout(
        Command::cargo_bin("chatctl")
            .unwrap()
            .args(["site", "create", "--help"]),
    );
    assert!(create.contains("Example"), "{create}");
}
