//! The admin panel at `/admin`: moderation, logs, audit and accounts, rendered
//! with Handlebars.
//!
//! One warp filter takes every `/admin` request and [`dispatch`] routes it by
//! method and path: one `match` per area (account, sites, moderation) lists
//! every page with the ids its path binds, and keeps the compiler from
//! building a type tree of fifty `.or()` filters. Every route except login, password recovery and static files
//! requires a session ([`auth`]); every POST requires the session's CSRF token
//! ([`csrf`]); objects on sites a moderator is not assigned to answer 404
//! ([`auth::Auth::require_site`]).

pub mod accounts;
pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod bans;
pub mod csrf;
pub mod dashboard;
pub mod error;
pub mod messages;
pub mod nav;
pub mod participants;
pub mod recovery;
pub mod render;
pub mod reply;
pub mod reports;
pub mod request;
pub mod rooms;
pub mod sites;
pub mod webhooks;
pub mod word_filters;

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Value};
use warp::http::{HeaderMap, Method, StatusCode};
use warp::hyper::body::Bytes;
use warp::{Filter, Rejection};

use crate::chat::Chat;
use crate::config::AdminConfig;
use crate::db::models::{Site, SiteId};
use crate::db::{DbConn, DbError};
use crate::identity::login_throttle::LoginThrottle;
use auth::Auth;
use error::{AdminError, Result};
use render::Templates;
use reply::Reply;
use request::{id as id_of, Request};

/// Largest form body accepted.
const MAX_FORM_BYTES: u64 = 64 * 1024;

/// The admin panel's shared state.
pub struct Admin {
    pub chat: Arc<Chat>,
    pub templates: Templates,
    pub throttle: LoginThrottle,
    /// "Forgot password" requests per address.
    pub forgot_by_ip: crate::rate_limit::Keyed<crate::input::AddressKey>,
    pub config: AdminConfig,
    /// Connections per site over the last day, for the dashboard's chart.
    pub connections: activity::ConnectionHistory,
    /// Cookies get `Secure` when the public URL is https.
    pub secure_cookies: bool,
    pub public_url: String,
}

impl Admin {
    pub fn new(
        chat: Arc<Chat>,
        config: AdminConfig,
        public_url: &str,
    ) -> std::result::Result<Admin, String> {
        Ok(Admin {
            chat,
            templates: Templates::load(config.templates_dir.as_deref())?,
            throttle: LoginThrottle::default(),
            forgot_by_ip: recovery::per_ip_limiter(),
            connections: activity::ConnectionHistory::default(),
            secure_cookies: public_url.starts_with("https://"),
            public_url: public_url.trim_end_matches('/').to_owned(),
            config,
        })
    }

    /// Database work for a handler (see [`crate::db::Db::run`]).
    pub async fn run<T, E, F>(&self, work: F) -> std::result::Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> std::result::Result<T, E> + Send + 'static,
    {
        self.chat.db.run(work).await
    }

    /// The site a URL names, if `auth` may see it (`Not found` otherwise).
    pub async fn site(&self, auth: &Auth, id: SiteId) -> Result<Site> {
        auth.require_site(id)?;
        self.run(move |conn| Site::find(conn, id))
            .await
            .map_err(AdminError::from)
    }

    /// The row a URL names: `Not found` when there is none.
    pub async fn find<T, F>(&self, lookup: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> std::result::Result<Option<T>, DbError> + Send + 'static,
    {
        self.run(lookup).await?.ok_or(AdminError::NotFound)
    }

    /// Counts a costly action (a password hashed) against the address's
    /// budget, shared with the widget's account forms.
    pub fn spend_budget(&self, ip: IpAddr) -> Result<()> {
        self.chat
            .accounts
            .budget()
            .action(ip)
            .map_err(AdminError::spent)
    }

    /// (idle, absolute) session lifetimes in ms.
    pub fn session_limits_ms(&self) -> (i64, i64) {
        (
            self.config.admin_idle_minutes.max(1) as i64 * 60_000,
            self.config.admin_session_hours.max(1) as i64 * 3_600_000,
        )
    }

    /// Renders a page inside the layout, with what every page shows: the
    /// account, its role, the CSRF token for forms, and any flash message.
    pub fn page(&self, req: &Request, auth: &Auth, template: &str, data: Value) -> Result<Reply> {
        let flash = reply::read_flash(req);
        let mut context = json!({
            "me": {
                "name": auth.user.name,
                "email": auth.user.email,
                "role": auth.role.as_str(),
                "is_admin": auth.is_admin(),
            },
            "csrf": auth.csrf,
            "flash": flash.as_ref().map(|(kind, text)| json!({"kind": kind, "text": text})),
            "nav": nav::items(template, auth),
        });
        if let (Some(ctx), Value::Object(data)) = (context.as_object_mut(), data) {
            ctx.extend(data);
        }
        let html = self.templates.render(template, &context)?;
        let mut reply = Reply::html(StatusCode::OK, html);
        if flash.is_some() {
            reply = reply.cookie(format!("{}=; Path=/admin; Max-Age=0", reply::FLASH_COOKIE));
        }
        Ok(reply)
    }

    /// The answer to a failed request: an error page, or the login page.
    fn error_reply(&self, req: &Request, err: AdminError) -> Reply {
        match err {
            AdminError::Unauthenticated if req.method == Method::GET => {
                let next: String =
                    url::form_urlencoded::byte_serialize(req.target.as_bytes()).collect();
                Reply::redirect(&format!("/admin/login?next={next}"))
            }
            AdminError::Unauthenticated => Reply::redirect("/admin/login"),
            err => {
                let status = err.status();
                let message = err.public_message();
                let html = self
                    .templates
                    .render(
                        "error",
                        &json!({"title": "Error", "status": status.as_u16(), "message": message}),
                    )
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "cannot render the error page");
                        "<!doctype html><title>Error</title><p>Error.</p>".to_owned()
                    });
                Reply::html(status, html)
            }
        }
    }
}

