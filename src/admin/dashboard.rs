//! The dashboard: per site, live connections, rooms in use, recent messages and
//! open reports, and charts of the last day ([`activity`]). The page is
//! complete without JavaScript; `admin.js` refreshes the numbers from
//! `dashboard.json`.

use serde_json::json;

use super::auth::Auth;
use super::error::Result;
use super::reply::Reply;
use super::request::Request;
use super::{activity, sites, Admin};
use crate::db::models::{HeldMessage, Message, Report, SiteId};
use crate::db::now_ms;

async fn stats(admin: &Admin, auth: &Auth) -> Result<Vec<serde_json::Value>> {
    let visible = sites::visible(admin, auth).await?;
    let live = admin.chat.connections_by_site();
    let rooms = admin.chat.hub.rooms_by_site();
    let ids: Vec<_> = visible.iter().map(|s| s.id).collect();
    let now = now_ms();
    let counts = admin
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

/// Adds each site's two charts (messages and connections per hour, last day).
async fn with_charts(admin: &Admin, sites: &mut [serde_json::Value]) -> Result<()> {
    let now = now_ms();
    admin
        .connections
        .record(now, &admin.chat.connections_by_site());
    let ids: Vec<SiteId> = sites
        .iter()
        .filter_map(|s| s["id"].as_i64())
        .map(SiteId)
        .collect();
    let from = activity::first_hour(now);
    let messages = admin
        .run(move |conn| -> Result<Vec<_>> {
            ids.iter()
                .map(|id| Message::per_hour(conn, *id, from, activity::HOURS).map_err(Into::into))
                .collect()
        })
        .await?;
    for (site, per_hour) in sites.iter_mut().zip(messages) {
        let id = SiteId(site["id"].as_i64().unwrap_or_default());
        let total: i64 = per_hour.iter().sum();
        let per_hour: Vec<Option<i64>> = per_hour.into_iter().map(Some).collect();
        site["messages_chart"] = json!(activity::bars(
            &per_hour,
            now,
            &format!("Messages per hour over the last 24 hours: {total} in all"),
            "messages",
        ));
        let peaks = admin.connections.peaks(id, now);
        let highest = peaks.iter().flatten().max().copied().unwrap_or(0);
        site["connections_chart"] = json!(activity::bars(
            &peaks,
            now,
            &format!("Most connections in each hour of the last 24 hours: at most {highest}"),
            "connections at most",
        ));
    }
    Ok(())
}

/// GET /admin
pub async fn page(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let mut sites = stats(admin, auth).await?;
    with_charts(admin, &mut sites).await?;
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
