//! The widget script and the demo page, embedded in the binary.

use rust_embed::RustEmbed;
use warp::http::{header, HeaderValue, Response, StatusCode};
use warp::hyper::body::Bytes;
use warp::{Filter, Rejection, Reply};

use super::AppState;

#[derive(RustEmbed)]
#[folder = "widget/"]
struct Widget;

/// Placeholder in `widget/demo.html` replaced by the demo site's key.
const DEMO_KEY_PLACEHOLDER: &str = "__CHATCTL_SITE_KEY__";

pub fn routes(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    widget_js().or(demo_page(state)).unify()
}

/// GET /widget.js
fn widget_js() -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("widget.js")
        .and(warp::get())
        .and(warp::header::optional::<String>("if-none-match"))
        .and_then(|if_none_match: Option<String>| async move {
            let file = Widget::get("chatctl.js").ok_or_else(warp::reject::not_found)?;
            let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..8]));
            let mut response = if if_none_match.as_deref() == Some(etag.as_str()) {
                let mut r = Response::new(Bytes::new().into());
                *r.status_mut() = StatusCode::NOT_MODIFIED;
                r
            } else {
                Response::new(Bytes::from(file.data.into_owned()).into())
            };
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript; charset=utf-8"),
            );
            // Short cache + ETag: upgrades reach browsers within minutes, revalidation is cheap.
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
            headers.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            if let Ok(value) = HeaderValue::from_str(&etag) {
                headers.insert(header::ETAG, value);
            }
            Ok::<_, Rejection>(response)
        })
}

/// GET / — the demo page with the widget, when the demo is enabled.
fn demo_page(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path::end().and(warp::get()).and(state.with()).and_then(|state: AppState| async move {
        let key = state.demo_site_key.ok_or_else(warp::reject::not_found)?;
        let page = Widget::get("demo.html").ok_or_else(warp::reject::not_found)?;
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
