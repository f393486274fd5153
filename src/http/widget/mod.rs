//! The widget's routes: the loader, the script and language packs
//! ([`bundle`], minified by [`minify`]) and the demo page.
//!
//! Caching: `/widget.js` (the loader, in every embedding page) is cached for
//! 5 minutes and revalidated with its ETag, so an upgrade reaches browsers
//! within minutes; the files it loads have the content hash in their URL and
//! are cached for a year. A request for another version than the current one
//! (a loader cached before an upgrade) gets the current files with the short
//! cache, never pinned for a year.

use warp::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use warp::hyper::body::Bytes;
use warp::{Filter, Rejection, Reply};

mod asset;
pub mod bundle;
mod minify;

use asset::Asset;
use bundle::Sources;

use crate::http::AppState;

/// Placeholder in `widget/demo.html` replaced by the demo site's key.
const DEMO_KEY_PLACEHOLDER: &str = "__CHATCTL_SITE_KEY__";

const SHORT: &str = "public, max-age=300, stale-while-revalidate=86400";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    // Build and compress the widget now, in the background, rather than while
    // the first visitor waits (the bundle is built once per process).
    std::thread::spawn(|| {
        let _ = bundle::get();
    });
    loader()
        .or(script())
        .unify()
        .or(lang_pack())
        .unify()
        .or(demo_page(state))
        .unify()
}

/// GET /widget.js — the loader.
fn loader() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("widget.js")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .map(|headers: HeaderMap| match bundle::get() {
            Ok(bundle) => serve(&bundle.loader, SHORT, &headers),
            Err(err) => broken(err),
        })
}

/// GET /widget/VERSION.js — the script.
fn script() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("widget" / String)
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and_then(|file: String, headers: HeaderMap| async move {
            let version = file
                .strip_suffix(".js")
                .ok_or_else(warp::reject::not_found)?;
            Ok::<_, Rejection>(match bundle::get() {
                Ok(bundle) => serve(&bundle.script, cache(&bundle.version, version), &headers),
                Err(err) => broken(err),
            })
        })
}

/// GET /widget/VERSION/extra.js — the part loaded on demand; GET
/// /widget/VERSION/LANG.json and /widget/VERSION/LANG.extra.json — a language
/// pack, the core's texts and the on-demand part's.
fn lang_pack() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("widget" / String / String)
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and_then(
            |version: String, file: String, headers: HeaderMap| async move {
                let name = file
                    .strip_suffix(".json")
                    .or_else(|| (file == "extra.js").then_some(""))
                    .ok_or_else(warp::reject::not_found)?;
                Ok::<_, Rejection>(match bundle::get() {
                    Ok(bundle) => {
                        let asset = match name.strip_suffix(".extra") {
                            _ if name.is_empty() => Some(&bundle.extra),
                            Some(lang) => bundle.extra_langs.get(lang),
                            None => bundle.langs.get(name),
                        };
                        match asset {
                            Some(asset) => serve(asset, cache(&bundle.version, &version), &headers),
                            None => not_found(),
                        }
                    }
                    Err(err) => broken(err),
                })
            },
        )
}

fn cache(current: &str, asked: &str) -> &'static str {
    if current == asked {
        IMMUTABLE
    } else {
        SHORT
    }
}

/// The asset, compressed when the client accepts gzip, or 304 when its copy is current.
fn serve(asset: &Asset, cache_control: &'static str, request: &HeaderMap) -> warp::reply::Response {
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| etag_matches(tags, &asset.etag));
    let gzip = accepts_gzip(request);
    let mut response = if fresh {
        let mut r = Response::new(Bytes::new().into());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else if gzip {
        Response::new(asset.gzip.clone().into())
    } else {
        Response::new(asset.body.clone().into())
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, cache_control),
        (header::VARY, "Accept-Encoding"),
        // Pages on any origin load the script and fetch the language packs.
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if gzip && !fresh {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if let Ok(value) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

/// `If-None-Match` may list several tags, weak ones (`W/"..."`) or `*`.
fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, unless `q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    let Some(value) = request
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|part| {
        let mut fields = part.split(';');
        let coding = fields.next().unwrap_or("").trim();
        let refused = fields.any(|f| {
            f.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        !refused
            && ["gzip", "x-gzip", "*"]
                .iter()
                .any(|c| coding.eq_ignore_ascii_case(c))
    })
}

fn not_found() -> warp::reply::Response {
    warp::reply::with_status("not found", StatusCode::NOT_FOUND).into_response()
}

fn broken(err: &bundle::BundleError) -> warp::reply::Response {
    tracing::error!(error = %err, "the widget cannot be served");
    warp::reply::with_status("widget unavailable", StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}

/// GET / — the demo page with the widget, when the demo is enabled.
fn demo_page(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path::end().and(warp::get()).and(state.with()).and_then(|state: AppState| async move {
        let key = state.demo_site_key.ok_or_else(warp::reject::not_found)?;
        let page = Sources::get("demo.html").ok_or_else(warp::reject::not_found)?;
        let html = String::from_utf8_lossy(&page.data).replace(DEMO_KEY_PLACEHOLDER, &key);
        let reply = warp::reply::html(html);
        let reply = warp::reply::with_header(
            reply,
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:",
        );
        Ok::<_, Rejection>(warp::reply::with_header(reply, "x-content-type-options", "nosniff").into_response())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(accept).unwrap(),
        );
        h
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&headers("gzip, deflate, br")));
        assert!(accepts_gzip(&headers("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("br, deflate")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etags_in_lists_and_weak() {
        assert!(etag_matches("\"a\", W/\"b\"", "\"b\""));
        assert!(etag_matches("*", "\"b\""));
        assert!(!etag_matches("\"a\"", "\"b\""));
    }
}
