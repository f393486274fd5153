//! One admin request, parsed once: method, path segments, query, cookies and
//! client address. Handlers read the body as a typed form struct.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;

use crate::input::strict::{self, RepeatedKey};
use warp::http::{HeaderMap, Method};

use super::error::{AdminError, Result};

pub struct Request {
    pub method: Method,
    /// Path segments after `/admin`.
    pub path: Vec<String>,
    /// Refused by the route table when a name is given twice.
    query: std::result::Result<Vec<(String, String)>, RepeatedKey>,
    /// The body as sent, for [`Request::form`].
    body: Vec<u8>,
    cookies: HashMap<String, String>,
    pub ip: IpAddr,
    /// `path?query` as requested, for redirects back after login.
    pub target: String,
    /// The admin page a form was posted from (from `Referer`, same site only).
    pub back: Option<String>,
}

impl Request {
    pub fn new(
        method: Method,
        tail: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        ip: IpAddr,
    ) -> Request {
        let cookies = headers
            .get_all(warp::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let path = tail
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let target = if query.is_empty() {
            format!("/admin/{tail}")
        } else {
            format!("/admin/{tail}?{query}")
        };
        Request {
            method,
            path,
            query: strict::pairs(query.as_bytes()),
            body: body.to_vec(),
            cookies,
            ip,
            target,
            back: back_from(headers),
        }
    }

    /// Where to go after a successful action: the page the form was on, else `default`.
    pub fn back_or(&self, default: &str) -> String {
        self.back.clone().unwrap_or_else(|| default.to_owned())
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// The posted form as `T`: a struct of text fields, turned into typed
    /// values by its own `TryFrom` (zero-to-production's `Form<FormData>`).
    /// Fields it does not name (`csrf`) are ignored; a repeated field (a
    /// group of checkboxes) is read into a `Vec`.
    pub fn form<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_html_form::from_bytes(&self.body).map_err(|e| {
            // A field given twice where one value is read: say which.
            let why = match strict::pairs(&self.body) {
                Err(repeated) => repeated.to_string(),
                Ok(_) => e.to_string(),
            };
            AdminError::BadRequest(format!(
                "This form could not be read ({why}). Reload the page and try again."
            ))
        })
    }

    /// Refuses a query string that names a parameter twice (which one
    /// counts would be a guess).
    pub fn strict_query(&self) -> Result<()> {
        match &self.query {
            Ok(_) => Ok(()),
            Err(repeated) => Err(AdminError::BadRequest(format!(
                "This address could not be read: {repeated}."
            ))),
        }
    }

    /// A query parameter, trimmed; empty counts as absent.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// A query parameter that must parse when present.
    pub fn query_as<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.query(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| AdminError::BadRequest(format!("{name}: {v:?} is not valid")))
            })
            .transpose()
    }
}

/// An id bound from a path segment in the route table; anything else is a
/// page that does not exist.
pub fn id<T: From<i64>>(segment: &str) -> Result<T> {
    segment
        .parse::<i64>()
        .map(T::from)
        .map_err(|_| AdminError::NotFound)
}

/// A text field of a form struct, trimmed; empty counts as absent.
pub fn text(field: Option<String>) -> Option<String> {
    field.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A text field of a form struct that must parse when present.
pub fn parse<T: FromStr>(field: Option<String>, label: &str) -> Result<Option<T>> {
    text(field)
        .map(|v| {
            v.parse()
                .map_err(|_| AdminError::BadRequest(format!("{label}: {v:?} is not valid.")))
        })
        .transpose()
}

/// The admin page a form was posted from; only a path under `/admin`, so a
/// forged `Referer` cannot turn it into an open redirect.
fn back_from(headers: &HeaderMap) -> Option<String> {
    let referer = headers.get(warp::http::header::REFERER)?.to_str().ok()?;
    let url = url::Url::parse(referer).ok()?;
    let path = url.path();
    if !path.starts_with("/admin") || path.starts_with("/admin/login") {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    })
}
