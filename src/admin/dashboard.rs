//! The dashboard: per site, live connections, rooms in use, recent messages and
//! open reports. The page is complete without JavaScript; `admin.js` refreshes
//! the numbers from `dashboard.json`.

use serde_json::json;

use super::auth::Auth;
use super::error::Result;
use super::reply::Reply;
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::{HeldMessage, Message, Report};
use crate::db::now_ms;

async fn stats(admin: &Admin, auth: &Auth) -> Result<Vec<serde_json::Value>> {
    let visible = sites::visible(admin, auth).await?;
    let live = admin.chat.connections_by_site();
    let rooms = admin.chat.hub.rooms_by_site();
    let ids: Vec<_> = visible.iter().map(|s| s.id).collect();
    let now = now_ms();
    let counts = admin
        .chat
        .db
        .run(move |conn| -> Result<_> {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push((
                    Message::count_since(conn, id, now - 3_600_000)?,
                    Message::count_since(conn, id, now - 86_400_000)?,
                    Report::open_count(conn, id)?,
                    HeldMessage::count(conn, id)?,
                ));
            }
            Ok(out)
        })
        .await?;
    Ok(visible
        .iter()
        .zip(counts)
        .map(|(site, (hour, day, reports, held))| {
            json!({
                "id": site.id,
                "name": site.name,
                "enabled": site.enabled,
                "connections": live.get(&site.id).copied().unwrap_or(0),
                "active_rooms": rooms.get(&site.id).copied().unwrap_or(0),
                "messages_hour": hour,
                "messages_day": day,
                "open_reports": reports,
                "held": held,
            })
        })
        .collect())
}

/// GET /admin
pub async fn page(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let sites = stats(admin, auth).await?;
    admin.page(
        req,
        auth,
        "dashboard",
        json!({"title": "Dashboard", "sites": sites}),
    )
}

/// GET /admin/dashboard.json
pub async fn numbers(admin: &Admin, auth: &Auth) -> Result<Reply> {
    Ok(Reply::json(&json!({"sites": stats(admin, auth).await?})))
}
