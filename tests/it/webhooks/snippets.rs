//! The receiver snippets of docs/API.md ("Verifying the signature") run
//! against a real delivery: each must accept it and refuse it tampered, with
//! the wrong secret, or replayed late. Node, Python and PHP run as
//! programs; without them the test says SKIPPED loudly, except under
//! `CI=true` (`.ci/run` installs them), where it fails. The Rust snippet is
//! `verify_rust.rs`, which must be the documented text exactly.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use super::add_endpoint;
use crate::support::receiver::Receiver;
use crate::support::*;

fn api_md() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/API.md")).unwrap()
}

/// The code block after `<!-- verify-{lang} -->` in docs/API.md.
fn snippet(lang: &str) -> String {
    let doc = api_md();
    let marker = format!("<!-- verify-{lang} -->\n");
    let at = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("docs/API.md has no {marker}"));
    let block = &doc[at + marker.len()..];
    let code = &block[block.find('\n').unwrap() + 1..];
    code[..code.find("```").unwrap()].to_owned()
}

/// Whether `tool` can run; SKIPPED loudly when not, fatal under CI.
fn available(tool: &str, install: &str) -> bool {
    if Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{tool} is required under CI=true ({install})");
    }
    eprintln!("\n*** SKIPPED the {tool} webhook snippet: {tool} not found ({install}) ***\n");
    false
}

/// (label, body, header, secret, expected) for each check.
type Case = (&'static str, String, String, String, bool);

/// A real delivery, and the same with one thing wrong each.
async fn cases() -> Vec<Case> {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn().await;
    let site = app.site(&[ORIGIN]).await;
    let (_, secret) = add_endpoint(&app, &site, &receiver.url(), &["message.created"]).await;
    let (mut ann, _) = app.guest_in(&site.public_key, "ann", "lobby").await;
    ann.say("lobby", "c1", "héllo ✓ \"quoted\" \\ 🎉").await;
    let got = receiver.wait_delivered(1).await.remove(0);
    let (body, header) = (got.body.clone(), got.header("chatctl-signature").to_owned());
    let stale_t = chatctl::db::now_ms() / 1000 - 3600;
    let stale = chatctl::webhooks::signature::sign(&secret, stale_t, body.as_bytes()).unwrap();
    vec![
        (
            "genuine",
            body.clone(),
            header.clone(),
            secret.clone(),
            true,
        ),
        (
            "tampered body",
            body.replace("ann", "eve"),
            header.clone(),
            secret.clone(),
            false,
        ),
        (
            "wrong secret",
            body.clone(),
            header.clone(),
            "whsec_wrong".into(),
            false,
        ),
        (
            "replayed an hour later",
            body.clone(),
            stale,
            secret.clone(),
            false,
        ),
        (
            "no signature",
            body.clone(),
            String::new(),
            secret.clone(),
            false,
        ),
        ("garbage header", body, "t=abc,v1=zz".into(), secret, false),
    ]
}

fn cases_json(cases: &[Case]) -> String {
    let list: Vec<Value> = cases
        .iter()
        .map(|(_, body, header, secret, _)| json!({"body": body, "header": header, "secret": secret}))
        .collect();
    serde_json::to_string(&list).unwrap()
}

/// Runs `program` (the snippet plus a harness printing one true/false per
/// case, as JSON) and checks its verdicts.
fn check(tool: &str, file: &str, program: String, cases: &[Case]) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cases.json"), cases_json(cases)).unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, program).unwrap();
    let out = Command::new(tool)
        .arg(&path)
        .arg(dir.path().join("cases.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<bool> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{tool} printed {}", String::from_utf8_lossy(&out.stdout)));
    for ((label, .., expected), verdict) in cases.iter().zip(verdicts) {
        assert_eq!(verdict, *expected, "{tool}: {label}");
    }
}

#[tokio::test]
async fn the_documented_receivers_accept_a_real_delivery_and_refuse_forgeries() {
    let cases = cases().await;
    let rust_source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/webhooks/verify_rust.rs"),
    )
    .unwrap();
    assert_eq!(
        snippet("rust"),
        rust_source,
        "docs/API.md's Rust snippet is verify_rust.rs"
    );
    let now = chatctl::db::now_ms() / 1000;
    for (label, body, header, secret, expected) in &cases {
        let verdict =
            super::verify_rust::verify_chatctl_signature(body.as_bytes(), header, secret, now, 300);
        assert_eq!(verdict, *expected, "rust: {label}");
    }
    if available("node", "apt-get install nodejs") {
        let harness = "\nconst cases = JSON.parse(require(\"fs\").readFileSync(process.argv[2], \"utf8\"));\n\
            console.log(JSON.stringify(cases.map((c) => verifyChatctlSignature(Buffer.from(c.body, \"utf8\"), c.header, c.secret))));\n";
        check("node", "verify.js", snippet("node") + harness, &cases);
    }
    if available("python3", "apt-get install python3") {
        let harness = "\nimport json, sys\n\
            cases = json.load(open(sys.argv[1], encoding=\"utf-8\"))\n\
            print(json.dumps([verify_chatctl_signature(c[\"body\"].encode(\"utf-8\"), c[\"header\"], c[\"secret\"]) for c in cases]))\n";
        check("python3", "verify.py", snippet("python") + harness, &cases);
    }
    if available("php", "apt-get install php-cli") {
        let harness = "\n$cases = json_decode(file_get_contents($argv[1]), true);\n\
            echo json_encode(array_map(fn($c) => chatctl_verify_signature($c['body'], $c['header'], $c['secret']), $cases));\n";
        check("php", "verify.php", snippet("php") + harness, &cases);
    }
}
