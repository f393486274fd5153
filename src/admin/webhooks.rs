//! A site's webhook endpoints (owners only): added on the site's page (the
//! `_webhooks` partial), each with a page of its recent deliveries, where a
//! delivery can be sent again. Changes go through `webhooks::endpoints`, the
//! service the command line uses too.

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Auth;
use super::error::{AdminError, Result};
use super::reply::{Flash, Reply};
use super::request::Request;
use super::Admin;
use crate::db::models::webhook::{Delivery, Endpoint};
use crate::db::models::{Site, SiteId, WebhookDeliveryId, WebhookEndpointId};
use crate::webhooks::{endpoints, DeliveryState, EventType, WebhookError};

/// Deliveries an endpoint's page shows.
const RECENT: i64 = 50;

impl From<WebhookError> for AdminError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::NotFound => AdminError::NotFound,
            WebhookError::Invalid(text) => AdminError::BadRequest(text),
            WebhookError::Db(db) => db.into(),
        }
    }
}

/// The add form: the URL and the ticked events (a group of checkboxes).
#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    event: Vec<String>,
}

#[derive(Deserialize)]
struct EnabledForm {
    #[serde(default)]
    enabled: String,
}

#[derive(Deserialize)]
struct ResendForm {
    #[serde(default)]
    delivery: String,
}

/// What the site page's `_webhooks` partial shows (owners only; `null` for others).
pub async fn section(admin: &Admin, auth: &Auth, site: SiteId) -> Result<Value> {
    if auth.require_owner().is_err() {
        return Ok(Value::Null);
    }
    let all = admin
        .run(move |conn| Endpoint::list_for_site(conn, site))
        .await?;
    let events: Vec<Value> = EventType::ALL
        .iter()
        .map(|e| json!({"name": e.as_str()}))
        .collect();
    Ok(json!({
        "endpoints": all.iter().map(endpoint_view).collect::<Vec<_>>(),
        "events": events,
        "max": endpoints::MAX_ENDPOINTS_PER_SITE,
    }))
}

fn endpoint_view(e: &Endpoint) -> Value {
    let events: Vec<&str> = e.events().iter().map(|k| k.as_str()).collect();
    let all = events.len() == EventType::ALL.len();
    json!({
        "id": e.id,
        "url": e.url,
        "events": if all { "all events".to_owned() } else { events.join(", ") },
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason,
        "failing_since": e.failing_since,
    })
}

/// The site's endpoint `id` for an owner (404 for anyone else, or another site's).
async fn owned(admin: &Admin, auth: &Auth, id: WebhookEndpointId) -> Result<(Site, Endpoint)> {
    auth.require_owner()?;
    let endpoint = admin.run(move |conn| Endpoint::find(conn, id)).await?;
    let site = admin.site(auth, endpoint.site_id).await?;
    Ok((site, endpoint))
}

/// POST /admin/sites/{id}/webhooks — add an endpoint; its secret is shown once.
pub async fn add(admin: &Admin, req: &Request, auth: &Auth, id: SiteId) -> Result<Reply> {
    auth.require_owner()?;
    let site = admin.site(auth, id).await?;
    let form: AddForm = req.form()?;
    let url = endpoints::parse_url(&form.url)?;
    if form.event.is_empty() {
        return Err(AdminError::BadRequest("Choose at least one event.".into()));
    }
    let events = endpoints::parse_events(&form.event)?;
    let (s, actor) = (site.clone(), auth.actor());
    let endpoint = admin
        .run(move |conn| endpoints::add(conn, actor, &s, &url, &events))
        .await?;
    page(admin, req, auth, &site, &endpoint, Some(&endpoint.secret)).await
}

/// GET /admin/webhooks/{id} — the endpoint and its latest deliveries.
pub async fn show(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: WebhookEndpointId,
) -> Result<Reply> {
    let (site, endpoint) = owned(admin, auth, id).await?;
    page(admin, req, auth, &site, &endpoint, None).await
}