/// `/admin/...`: every page and action of the panel.
pub fn routes(
    admin: Arc<Admin>,
    client_ip: impl Filter<Extract = (IpAddr,), Error = std::convert::Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    let base = warp::path("admin")
        .and(warp::path::tail())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::headers_cloned())
        .and(client_ip);
    let get = base
        .clone()
        .and(warp::get().map(|| Method::GET))
        .and(warp::any().map(Bytes::new));
    let post = base
        .and(warp::post().map(|| Method::POST))
        .and(warp::body::content_length_limit(MAX_FORM_BYTES))
        .and(warp::body::bytes());
    let with_admin = warp::any().map(move || admin.clone());
    get.or(post).unify().and(with_admin).then(
        |tail: warp::path::Tail,
         query: String,
         headers: HeaderMap,
         ip: IpAddr,
         method: Method,
         body: Bytes,
         admin: Arc<Admin>| async move {
            let req = Request::new(method, tail.as_str(), &query, &headers, &body, ip);
            let reply = match dispatch(&admin, &req).await {
                Ok(reply) => reply,
                Err(AdminError::BadRequest(text)) if req.method == Method::POST => {
                    // A form with a mistake: back to where it came from, saying what is wrong.
                    Reply::redirect(&req.back_or("/admin")).flash(reply::Flash::Err(text))
                }
                Err(err) => admin.error_reply(&req, err),
            };
            reply.into_response()
        },
    )
}

