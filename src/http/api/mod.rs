//! The server API at `/api/v1` (docs/API.md, `openapi.json`): JSON over HTTP
//! for a site's backend, authenticated by the site's API keys
//! (`manage::api_keys`), each with its own request budget.
//!
//! One filter takes every request under `/api/v1`, reads its body (bounded),
//! authenticates it and hands it to [`dispatch`], the route table; every
//! answer, error or not, is made here, so no warp rejection leaks out.
//! Actions go through the services every surface uses (`chat::publish`,
//! `moderation`), audited with the key as the actor.

mod error;
mod messages;
mod people;
mod rooms;

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use warp::http::{header, HeaderMap, Method, StatusCode};
use warp::{Filter, Reply};

pub use error::ApiError;

use crate::chat::limits::{self, IpRateLimiter};
use crate::chat::Chat;
use crate::config::ApiConfig;
use crate::db::models::audit::Actor;
use crate::db::models::{ApiKey, ApiKeyId, Scope, Site};
use crate::db::{now_ms, DbConn, DbError};
use crate::input::strict::{self, RepeatedKey};
use crate::manage::api_keys;
use crate::rate_limit::{self, per_second, Keyed};

/// Largest request body: a message of the longest length, escaped, fits.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// `last_used_at` is written at most this often per key (it is shown to the minute).
const TOUCH_EVERY_MS: i64 = 60_000;
/// The OpenAPI description, served as is.
const OPENAPI: &str = include_str!("openapi.json");

/// Requests without a valid key an address may make in a minute (all at
/// once if need be) before the next ones are refused with `429`.
pub const FAILED_AUTH_PER_MINUTE: u32 = 10;
/// Addresses remembered before those back to a full budget are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// The API's shared state.
pub struct Api {
    chat: Arc<Chat>,
    /// Requests per key (per instance, like the other limits).
    budget: Keyed<ApiKeyId>,
    /// Requests without a valid key, per address (per instance).
    failures: IpRateLimiter,
}

impl Api {
    pub fn new(chat: Arc<Chat>, config: &ApiConfig) -> Api {
        let budget = rate_limit::keyed(per_second(
            config.api_requests_per_second,
            config.api_request_burst,
        ));
        let failures = limits::ip_per_minute_limiter(FAILED_AUTH_PER_MINUTE);
        Api {
            chat,
            budget,
            failures,
        }
    }

    /// `work` on a pooled connection, off the async runtime.
    async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        self.chat.db.run(work).await
    }

    /// The answer to a request from `ip` that authenticated as nothing:
    /// `401`, or `429` once the address has failed too often. Only failures
    /// count, so a valid key is never refused for them: keys are too long to
    /// guess, and what this stops is a client (or a scanner) hammering the
    /// database with keys that are wrong, revoked or missing.
    fn failed(&self, ip: IpAddr, why: &'static str) -> ApiError {
        if self.failures.len() > SWEEP_ABOVE {
            self.failures.retain_recent();
        }
        match limits::wait_for(&self.failures, &ip) {
            None => ApiError::Unauthorized(why),
            Some(wait) => {
                tracing::debug!(%ip, "API requests without a valid key refused");
                ApiError::TooManyFailures(wait)
            }
        }
    }
}

/// What every handler answers: a response, or an error that becomes one.
type Answer = Result<warp::reply::Response, ApiError>;

/// One request, as the handlers see it.
pub struct Call {
    method: Method,
    /// The path after `/api/v1/`, split and percent-decoded.
    path: Vec<String>,
    /// Refused (once the caller is known) when a name is given twice.
    query: Result<Vec<(String, String)>, RepeatedKey>,
    headers: HeaderMap,
    body: Bytes,
}

impl Call {
    /// The query's pairs (none is repeated: see [`handle`]).
    fn pairs(&self) -> &[(String, String)] {
        self.query.as_deref().unwrap_or_default()
    }

