//! The widget's files over HTTP: the loader at /widget.js, the versioned scripts
//! (core and on-demand) and language packs, their caching headers, gzip, and the
//! size budgets.

use std::io::Read;

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use reqwest::StatusCode;

use chatctl::lang::Lang;

use crate::support::*;

/// DESIGN.md's budgets, gzipped: what a page loads before the visitor opens the chat
/// (loader, core script, one language's core pack)...
const BEFORE_OPEN: usize = 15 * 1024;
/// ... and everything, with the part loaded on demand and its texts.
const TOTAL: usize = 25 * 1024;

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("valid gzip");
    out
}

/// The version the loader asks for: `/widget/<version>.js`.
fn version_in(loader: &str) -> String {
    let start = loader.find("widget/").expect("the loader names the script") + "widget/".len();
    loader[start..]
        .chars()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect()
}

/// GET `path`, asking for gzip when `gzip`.
async fn fetch(app: &TestApp, path: &str, gzip: bool) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(app.http_url(path));
    if gzip {
        request = request.header(ACCEPT_ENCODING, "gzip, deflate, br");
    }
    request.send().await.unwrap()
}

/// GET `path` with `If-None-Match: etag`.
async fn revalidate(app: &TestApp, path: &str, etag: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(app.http_url(path))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap()
}

/// The version of the widget's files, as the loader names it.
async fn current_version(app: &TestApp) -> String {
    version_in(&fetch(app, "/widget.js", false).await.text().await.unwrap())
}

const A_YEAR: &str = "public, max-age=31536000, immutable";
const SHORT: &str = "public, max-age=300, stale-while-revalidate=86400";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

#[tokio::test]
async fn the_loader_is_cached_briefly_and_revalidated() {
    let app = TestApp::spawn().await;
    let plain = fetch(&app, "/widget.js", false).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()[CONTENT_TYPE], JAVASCRIPT);
    assert_eq!(plain.headers()[CACHE_CONTROL], SHORT);
    assert_eq!(plain.headers()["access-control-allow-origin"], "*");
    assert_eq!(plain.headers()["vary"], "Accept-Encoding");
    assert!(plain.headers().get(CONTENT_ENCODING).is_none());
    let etag = plain.headers()[ETAG].to_str().unwrap().to_owned();
    let loader = plain.text().await.unwrap();
    assert!(
        loader.len() < 1500,
        "the loader stays tiny: {} bytes",
        loader.len()
    );
    assert!(
        !loader.contains("/*"),
        "comments are stripped at serve time"
    );
    let version = version_in(&loader);
    assert_eq!(version.len(), 12, "a content hash in the URL: {loader}");

    let zipped = fetch(&app, "/widget.js", true).await;
    assert_eq!(zipped.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(zipped.headers()[ETAG], etag.as_str());
    assert_eq!(gunzip(&zipped.bytes().await.unwrap()), loader);

    let revalidated = revalidate(&app, "/widget.js", &etag).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert!(revalidated.bytes().await.unwrap().is_empty());
    let changed = revalidate(&app, "/widget.js", "\"something-else\"").await;
    assert_eq!(changed.status(), 200);
}

