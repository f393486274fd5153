//! `chatctl site webhook ...`: a site's webhook endpoints (add, list, enable,
//! disable, remove) and their deliveries (list, resend), through the same
//! service as the panel (`webhooks::endpoints`). A running server sends
//! what is added here within a second (it polls the outbox).

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::shown_once;
use super::{find_site as find, SiteListOpts};
use crate::db::models::webhook::{Delivery, Endpoint};
use crate::db::models::{WebhookDeliveryId, WebhookEndpointId};
use crate::db::DbConn;
use crate::webhooks::endpoints::{self, Actor};
use crate::webhooks::EventType;

/// Deliveries listed by default.
const RECENT: i64 = 20;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add an endpoint and print its signing secret (shown once).
    #[command(after_help = "Examples:\n  \
        chatctl site webhook add pk_XXXXXXXXXXXXXXXXXXXXXXXX https://example.com/chatctl-hook\n  \
        chatctl site webhook add pk_XXXXXXXXXXXXXXXXXXXXXXXX https://example.com/hook --event message.created --event report.created\n\n\
        Events: message.created, message.deleted, report.created, participant.banned,\n\
        participant.unbanned, room.created, member.registered (all of them without --event).")]
    Add(AddOpts),
    /// List a site's endpoints.
    #[command(
        after_help = "Example:\n  chatctl site webhook list pk_XXXXXXXXXXXXXXXXXXXXXXXX --json"
    )]
    List(SiteListOpts),
    /// Stop sending to an endpoint (its waiting deliveries are kept).
    #[command(
        after_help = "Example:\n  chatctl site webhook disable pk_XXXXXXXXXXXXXXXXXXXXXXXX 3"
    )]
    Disable(EndpointOpts),
    /// Send to an endpoint again (also one the server disabled after failures); its waiting
    /// deliveries go out at once, in order.
    #[command(
        after_help = "Example:\n  chatctl site webhook enable pk_XXXXXXXXXXXXXXXXXXXXXXXX 3"
    )]
    Enable(EndpointOpts),
    /// Remove an endpoint with its deliveries.
    #[command(
        after_help = "Example:\n  chatctl site webhook remove pk_XXXXXXXXXXXXXXXXXXXXXXXX 3"
    )]
    Remove(EndpointOpts),
    /// An endpoint's latest deliveries: state, attempts, response code, latency, error.
    #[command(
        after_help = "Example:\n  chatctl site webhook deliveries pk_XXXXXXXXXXXXXXXXXXXXXXXX 3 --limit 50"
    )]
    Deliveries(DeliveriesOpts),
    /// Give an endpoint a new signing secret and print it (shown once); deliveries are signed
    /// with it from now on.
    #[command(
        after_help = "Example:\n  chatctl site webhook rotate-secret pk_XXXXXXXXXXXXXXXXXXXXXXXX 3"
    )]
    RotateSecret(EndpointOpts),
    /// Send a delivery's event again, with the same event id.
    #[command(
        after_help = "Example:\n  chatctl site webhook resend pk_XXXXXXXXXXXXXXXXXXXXXXXX 1234"
    )]
    Resend(ResendOpts),
}

#[derive(Debug, Args)]
pub struct AddOpts {
    /// The site's public key.
    pub key: String,
    /// Where to POST events: an http:// or https:// URL.
    pub url: String,
    /// An event to send (repeat, or separate with commas); every event when left out.
    #[arg(long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EndpointOpts {
    /// The site's public key.
    pub key: String,
    /// The endpoint's id (from `site webhook list`).
    pub id: i64,
}

#[derive(Debug, Args)]
pub struct DeliveriesOpts {
    /// The site's public key.
    pub key: String,
    /// The endpoint's id (from `site webhook list`).
    pub id: i64,
    /// How many of the latest deliveries to show.
    #[arg(long, default_value_t = RECENT, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ResendOpts {
    /// The site's public key.
    pub key: String,
    /// The delivery's id (from `site webhook deliveries`).
    pub delivery: i64,
}