    /// A query parameter.
    fn query(&self, name: &str) -> Option<&str> {
        self.pairs()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter that must be a number when present.
    fn query_int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.query(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::BadRequest(format!("{name} must be an integer, not {v:?}."))
                })
            })
            .transpose()
    }

    /// The body as `T`: JSON (`Content-Type: application/json`), with no
    /// unknown fields.
    fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let json = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let invalid = |err: serde_json::Error| match err.classify() {
            serde_json::error::Category::Data => {
                ApiError::BadRequest(format!("Invalid body: {err}"))
            }
            _ => ApiError::BadJson(err.to_string()),
        };
        // Derived structs also accept a JSON array (fields by position); no
        // body of this API is one, nor anything but an object.
        let not_object = || ApiError::BadRequest("Invalid body: it must be a JSON object.".into());
        if self.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(not_object());
        }
        // A key given twice is refused, as the WebSocket's frames refuse it.
        let value = strict::json(&self.body).map_err(invalid)?;
        if !value.is_object() {
            return Err(not_object());
        }
        T::deserialize(value).map_err(invalid)
    }

    /// Refuses query parameters other than `allowed` (a misspelt one would
    /// otherwise be ignored silently).
    fn only_query(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self
            .pairs()
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) if allowed.is_empty() => Err(ApiError::BadRequest(format!(
                "Unknown query parameter {k:?}: this endpoint takes none."
            ))),
            Some((k, _)) => Err(ApiError::BadRequest(format!(
                "Unknown query parameter {k:?}; this endpoint takes {}.",
                allowed.join(", ")
            ))),
        }
    }
}

/// Who is calling: a key in use, and its site.
pub struct Caller {
    key: ApiKey,
    site: Site,
}

impl Caller {
    fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.key.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::InsufficientScope(scope))
        }
    }

    fn actor(&self) -> Actor {
        Actor::ApiKey(self.key.id)
    }
}

/// Every request under `/api/v1`.
pub fn routes(
    api: Arc<Api>,
    client_ip: impl Filter<Extract = (IpAddr,), Error = Infallible> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::path("api")
        .and(warp::path("v1"))
        .and(warp::path::tail())
        .and(warp::method())
        .and(query)
        .and(warp::header::headers_cloned())
        .and(client_ip)
        .and(warp::body::stream())
        .then(
            move |tail: warp::path::Tail, method, query: String, headers, ip, body| {
                let api = api.clone();
                async move {
                    let call = read(tail.as_str(), method, &query, headers, body).await;
                    match call {
                        Ok(call) => handle(&api, call, ip).await,
                        Err(err) => err,
                    }
                    .unwrap_or_else(ApiError::into_response)
                }
            },
        )
}

/// The request, its body read up to [`MAX_BODY_BYTES`].
async fn read<S, B>(
    tail: &str,
    method: Method,
    query: &str,
    headers: HeaderMap,
    body: S,
) -> Result<Call, Answer>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let path = tail
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let query = strict::pairs(query.as_bytes());
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES)));
    }
    let mut body = body;
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| {
            Err(ApiError::BadRequest(format!(
                "The body could not be read: {e}"
            )))
        })?;
        if bytes.len() + chunk.remaining() > MAX_BODY_BYTES {
            return Err(Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES)));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            bytes.extend_from_slice(part);
            let n = part.len();
            chunk.advance(n);
        }
    }
    Ok(Call {
        method,
        path,
        query,
        headers,
        body: bytes.freeze(),
    })
}

async fn handle(api: &Api, call: Call, ip: IpAddr) -> Answer {
    if call.path == ["openapi.json"] {
        return if call.method == Method::GET {
            Ok(
                warp::reply::with_header(OPENAPI, header::CONTENT_TYPE, "application/json")
                    .into_response(),
            )
        } else {
            Err(ApiError::MethodNotAllowed(call.method.to_string(), GET))
        };
    }
    let caller = match authenticate(api, &call.headers).await {
        Err(ApiError::Unauthorized(why)) => return Err(api.failed(ip, why)),
        caller => caller?,
    };
    if let Err(repeated) = &call.query {
        return Err(ApiError::BadRequest(format!("Invalid query: {repeated}.")));
    }
    dispatch(api, &caller, &call).await
}

/// The key the request presents, if it is one in use; spends from its budget.
async fn authenticate(api: &Api, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::Unauthorized(
            "Send an API key: Authorization: Bearer <key>.",
        ))?
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        })
        .ok_or(ApiError::Unauthorized(
            "The Authorization header must be: Bearer <key>.",
        ))?;
    let (key, site) = api
        .run(move |conn| api_keys::recognise(conn, &presented))
        .await?
        .ok_or(ApiError::Unauthorized(
            "This API key is unknown or revoked.",
        ))?;
    if !site.enabled {
        return Err(ApiError::SiteDisabled);
    }
    rate_limit::take(&api.budget, &key.id).map_err(ApiError::RateLimited)?;
    let now = now_ms();
    if key.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY_MS) {
        let id = key.id;
        // Informational: a failure to record it does not refuse the request.
        if let Err(err) = api.run(move |conn| ApiKey::touch(conn, id, now)).await {
            tracing::warn!(error = %err, "cannot record an API key's last use");
        }
    }
    Ok(Caller { key, site })
}

