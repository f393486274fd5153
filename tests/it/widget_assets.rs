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

#[tokio::test]
async fn widget_files_are_versioned_cached_and_compressed() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let get = |path: &str, gzip: bool| {
        let mut request = http.get(app.http_url(path));
        if gzip {
            request = request.header(ACCEPT_ENCODING, "gzip, deflate, br");
        }
        request.send()
    };

    // The loader: short cache, revalidated with its ETag.
    let plain = get("/widget.js", false).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(
        plain.headers()[CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        plain.headers()[CACHE_CONTROL],
        "public, max-age=300, stale-while-revalidate=86400"
    );
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

    let zipped = get("/widget.js", true).await.unwrap();
    assert_eq!(zipped.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(zipped.headers()[ETAG], etag.as_str());
    let loader_gz = zipped.bytes().await.unwrap();
    assert_eq!(gunzip(&loader_gz), loader);

    let revalidated = http
        .get(app.http_url("/widget.js"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert!(revalidated.bytes().await.unwrap().is_empty());
    let changed = http
        .get(app.http_url("/widget.js"))
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    // The script at its versioned URL: cached for a year.
    let script = get(&format!("/widget/{version}.js"), true).await.unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        script.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(script.headers()[CONTENT_ENCODING], "gzip");
    let script_gz = script.bytes().await.unwrap();
    let source = gunzip(&script_gz);
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
    let extra = get(&format!("/widget/{version}/extra.js"), true)
        .await
        .unwrap();
    assert_eq!(extra.status(), 200);
    assert_eq!(
        extra.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(extra.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(
        extra.headers()[CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(extra.headers()["access-control-allow-origin"], "*");
    let extra_etag = extra.headers()[ETAG].to_str().unwrap().to_owned();
    let extra_gz = extra.bytes().await.unwrap();
    let extra_source = gunzip(&extra_gz);
    assert!(extra_source.contains("accountMethods") && !source.contains("accountMethods"));
    assert!(!extra_source.contains("// "), "comments are stripped");
    let revalidated = http
        .get(app.http_url(&format!("/widget/{version}/extra.js")))
        .header(IF_NONE_MATCH, &extra_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    // Language packs, each valid JSON with the same keys: the core's texts, and the
    // on-demand part's.
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
            let pack = get(&format!("/widget/{version}/{file}.json"), true)
                .await
                .unwrap();
            assert_eq!(pack.status(), 200, "{file}");
            assert_eq!(
                pack.headers()[CACHE_CONTROL],
                "public, max-age=31536000, immutable"
            );
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
    for missing in [
        "pt.json",
        "pt.extra.json",
        "extra.json",
        ".extra.json",
        "main.js",
    ] {
        let status = get(&format!("/widget/{version}/{missing}"), false)
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{missing}");
    }

    // A loader cached before an upgrade asks for an old version: it gets the
    // current files, but not for a year (an old core that loads the current
    // extra script is told to reload: tests/it/widget_lazy.rs).
    for path in ["/widget/0123456789ab.js", "/widget/0123456789ab/extra.js"] {
        let old = get(path, false).await.unwrap();
        assert_eq!(old.status(), 200, "{path}");
        assert_eq!(
            old.headers()[CACHE_CONTROL],
            "public, max-age=300, stale-while-revalidate=86400",
            "{path}"
        );
    }
    assert_eq!(get("/widget/whatever", false).await.unwrap().status(), 404);

    let before_open = loader_gz.len() + script_gz.len() + biggest_pack;
    let total = before_open + extra_gz.len() + biggest_extra_pack;
    println!(
        "widget size, gzipped: before the chat opens: loader {} B + core script {} B + largest core pack {} B = {before_open} B (budget {BEFORE_OPEN} B); \
         on demand: extra script {} B + largest extra pack {} B; in all {total} B (budget {TOTAL} B)",
        loader_gz.len(),
        script_gz.len(),
        biggest_pack,
        extra_gz.len(),
        biggest_extra_pack,
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
