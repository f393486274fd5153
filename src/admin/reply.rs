//! What an admin handler answers, turned into an HTTP response in one place
//! that also adds the security headers every admin page carries.

use url::form_urlencoded;
use warp::http::{header, HeaderValue, StatusCode};
use warp::hyper::body::Bytes;

use super::request::Request;

pub const FLASH_COOKIE: &str = "chatctl_flash";

/// Strict policy: no inline script or style, nothing from elsewhere, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A one-shot message shown on the next page (after a redirect).
pub enum Flash {
    Ok(String),
    Err(String),
}

enum Body {
    Empty,
    Bytes(Bytes),
    Stream(warp::reply::Response),
}

pub struct Reply {
    status: StatusCode,
    body: Body,
    content_type: Option<String>,
    headers: Vec<(header::HeaderName, String)>,
    cookies: Vec<String>,
}

impl Reply {
    fn new(status: StatusCode, body: Body, content_type: Option<&str>) -> Reply {
        Reply {
            status,
            body,
            content_type: content_type.map(str::to_owned),
            headers: Vec::new(),
            cookies: Vec::new(),
        }
    }

    pub fn html(status: StatusCode, html: String) -> Reply {
        Reply::new(
            status,
            Body::Bytes(html.into()),
            Some("text/html; charset=utf-8"),
        )
    }

    /// 303: after a POST, the browser GETs `to`.
    pub fn redirect(to: &str) -> Reply {
        Reply::new(StatusCode::SEE_OTHER, Body::Empty, None).header(header::LOCATION, to)
    }

    pub fn json(value: &serde_json::Value) -> Reply {
        Reply::new(
            StatusCode::OK,
            Body::Bytes(value.to_string().into()),
            Some("application/json"),
        )
    }

    pub fn bytes(data: Vec<u8>, content_type: &str) -> Reply {
        Reply::new(StatusCode::OK, Body::Bytes(data.into()), Some(content_type))
    }

    /// A streamed download.
    pub fn download(response: warp::reply::Response, content_type: &str, filename: &str) -> Reply {
        Reply::new(StatusCode::OK, Body::Stream(response), Some(content_type)).header(
            header::CONTENT_DISPOSITION,
            &format!("attachment; filename=\"{filename}\""),
        )
    }

    pub fn header(mut self, name: header::HeaderName, value: &str) -> Reply {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn cookie(mut self, cookie: String) -> Reply {
        self.cookies.push(cookie);
        self
    }

    pub fn flash(self, flash: Flash) -> Reply {
        let (kind, text) = match flash {
            Flash::Ok(t) => ("ok", t),
            Flash::Err(t) => ("err", t),
        };
        let value: String =
            form_urlencoded::byte_serialize(format!("{kind}|{text}").as_bytes()).collect();
        self.cookie(format!(
            "{FLASH_COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict"
        ))
    }

    pub fn into_response(self) -> warp::reply::Response {
        let mut response = match self.body {
            Body::Empty => warp::reply::Response::new(Bytes::new().into()),
            Body::Bytes(b) => warp::reply::Response::new(b.into()),
            Body::Stream(r) => r,
        };
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(ct) = self
            .content_type
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            headers.insert(header::CONTENT_TYPE, ct);
        }
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        for cookie in self.cookies {
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                headers.append(header::SET_COOKIE, value);
            }
        }
        secure(headers);
        response
    }
}

/// Headers on every admin response, including errors.
pub fn secure(headers: &mut warp::http::HeaderMap) {
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// The flash message carried by the request, if any: `(kind, text)`.
pub fn read_flash(req: &Request) -> Option<(String, String)> {
    let raw = req.cookie(FLASH_COOKIE)?;
    let decoded: String = form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    let (kind, text) = decoded.split_once('|')?;
    let kind = if kind == "ok" { "ok" } else { "err" };
    Some((kind.to_owned(), text.chars().take(500).collect()))
}