/// The route table: method and path to handler.
async fn dispatch(api: &Api, caller: &Caller, call: &Call) -> Answer {
    let path: Vec<&str> = call.path.iter().map(String::as_str).collect();
    let m = &call.method;
    let Some(allowed) = methods(&path) else {
        return Err(ApiError::NoEndpoint(format!("/api/v1/{}", path.join("/"))));
    };
    if !allowed.contains(m) {
        return Err(ApiError::MethodNotAllowed(m.to_string(), allowed));
    }
    call.only_query(match (path.as_slice(), m) {
        (["rooms", _, "messages"], &Method::GET) => &["before", "after", "limit"],
        (["participants"], &Method::GET) => &["sub"],
        _ => &[],
    })?;
    match (path.as_slice(), m) {
        (["rooms"], &Method::GET) => rooms::list(api, caller).await,
        (["rooms"], &Method::POST) => rooms::create(api, caller, call).await,
        (["rooms", room], &Method::GET) => rooms::show(api, caller, room).await,
        (["rooms", room], &Method::PATCH) => rooms::update(api, caller, room, call).await,
        (["rooms", room], &Method::DELETE) => rooms::delete(api, caller, room).await,
        (["rooms", room, "messages"], &Method::GET) => {
            messages::history(api, caller, room, call).await
        }
        (["rooms", room, "messages"], &Method::POST) => {
            messages::post(api, caller, room, call).await
        }
        (["rooms", room, "messages", seq], &Method::DELETE) => {
            messages::delete(api, caller, room, seq).await
        }
        (["rooms", room, "online"], &Method::GET) => people::online(api, caller, room).await,
        (["participants"], &Method::GET) => people::lookup(api, caller, call).await,
        (["participants", id], &Method::GET) => people::show(api, caller, id).await,
        (["participants", id, "mute"], &Method::POST) => people::mute(api, caller, id, call).await,
        (["participants", id, "mute"], &Method::DELETE) => people::unmute(api, caller, id).await,
        (["bans"], &Method::GET) => people::bans(api, caller).await,
        (["bans"], &Method::POST) => people::ban(api, caller, call).await,
        (["bans", id], &Method::DELETE) => people::unban(api, caller, id).await,
        // `methods` answered for every other pair.
        _ => Err(ApiError::MethodNotAllowed(m.to_string(), allowed)),
    }
}

/// The methods an endpoint takes (for `405` and its `Allow` header); `None`:
/// no such endpoint.
fn methods(path: &[&str]) -> Option<&'static [Method]> {
    const GET_POST: &[Method] = &[Method::GET, Method::POST];
    const ROOM: &[Method] = &[Method::GET, Method::PATCH, Method::DELETE];
    const POST_DELETE: &[Method] = &[Method::POST, Method::DELETE];
    const DELETE: &[Method] = &[Method::DELETE];
    Some(match path {
        ["openapi.json"] => GET,
        ["rooms"] | ["rooms", _, "messages"] | ["bans"] => GET_POST,
        ["rooms", _] => ROOM,
        ["rooms", _, "messages", _] | ["bans", _] => DELETE,
        ["rooms", _, "online"] | ["participants"] | ["participants", _] => GET,
        ["participants", _, "mute"] => POST_DELETE,
        _ => return None,
    })
}

const GET: &[Method] = &[Method::GET];

/// A JSON answer.
fn reply(status: StatusCode, body: &impl Serialize) -> Answer {
    Ok(warp::reply::with_status(warp::reply::json(body), status).into_response())
}

/// `204 No Content`.
fn done() -> Answer {
    Ok(warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT).into_response())
}

/// An id in a path: not an integer is a bad request; one that is not
/// positive names nothing that exists.
fn id_in_path(segment: &str, missing: impl FnOnce() -> ApiError) -> Result<i64, ApiError> {
    let n = segment.parse::<i64>().map_err(|_| {
        ApiError::BadRequest(format!(
            "{segment:?} is not an id: ids are positive integers."
        ))
    })?;
    if n > 0 {
        Ok(n)
    } else {
        Err(missing())
    }
}
