//! A site's webhook endpoints: the one place that changes them, for the panel
//! and the command line. Each change writes its audit line (target
//! `webhook`, the endpoint's id) in the same transaction.

use url::Url;

use super::{Result, WebhookError};
use crate::db::models::audit::{AuditAction, AuditEntry};
use crate::db::models::webhook::{Delivery, DeliveryState, Endpoint, EventType, NewDelivery};
use crate::db::models::{Site, SiteId, WebhookDeliveryId, WebhookEndpointId};
use crate::db::{now_ms, DbConn};
use crate::input::random_token;

/// Most endpoints one site may have: each event is sent to every one.
pub const MAX_ENDPOINTS_PER_SITE: usize = 20;
/// Longest endpoint URL, in bytes.
pub const MAX_URL_BYTES: usize = 2000;
/// Signing secrets start with this, so that they are recognisable in a config file.
pub const SECRET_PREFIX: &str = "whsec_";

pub use crate::db::models::audit::Actor;

fn invalid(text: impl Into<String>) -> WebhookError {
    WebhookError::Invalid(text.into())
}

/// Checks an endpoint URL as typed: an absolute `http` or `https` URL with a
/// host, no user name or password (they would show in lists and logs) and no
/// fragment. Whether its address may be reached is checked when sending
/// (`--webhook-allow-private`), against the addresses the name resolves to then.
pub fn parse_url(raw: &str) -> Result<Url> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(invalid(
            "Give the endpoint's URL, e.g. https://example.com/chatctl-webhook.",
        ));
    }
    if raw.len() > MAX_URL_BYTES {
        return Err(invalid(format!(
            "The URL is longer than {MAX_URL_BYTES} characters."
        )));
    }
    let url = Url::parse(raw).map_err(|e| {
        invalid(format!(
            "{raw:?} is not a URL ({e}); write it in full, e.g. https://example.com/hook."
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "Webhook URLs must start with https:// or http://, not {}:.",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("The URL has no host name."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "Leave the user name and password out of the URL: every delivery is signed with the endpoint's secret instead.",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid(
            "Leave out the #fragment: it is never sent to the server.",
        ));
    }
    Ok(url)
}

/// Event names as typed; none means every event.
pub fn parse_events<S: AsRef<str>>(names: &[S]) -> Result<Vec<EventType>> {
    let mut events = Vec::new();
    for name in names {
        for part in name.as_ref().split([',', ' ']).filter(|p| !p.is_empty()) {
            let event: EventType = part.parse().map_err(|_| {
                let known: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                invalid(format!(
                    "Unknown event {part:?}; the events are {}.",
                    known.join(", ")
                ))
            })?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
    }
    if events.is_empty() {
        return Ok(EventType::ALL.to_vec());
    }
    events.sort_by_key(|e| EventType::ALL.iter().position(|a| a == e));
    Ok(events)
}

fn audit(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    action: AuditAction,
    endpoint: WebhookEndpointId,
    details: String,
) -> Result<()> {
    AuditEntry {
        actor,
        site: Some(site),
        action,
        target_type: "webhook",
        target_id: endpoint.to_string(),
        details,
    }
    .record(conn)?;
    Ok(())
}

/// Adds an endpoint; the returned value holds its secret, to be shown once.
pub fn add(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    url: &Url,
    events: &[EventType],
) -> Result<Endpoint> {
    if events.is_empty() {
        return Err(invalid("Choose at least one event."));
    }
    let secret = new_secret();
    conn.write_transaction(|conn| {
        let existing = Endpoint::list_for_site(conn, site.id)?;
        if existing.len() >= MAX_ENDPOINTS_PER_SITE {
            return Err(invalid(format!(
                "A site may have at most {MAX_ENDPOINTS_PER_SITE} webhook endpoints; remove one first."
            )));
        }
        if existing.iter().any(|e| e.url == url.as_str()) {
            return Err(invalid(format!("{url} is an endpoint of this site already.")));
        }
        let endpoint = Endpoint::create(conn, site.id, url.as_str(), events, &secret, now_ms())?;
        let details = format!("{url}; events: {}", endpoint.events.replace(' ', ", "));
        audit(conn, actor, site.id, AuditAction::WebhookAdd, endpoint.id, details)?;
        Ok(endpoint)
    })
}

fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", random_token(32))
}

/// Gives an endpoint a new signing secret, returned to be shown once; every
/// attempt from now on is signed with it.
pub fn rotate_secret(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    id: WebhookEndpointId,
) -> Result<String> {
    let secret = new_secret();
    conn.write_transaction(|conn| {
        let endpoint = find(conn, site, id)?;
        Endpoint::set_secret(conn, id, &secret)?;
        audit(
            conn,
            actor,
            site,
            AuditAction::WebhookRotateSecret,
            id,
            endpoint.url,
        )
    })?;
    Ok(secret)
}

/// The site's endpoint with this id (another site's is not found).
pub fn find(conn: &mut DbConn, site: SiteId, id: WebhookEndpointId) -> Result<Endpoint> {
    let endpoint = Endpoint::find(conn, id)?;
    if endpoint.site_id != site {
        return Err(WebhookError::NotFound);
    }
    Ok(endpoint)
}

/// Removes an endpoint with its deliveries, sent or not.
pub fn remove(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    id: WebhookEndpointId,
) -> Result<Endpoint> {
    conn.write_transaction(|conn| {
        let endpoint = find(conn, site, id)?;
        Endpoint::delete(conn, id)?;
        audit(
            conn,
            actor,
            site,
            AuditAction::WebhookRemove,
            id,
            endpoint.url.clone(),
        )?;
        Ok(endpoint)
    })
}

/// Enables or disables an endpoint; false when it already was. Enabled
/// again, its waiting deliveries are sent at once.
pub fn set_enabled(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    id: WebhookEndpointId,
    enabled: bool,
) -> Result<bool> {
    conn.write_transaction(|conn| {
        let endpoint = find(conn, site, id)?;
        if endpoint.enabled == enabled {
            return Ok(false);
        }
        let (action, reason) = if enabled {
            (AuditAction::WebhookEnable, None)
        } else {
            (
                AuditAction::WebhookDisable,
                Some("disabled by an administrator"),
            )
        };
        Endpoint::set_enabled(conn, id, enabled, reason)?;
        if enabled {
            Delivery::wake_pending(conn, id, now_ms())?;
        }
        audit(conn, actor, site, action, id, endpoint.url)?;
        Ok(true)
    })
}

/// Disables an endpoint that kept failing (the server's own decision; the
/// audit log names it as the actor). Call it inside the transaction that
/// records the attempt that decided it.
pub fn disable_failing(conn: &mut DbConn, endpoint: &Endpoint, reason: &str) -> Result<()> {
    Endpoint::set_enabled(conn, endpoint.id, false, Some(reason))?;
    let details = format!("{}: {reason}", endpoint.url);
    audit(
        conn,
        Actor::Server,
        endpoint.site_id,
        AuditAction::WebhookDisable,
        endpoint.id,
        details,
    )
}

/// Sends a delivery's event again: a new delivery with the same event id and
/// body (receivers that deduplicate by event id see a repeat), due at once and
/// outside the room's order (it is an old event).
pub fn resend(
    conn: &mut DbConn,
    actor: Actor,
    site: SiteId,
    delivery: WebhookDeliveryId,
) -> Result<()> {
    conn.write_transaction(|conn| {
        let old = Delivery::find(conn, delivery)?;
        let endpoint = find(conn, site, old.endpoint_id)?;
        let now = now_ms();
        Delivery::insert_many(
            conn,
            &[NewDelivery {
                endpoint_id: endpoint.id,
                event_id: old.event_id.clone(),
                event_type: old.event_type,
                room_id: None,
                body: old.body,
                state: DeliveryState::Pending,
                next_attempt_at: now,
                created_at: now,
            }],
        )?;
        let details = format!("{} {} to {}", old.event_type, old.event_id, endpoint.url);
        audit(
            conn,
            actor,
            site,
            AuditAction::WebhookResend,
            endpoint.id,
            details,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host_and_no_credentials() {
        for ok in [
            "https://example.com/hook",
            "http://127.0.0.1:9000/x?y=1",
            " https://a.b/ ",
        ] {
            assert!(parse_url(ok).is_ok(), "{ok}");
        }
        let refused = [
            ("", "Give the endpoint"),
            ("example.com/hook", "not a URL"),
            ("ftp://example.com/", "must start with https://"),
            ("javascript:alert(1)", "must start with https://"),
            ("file:///etc/passwd", "must start with https://"),
            ("https://user:pw@example.com/", "user name and password"),
            ("https://example.com/#x", "fragment"),
        ];
        for (raw, says) in refused {
            let err = parse_url(raw).expect_err(raw).to_string();
            assert!(err.contains(says), "{raw}: {err}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_BYTES));
        assert!(parse_url(&long).is_err());
    }

    #[test]
    fn events_are_known_names_and_none_means_all() {
        assert_eq!(parse_events::<&str>(&[]).unwrap(), EventType::ALL.to_vec());
        assert_eq!(
            parse_events(&["room.created,message.created", "message.created"]).unwrap(),
            vec![EventType::MessageCreated, EventType::RoomCreated]
        );
        let err = parse_events(&["message.sent"]).unwrap_err().to_string();
        assert!(err.contains("Unknown event \"message.sent\""), "{err}");
    }
}
