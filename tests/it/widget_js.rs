//! The widget's JavaScript outside a browser, with Node: the unit tests of its
//! pure parts (`widget/test/`, Node's built-in runner) and a syntax check of the
//! script as served (its files joined: a name declared twice fails here).
//! Without `node` these tests are skipped loudly, except under `CI=true` where
//! they fail (`.ci/run` installs Node).

use std::path::Path;
use std::process::{Command, Output};

/// `node` with `args` in `dir`, or `None` (after saying so loudly) when Node is missing.
fn node(test: &str, dir: &Path, args: &[&str]) -> Option<Output> {
    match Command::new("node").args(args).current_dir(dir).output() {
        Ok(output) => Some(output),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("node is missing on CI: apt-get install nodejs");
            }
            eprintln!("\n*** SKIPPED {test}: node not found (apt-get install nodejs) ***\n");
            None
        }
        Err(err) => panic!("cannot run node: {err}"),
    }
}

fn assert_ok(what: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

#[test]
fn widget_unit_tests_pass_under_node() {
    let widget = Path::new(env!("CARGO_MANIFEST_DIR")).join("widget");
    let Some(output) = node("widget_unit_tests_pass_under_node", &widget, &["--test"]) else {
        return;
    };
    assert_ok("node --test (widget/test/)", &output);
    // Node prints a summary such as `# pass 16`: an empty run is a failure too.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let passed: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        passed >= 10,
        "only {passed} widget unit tests ran:\n{stdout}"
    );
}

#[test]
fn served_widget_script_parses() {
    let bundle = chatctl::http::widget::bundle::get().expect("the widget bundle builds");
    let dir = tempfile::tempdir().unwrap();
    for (name, asset) in [
        ("widget.js", &bundle.script),
        ("extra.js", &bundle.extra),
        ("loader.js", &bundle.loader),
    ] {
        std::fs::write(dir.path().join(name), &asset.body).unwrap();
        let Some(output) = node(
            "served_widget_script_parses",
            dir.path(),
            &["--check", name],
        ) else {
            return;
        };
        assert_ok(&format!("node --check {name}"), &output);
    }
}