async fn page(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    site: &Site,
    endpoint: &Endpoint,
    secret: Option<&str>,
) -> Result<Reply> {
    let id = endpoint.id;
    let recent = admin
        .run(move |conn| Delivery::recent(conn, id, RECENT))
        .await?;
    let deliveries: Vec<Value> = recent
        .iter()
        .map(|d| {
            json!({
                "id": d.id,
                "event_id": d.event_id,
                "type": d.event_type,
                "state": d.state,
                "delivered": d.state == DeliveryState::Delivered,
                "failed": d.state == DeliveryState::Failed,
                "attempts": d.attempts,
                "status": d.last_status,
                // Text: a 0 ms answer must not read as "none" in the template.
                "latency": d.last_latency_ms.map(|ms| format!("{ms} ms")),
                "error": d.last_error,
                "created_at": d.created_at,
                "next_attempt_at": (d.state == DeliveryState::Pending && d.attempts > 0)
                    .then_some(d.next_attempt_at),
            })
        })
        .collect();
    admin.page(
        req,
        auth,
        "webhook",
        json!({
            "title": format!("Webhook {}", endpoint.url),
            "site": site,
            "endpoint": endpoint_view(endpoint),
            "secret": secret,
            "deliveries": deliveries,
        }),
    )
}

/// POST /admin/webhooks/{id}/enabled
pub async fn set_enabled(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: WebhookEndpointId,
) -> Result<Reply> {
    let (site, _) = owned(admin, auth, id).await?;
    let enabled = req.form::<EnabledForm>()?.enabled == "true";
    let (site_id, actor) = (site.id, auth.actor());
    admin
        .run(move |conn| endpoints::set_enabled(conn, actor, site_id, id, enabled))
        .await?;
    admin.chat.webhooks.ring();
    let text = if enabled {
        "Endpoint enabled: waiting deliveries are being sent."
    } else {
        "Endpoint disabled: nothing is sent to it until it is enabled again."
    };
    Ok(Reply::redirect(&format!("/admin/webhooks/{id}")).flash(Flash::Ok(text.into())))
}

/// POST /admin/webhooks/{id}/rotate — a new signing secret, shown once.
pub async fn rotate_secret(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: WebhookEndpointId,
) -> Result<Reply> {
    let (site, endpoint) = owned(admin, auth, id).await?;
    let (site_id, actor) = (site.id, auth.actor());
    let secret = admin
        .run(move |conn| endpoints::rotate_secret(conn, actor, site_id, id))
        .await?;
    page(admin, req, auth, &site, &endpoint, Some(&secret)).await
}

/// POST /admin/webhooks/{id}/delete
pub async fn remove(admin: &Admin, auth: &Auth, id: WebhookEndpointId) -> Result<Reply> {
    let (site, _) = owned(admin, auth, id).await?;
    let (site_id, actor) = (site.id, auth.actor());
    let gone = admin
        .run(move |conn| endpoints::remove(conn, actor, site_id, id))
        .await?;
    Ok(
        Reply::redirect(&format!("/admin/sites/{site_id}")).flash(Flash::Ok(format!(
            "Endpoint {} removed with its deliveries.",
            gone.url
        ))),
    )
}

/// POST /admin/webhooks/{id}/resend — one delivery's event again.
pub async fn resend(
    admin: &Admin,
    req: &Request,
    auth: &Auth,
    id: WebhookEndpointId,
) -> Result<Reply> {
    let (site, endpoint) = owned(admin, auth, id).await?;
    let delivery = req
        .form::<ResendForm>()?
        .delivery
        .trim()
        .parse::<i64>()
        .map(WebhookDeliveryId)
        .map_err(|_| AdminError::BadRequest("Choose a delivery to send again.".into()))?;
    let (site_id, actor) = (site.id, auth.actor());
    let old = admin
        .run(move |conn| Delivery::find(conn, delivery))
        .await?;
    if old.endpoint_id != endpoint.id {
        return Err(AdminError::NotFound);
    }
    admin
        .run(move |conn| endpoints::resend(conn, actor, site_id, delivery))
        .await?;
    admin.chat.webhooks.ring();
    Ok(Reply::redirect(&format!("/admin/webhooks/{id}"))
        .flash(Flash::Ok(format!("Event {} queued again.", old.event_id))))
}
