//! GET /ws?site=KEY — the chat WebSocket. Admission (site, origin, bans, per-IP
//! count) is decided before the upgrade; then [`conn::drive`] pumps frames
//! between the socket and the [`Session`].

use std::net::IpAddr;

use serde::Deserialize;
use warp::{Filter, Rejection, Reply};

mod conn;
mod frames;
mod socket;
pub mod upgrade;

use upgrade::Upgrade;

use crate::chat::session::Session;
use crate::chat::UpgradeError;
use crate::db::models::{Account, Site};
use crate::http::error::Refused;
use crate::http::setup_slots::SetupSlot;
use crate::http::AppState;

#[derive(Deserialize)]
struct WsQuery {
    site: String,
}

#[derive(Deserialize)]
struct CheckQuery {
    site: String,
    /// The page's origin, for when the browser sends no `Origin` header (it
    /// omits it on same-origin GET requests). The header wins when present.
    origin: Option<String>,
}

pub fn route(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    check(state.clone()).or(socket(state)).unify()
}

/// GET /ws/check?site=KEY — the upgrade's checks as plain JSON (`{"ok":true,...}`
/// with what the site lets visitors do, or an error body with the upgrade's
/// status), readable cross-origin so a widget can tell its visitor why the chat
/// is unavailable and show the right forms.
fn check(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("ws" / "check")
        .and(warp::get())
        .and(warp::query::<CheckQuery>())
        .and(warp::header::optional::<String>("origin"))
        .and(state.client_ip())
        .and(state.with())
        .then(
            |query: CheckQuery, origin: Option<String>, ip: IpAddr, state: AppState| async move {
                let origin = origin.or(query.origin);
                let reply = match state.chat.check(&query.site, origin.as_deref(), ip).await {
                    Ok(site) => policy(&state, &site).await,
                    Err(err) => crate::http::error::upgrade_error(&err),
                };
                warp::reply::with_header(reply, "access-control-allow-origin", "*").into_response()
            },
        )
}

/// Which forms the widget should offer this visitor. Members may sign in even
/// after registration closed, as long as the site has any.
async fn policy(state: &AppState, site: &Site) -> warp::reply::Response {
    let id = site.id;
    let members = match state
        .chat
        .db
        .run(move |conn| Account::any_verified(conn, id))
        .await
    {
        Ok(any) => any,
        Err(err) => return crate::http::error::upgrade_error(&err.into()),
    };
    warp::reply::json(&serde_json::json!({
        "ok": true,
        "guests": site.guests_allowed && !site.verified_required,
        "registration": site.registration_allowed,
        "sign_in": site.registration_allowed || members,
    }))
    .into_response()
}

/// GET /ws?site=KEY — the WebSocket upgrade.
fn socket(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone {
    warp::path!("ws")
        .and(warp::get())
        .and(warp::query::<WsQuery>())
        .and(warp::header::optional::<String>("origin"))
        .and(state.client_ip())
        .and(upgrade::websocket())
        .and(warp::ext::optional::<SetupSlot>())
        .and(state.with())
        .and_then(accept)
}

async fn accept(
    query: WsQuery,
    origin: Option<String>,
    ip: IpAddr,
    ws: Upgrade,
    setup: Option<SetupSlot>,
    state: AppState,
) -> Result<warp::reply::Response, Rejection> {
    let chat = state.chat.clone();
    let refuse = |err: UpgradeError| {
        chat.metrics
            .upgrades_refused
            .get_or_create(&crate::metrics::CodeLabel { code: err.code() })
            .inc();
        warp::reject::custom(Refused(err))
    };
    if *state.shutdown.borrow() {
        return Err(refuse(UpgradeError::ShuttingDown));
    }
    // Boxed, like the session and the reader below: the connection task stores
    // what it captures for its whole life, and it lives as long as the socket.
    let admission = Box::new(
        chat.admit(&query.site, origin.as_deref(), ip)
            .await
            .map_err(refuse)?,
    );
    let config = upgrade::config(chat.limits.max_frame_bytes);
    let chat = state.chat.clone();
    let shutdown = state.shutdown.clone();
    Ok(ws.reply(config, move |socket| async move {
        let (session, queue) = Session::new(chat.clone(), *admission);
        conn::drive(socket, Box::new(session), queue, chat, shutdown, setup).await;
    }))
}