pub fn run(conn: &mut DbConn, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Add(opts) => add(conn, opts),
        Command::List(opts) => list(conn, opts),
        Command::Disable(opts) | Command::Enable(opts) => {
            let enable = matches!(command, Command::Enable(_));
            let site = find(conn, &opts.key)?;
            let id = WebhookEndpointId(opts.id);
            let changed = endpoints::set_enabled(conn, Actor::CommandLine, site.id, id, enable)?;
            let state = if enable { "enabled" } else { "disabled" };
            match changed {
                true => out!("endpoint {id} {state}"),
                false => out!("endpoint {id} was {state} already"),
            }
            Ok(())
        }
        Command::Remove(opts) => {
            let site = find(conn, &opts.key)?;
            let gone = endpoints::remove(
                conn,
                Actor::CommandLine,
                site.id,
                WebhookEndpointId(opts.id),
            )?;
            out!("removed endpoint {} ({})", gone.id, gone.url);
            Ok(())
        }
        Command::Deliveries(opts) => deliveries(conn, opts),
        Command::RotateSecret(opts) => {
            let site = find(conn, &opts.key)?;
            let id = WebhookEndpointId(opts.id);
            let secret = endpoints::rotate_secret(conn, Actor::CommandLine, site.id, id)?;
            let print = || {
                out!("new signing secret for endpoint {id} (shown once, store it now):\n{secret}");
                Ok(())
            };
            let unseen = || {
                Ok(format!(
                    "endpoint {id} has a new signing secret that could not be shown: run \
                     `chatctl site webhook rotate-secret {} {id}` again",
                    site.public_key
                ))
            };
            shown_once(print, unseen)
        }
        Command::Resend(opts) => {
            let site = find(conn, &opts.key)?;
            endpoints::resend(
                conn,
                Actor::CommandLine,
                site.id,
                WebhookDeliveryId(opts.delivery),
            )?;
            out!(
                "delivery {} queued again; a running server sends it within a second",
                opts.delivery
            );
            Ok(())
        }
    }
}

fn add(conn: &mut DbConn, opts: &AddOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let url = endpoints::parse_url(&opts.url)?;
    let events = endpoints::parse_events(&opts.events)?;
    let endpoint = endpoints::add(conn, Actor::CommandLine, &site, &url, &events)?;
    let print = || {
        if opts.json {
            return super::print_json(&json!({
                "id": endpoint.id,
                "url": endpoint.url,
                "events": endpoint.events(),
                "secret": endpoint.secret,
            }));
        }
        out!("endpoint {} added: {}", endpoint.id, endpoint.url);
        out!("events: {}", endpoint.events.replace(' ', ", "));
        out!(
            "signing secret (shown once, store it now):\n{}",
            endpoint.secret
        );
        Ok(())
    };
    // Nobody could verify its signatures: it goes again.
    let unseen = || {
        endpoints::remove(conn, Actor::CommandLine, site.id, endpoint.id)?;
        Ok(format!(
            "the endpoint's signing secret could not be shown, so {} was removed again; add it again",
            endpoint.url
        ))
    };
    shown_once(print, unseen)
}

fn describe(endpoint: &Endpoint) -> serde_json::Value {
    json!({
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events(),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since.map(crate::timefmt::iso),
        "created_at": crate::timefmt::iso(endpoint.created_at),
    })
}

fn list(conn: &mut DbConn, opts: &SiteListOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let all = Endpoint::list_for_site(conn, site.id)?;
    if opts.json {
        return super::print_json(&all.iter().map(describe).collect::<Vec<_>>());
    }
    if all.is_empty() {
        out!(
            "no webhook endpoints (add one with: chatctl site webhook add {} URL)",
            site.public_key
        );
    }
    for e in &all {
        let state = match (&e.enabled, &e.disabled_reason) {
            (true, _) => "enabled".to_owned(),
            (false, Some(reason)) => format!("disabled: {reason}"),
            (false, None) => "disabled".to_owned(),
        };
        let events: Vec<&str> = e.events().iter().map(|k| k.as_str()).collect();
        let events = if events.len() == EventType::ALL.len() {
            "all events".to_owned()
        } else {
            events.join(", ")
        };
        out!("{:>5}  {}  [{state}]  {events}", e.id, e.url);
    }
    Ok(())
}

fn deliveries(conn: &mut DbConn, opts: &DeliveriesOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let endpoint = endpoints::find(conn, site.id, WebhookEndpointId(opts.id))?;
    let recent = Delivery::recent(conn, endpoint.id, opts.limit)?;
    if opts.json {
        let rows: Vec<_> = recent
            .iter()
            .map(|d| {
                json!({
                    "id": d.id, "event_id": d.event_id, "type": d.event_type, "state": d.state,
                    "attempts": d.attempts, "status": d.last_status, "latency_ms": d.last_latency_ms,
                    "error": d.last_error, "created_at": crate::timefmt::iso(d.created_at),
                    "next_attempt_at": (d.state == crate::webhooks::DeliveryState::Pending)
                        .then(|| crate::timefmt::iso(d.next_attempt_at)),
                })
            })
            .collect();
        return super::print_json(&rows);
    }
    if recent.is_empty() {
        out!("no deliveries yet");
    }
    for d in &recent {
        let status = d.last_status.map_or("-".to_owned(), |s| s.to_string());
        let latency = d
            .last_latency_ms
            .map_or("-".to_owned(), |ms| format!("{ms} ms"));
        out!(
            "{:>7}  {}  {:<20} {:<9} attempts {}  status {status}  {latency}  {}  {}",
            d.id,
            crate::timefmt::utc(d.created_at),
            d.event_type,
            d.state,
            d.attempts,
            d.event_id,
            d.last_error.as_deref().unwrap_or(""),
        );
    }
    Ok(())
}