/// A request's method (`true`: GET) and its path segments after `/admin`.
type Route<'a> = (bool, &'a [&'a str]);

async fn dispatch(admin: &Admin, req: &Request) -> Result<Reply> {
    req.strict_query()?;
    let path: Vec<&str> = req.path.iter().map(String::as_str).collect();
    let get = req.method == Method::GET;
    if let Some(reply) = without_session(admin, req, get, &path).await {
        return reply;
    }
    let auth = auth::authenticate(admin, req).await?;
    if !get {
        csrf::verify(req, &auth.csrf)?;
    }
    match path.first().copied() {
        Some("sites" | "rooms" | "filters" | "webhooks") => {
            site_pages(admin, req, &auth, (get, &path)).await
        }
        Some("messages" | "participants" | "bans" | "reports" | "held") => {
            moderation_pages(admin, req, &auth, (get, &path)).await
        }
        _ => account_pages(admin, req, &auth, (get, &path)).await,
    }
}

/// Login, password recovery and static files; `None` for every other page.
async fn without_session(
    admin: &Admin,
    req: &Request,
    get: bool,
    path: &[&str],
) -> Option<Result<Reply>> {
    Some(match (get, path) {
        (true, ["static", file]) => admin
            .templates
            .static_file(file)
            .ok_or(AdminError::NotFound)
            .map(|(data, mime)| {
                Reply::bytes(data, &mime)
                    .header(warp::http::header::CACHE_CONTROL, "public, max-age=300")
            }),
        (true, ["login"]) => auth::login_form(admin, req).await,
        (false, ["login"]) => auth::login(admin, req).await,
        (true, ["forgot"]) => recovery::forgot_form(admin, req).await,
        (false, ["forgot"]) => recovery::forgot(admin, req).await,
        (true, ["reset"]) => recovery::reset_form(admin, req).await,
        (false, ["reset"]) => recovery::reset(admin, req).await,
        _ => return None,
    })
}

/// The dashboard, the audit log, one's own account, and admin accounts.
async fn account_pages(admin: &Admin, req: &Request, a: &Auth, route: Route<'_>) -> Result<Reply> {
    match route {
        (true, []) => dashboard::page(admin, req, a).await,
        (true, ["dashboard.json"]) => dashboard::numbers(admin, a).await,
        (false, ["logout"]) => auth::logout(admin, a).await,
        (true, ["account"]) => auth::account_page(admin, req, a).await,
        (false, ["account", "password"]) => auth::change_password(admin, req, a).await,
        (false, ["account", "notifications"]) => auth::set_notifications(admin, req, a).await,
        (true, ["audit"]) => audit::list(admin, req, a).await,
        (true, ["accounts"]) => accounts::list(admin, req, a).await,
        (false, ["accounts"]) => accounts::create(admin, req, a).await,
        (false, ["accounts", id, "sites"]) => accounts::set_sites(admin, req, a, id_of(id)?).await,
        (false, ["accounts", id, "disable"]) => {
            accounts::set_disabled(admin, a, id_of(id)?, true).await
        }
        (false, ["accounts", id, "enable"]) => {
            accounts::set_disabled(admin, a, id_of(id)?, false).await
        }
        (false, ["accounts", id, "password"]) => {
            accounts::reset_password(admin, req, a, id_of(id)?).await
        }
        (false, ["accounts", id, "delete"]) => accounts::delete(admin, req, a, id_of(id)?).await,
        _ => Err(AdminError::NotFound),
    }
}

/// Sites, their rooms and word filters.
async fn site_pages(admin: &Admin, req: &Request, a: &Auth, route: Route<'_>) -> Result<Reply> {
    match route {
        (true, ["sites"]) => sites::list(admin, req, a).await,
        (false, ["sites"]) => sites::create(admin, req, a).await,
        (true, ["sites", id]) => sites::show(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "settings"]) => sites::update(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "origins"]) => sites::add_origin(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "origins", "remove"]) => {
            sites::remove_origin(admin, req, a, id_of(id)?).await
        }
        (true, ["sites", id, "rotate"]) => sites::rotate_confirm(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "rotate"]) => sites::rotate(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "enabled"]) => sites::set_enabled(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "delete"]) => sites::delete(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "api-keys"]) => api_keys::create(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "api-keys", "revoke"]) => {
            api_keys::revoke(admin, req, a, id_of(id)?).await
        }
        (true, ["sites", id, "rooms"]) => rooms::list(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "rooms"]) => rooms::create(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "rooms", "prune"]) => rooms::prune(admin, req, a, id_of(id)?).await,
        (false, ["rooms", id]) => rooms::update(admin, req, a, id_of(id)?).await,
        (false, ["rooms", id, "delete"]) => rooms::delete(admin, a, id_of(id)?).await,
        (true, ["sites", id, "filters"]) => word_filters::list(admin, req, a, id_of(id)?).await,
        (false, ["sites", id, "filters"]) => word_filters::add(admin, req, a, id_of(id)?).await,
        (false, ["filters", id, "delete"]) => word_filters::remove(admin, a, id_of(id)?).await,
        (false, ["sites", id, "webhooks"]) => webhooks::add(admin, req, a, id_of(id)?).await,
        (true, ["webhooks", id]) => webhooks::show(admin, req, a, id_of(id)?).await,
        (false, ["webhooks", id, "enabled"]) => {
            webhooks::set_enabled(admin, req, a, id_of(id)?).await
        }
        (false, ["webhooks", id, "delete"]) => webhooks::remove(admin, a, id_of(id)?).await,
        (false, ["webhooks", id, "rotate"]) => {
            webhooks::rotate_secret(admin, req, a, id_of(id)?).await
        }
        (false, ["webhooks", id, "resend"]) => webhooks::resend(admin, req, a, id_of(id)?).await,
        _ => Err(AdminError::NotFound),
    }
}

/// The message log, participants, bans, reports and the approval queue.
async fn moderation_pages(
    admin: &Admin,
    req: &Request,
    a: &Auth,
    route: Route<'_>,
) -> Result<Reply> {
    use messages::Format;
    match route {
        (true, ["messages"]) => messages::log(admin, req, a).await,
        (true, ["messages", "export.csv"]) => messages::export(admin, req, a, Format::Csv).await,
        (true, ["messages", "export.json"]) => messages::export(admin, req, a, Format::Json).await,
        (false, ["messages", id, "delete"]) => messages::delete(admin, req, a, id_of(id)?).await,
        (true, ["participants"]) => participants::search(admin, req, a).await,
        (true, ["participants", id]) => participants::show(admin, req, a, id_of(id)?).await,
        (false, ["participants", id, "ban"]) => participants::ban(admin, req, a, id_of(id)?).await,
        (false, ["participants", id, "mute"]) => {
            participants::mute(admin, req, a, id_of(id)?).await
        }
        (false, ["participants", id, "unmute"]) => participants::unmute(admin, a, id_of(id)?).await,
        (false, ["participants", id, "delete-messages"]) => {
            participants::delete_messages(admin, a, id_of(id)?).await
        }
        (true, ["bans"]) => bans::list(admin, req, a).await,
        (false, ["bans"]) => bans::create(admin, req, a).await,
        (false, ["bans", id, "revoke"]) => bans::revoke(admin, req, a, id_of(id)?).await,
        (true, ["reports"]) => reports::list(admin, req, a).await,
        (false, ["reports", id, "dismiss"]) => reports::dismiss(admin, a, id_of(id)?).await,
        (false, ["reports", id, "delete"]) => reports::delete_message(admin, a, id_of(id)?).await,
        (false, ["reports", id, "ban"]) => reports::ban_author(admin, req, a, id_of(id)?).await,
        (false, ["held", id, "approve"]) => reports::approve(admin, a, id_of(id)?).await,
        (false, ["held", id, "reject"]) => reports::reject(admin, a, id_of(id)?).await,
        _ => Err(AdminError::NotFound),
    }
}
