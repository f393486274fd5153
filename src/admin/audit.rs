//! The audit log: every action with who, what, target and when; filterable.
//! Moderators see the entries of their sites.

use serde_json::json;

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::Reply;
use super::request::Request;
use super::{sites, Admin};
use crate::db::models::audit::{self, AuditFilter};
use crate::db::models::{AdminUserId, SiteId};
use crate::timefmt;

const PAGE: i64 = 100;

/// The filter in the query string, checked against what the viewer may see.
fn filter(req: &Request, auth: &Auth) -> Result<AuditFilter> {
    let site = req.query_as::<i64>("site")?.map(SiteId);
    if let Some(site) = site {
        auth.require_site(site)?;
    }
    let date = |name: &str| -> Result<Option<i64>> {
        req.query(name)
            .map(|raw| {
                timefmt::parse(raw)
                    .ok_or_else(|| AdminError::BadRequest(format!("{raw:?} is not a date.")))
            })
            .transpose()
    };
    Ok(AuditFilter {
        visible_sites: auth.sites.clone(),
        site,
        actor: req.query_as::<i64>("actor")?.map(AdminUserId),
        action: req.query("action").map(str::to_owned),
        from: date("from")?,
        to: date("to")?.map(|t| t + 86_400_000),
        before_id: req.query_as::<i64>("before")?,
    })
}

/// GET /admin/audit?site=&actor=&action=&from=&to=&before=
pub async fn list(admin: &Admin, req: &Request, auth: &Auth) -> Result<Reply> {
    let filter = filter(req, auth)?;
    let f = filter.clone();
    let (mut rows, accounts) = admin
        .run(move |conn| -> Result<_> {
            let actors = audit::actors(conn, f.visible_sites.as_deref())?;
            Ok((audit::list(conn, &f, PAGE + 1)?, actors))
        })
        .await?;
    let more = rows.len() as i64 > PAGE;
    rows.truncate(PAGE as usize);
    let visible = sites::visible(admin, auth).await?;
    let entries: Vec<_> = rows
        .iter()
        .map(|(row, email)| {
            json!({
                "id": row.id,
                "at": row.created_at,
                "actor": row.actor_name(email.as_deref()),
                "site": row.site_id.and_then(|id| visible.iter().find(|s| s.id == id)).map(|s| s.name.clone()),
                "action": row.action,
                "target": format!("{} {}", row.target_type, row.target_id),
                "details": row.details,
            })
        })
        .collect();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for name in ["site", "actor", "action", "from", "to"] {
        if let Some(v) = req.query(name) {
            query.append_pair(name, v);
        }
    }
    let next = more
        .then(|| {
            rows.last()
                .map(|(r, _)| format!("/admin/audit?{}&before={}", query.finish(), r.id))
        })
        .flatten();
    // A moderator is offered only the accounts that acted on their sites.
    let actors: Vec<_> = accounts
        .iter()
        .map(|(id, email)| json!({"id": id, "email": email, "selected": filter.actor == Some(*id)}))
        .collect();
    admin.page(
        req,
        auth,
        "audit",
        json!({
            "title": "Audit log",
            "entries": entries,
            "sites": sites::options(&visible, filter.site),
            "actors": actors,
            "action": req.query("action").unwrap_or_default(),
            "from": req.query("from").unwrap_or_default(),
            "to": req.query("to").unwrap_or_default(),
            "next": next,
        }),
    )
}