#[tokio::test]
async fn the_scripts_are_versioned_and_cached_for_a_year() {
    let app = TestApp::spawn().await;
    let version = current_version(&app).await;
    let script = fetch(&app, &format!("/widget/{version}.js"), true).await;
    assert_eq!(script.status(), 200);
    assert_eq!(script.headers()[CACHE_CONTROL], A_YEAR);
    assert_eq!(script.headers()[CONTENT_ENCODING], "gzip");
    let source = gunzip(&script.bytes().await.unwrap());
    assert!(source.contains("class Widget"));
    assert!(
        !source.contains("\n  "),
        "indentation is stripped at serve time"
    );
    assert!(
        !source.contains("// "),
        "line comments are stripped at serve time"
    );

    // The part loaded on demand, next to the core's texts: same version, same caching.
    let path = format!("/widget/{version}/extra.js");
    let extra = fetch(&app, &path, true).await;
    assert_eq!(extra.status(), 200);
    assert_eq!(extra.headers()[CACHE_CONTROL], A_YEAR);
    assert_eq!(extra.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(extra.headers()[CONTENT_TYPE], JAVASCRIPT);
    assert_eq!(extra.headers()["access-control-allow-origin"], "*");
    let extra_etag = extra.headers()[ETAG].to_str().unwrap().to_owned();
    let extra_source = gunzip(&extra.bytes().await.unwrap());
    assert!(extra_source.contains("accountMethods") && !source.contains("accountMethods"));
    assert!(!extra_source.contains("// "), "comments are stripped");
    let revalidated = revalidate(&app, &path, &extra_etag).await;
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
}

/// Each language's packs (the core's texts and the on-demand part's): valid
/// JSON with the same keys, cached for a year; returns the largest of each,
/// gzipped, in bytes.
async fn language_packs(app: &TestApp, version: &str) -> (usize, usize) {
    let mut biggest_pack = 0;
    let mut biggest_extra_pack = 0;
    for lang in Lang::ALL.map(Lang::code) {
        for (file, key, biggest) in [
            (lang.to_owned(), "send", &mut biggest_pack),
            (
                format!("{lang}.extra"),
                "createAccount",
                &mut biggest_extra_pack,
            ),
        ] {
            let pack = fetch(app, &format!("/widget/{version}/{file}.json"), true).await;
            assert_eq!(pack.status(), 200, "{file}");
            assert_eq!(pack.headers()[CACHE_CONTROL], A_YEAR);
            assert_eq!(pack.headers()["access-control-allow-origin"], "*");
            assert_eq!(
                pack.headers()[CONTENT_TYPE],
                "application/json; charset=utf-8"
            );
            let gz = pack.bytes().await.unwrap();
            *biggest = (*biggest).max(gz.len());
            let texts: serde_json::Value = serde_json::from_str(&gunzip(&gz)).unwrap();
            assert!(texts[key].is_string(), "{file}: {texts}");
            assert!(texts.get("extra").is_none(), "{file}: {texts}");
        }
    }
    (biggest_pack, biggest_extra_pack)
}

#[tokio::test]
async fn language_packs_are_versioned_json_and_nothing_else_is_served() {
    let app = TestApp::spawn().await;
    let version = current_version(&app).await;
    language_packs(&app, &version).await;
    for missing in [
        "pt.json",
        "pt.extra.json",
        "extra.json",
        ".extra.json",
        "main.js",
    ] {
        let status = fetch(&app, &format!("/widget/{version}/{missing}"), false)
            .await
            .status();
        assert_eq!(status, 404, "{missing}");
    }
    assert_eq!(fetch(&app, "/widget/whatever", false).await.status(), 404);
}

/// A loader cached before an upgrade asks for an old version: it gets the
/// current files, but not for a year (an old core that loads the current
/// extra script is told to reload: tests/it/widget_lazy.rs).
#[tokio::test]
async fn an_old_version_gets_the_current_files_cached_briefly() {
    let app = TestApp::spawn().await;
    for path in ["/widget/0123456789ab.js", "/widget/0123456789ab/extra.js"] {
        let old = fetch(&app, path, false).await;
        assert_eq!(old.status(), 200, "{path}");
        assert_eq!(old.headers()[CACHE_CONTROL], SHORT, "{path}");
    }
}

#[tokio::test]
async fn the_widget_stays_within_its_size_budgets() {
    let app = TestApp::spawn().await;
    let version = current_version(&app).await;
    let gzipped = |path: String| {
        let app = &app;
        async move { fetch(app, &path, true).await.bytes().await.unwrap().len() }
    };
    let loader = gzipped("/widget.js".into()).await;
    let script = gzipped(format!("/widget/{version}.js")).await;
    let extra = gzipped(format!("/widget/{version}/extra.js")).await;
    let (biggest_pack, biggest_extra_pack) = language_packs(&app, &version).await;
    let before_open = loader + script + biggest_pack;
    let total = before_open + extra + biggest_extra_pack;
    println!(
        "widget size, gzipped: before the chat opens: loader {loader} B + core script {script} B + largest core pack {biggest_pack} B = {before_open} B (budget {BEFORE_OPEN} B); \
         on demand: extra script {extra} B + largest extra pack {biggest_extra_pack} B; in all {total} B (budget {TOTAL} B)",
    );
    assert!(
        before_open <= BEFORE_OPEN,
        "the widget loads {before_open} B gzipped before the chat opens, over the {BEFORE_OPEN} B budget"
    );
    assert!(
        total <= TOTAL,
        "the widget is {total} B gzipped in all, over the {TOTAL} B budget"
    );
}
