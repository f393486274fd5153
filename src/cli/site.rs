//! `chatctl site ...`: sites (create, list, show, settings, origins, keys,
//! disable, enable) through the same service as the panel (`manage`); rooms
//! in `rooms.rs`.

use crate::db::models::audit::Actor;
use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::db::models::{Room, RoomPolicy, RoomScope, Site};
use crate::db::{Db, DbConn};
use crate::manage::sites::{self as manage, SettingsChange};

use super::find_site as find;
use super::output::shown_once;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a site and print its key, its secret (shown once) and the script tag to paste.
    #[command(
        after_help = "Example:\n  chatctl site create --name Blog --origin https://blog.example.com --origin https://www.example.com"
    )]
    Create(CreateOpts),
    /// List sites.
    #[command(after_help = "Examples:\n  chatctl site list\n  chatctl site list --json")]
    List(Output),
    /// Show one site: settings, origins, rooms and its script tag.
    #[command(after_help = "Example:\n  chatctl site show pk_XXXXXXXXXXXXXXXXXXXXXXXX --json")]
    Show(ShowOpts),
    /// Replace the site secret; tokens signed with the old one stop working.
    #[command(after_help = "Example:\n  chatctl site rotate-secret pk_XXXXXXXXXXXXXXXXXXXXXXXX")]
    RotateSecret(KeyOpts),
    /// Allow pages from another origin to embed the chat.
    #[command(
        after_help = "Example:\n  chatctl site add-origin pk_XXXXXXXXXXXXXXXXXXXXXXXX https://shop.example.com"
    )]
    AddOrigin(OriginOpts),
    /// Stop allowing an origin.
    #[command(
        after_help = "Example:\n  chatctl site remove-origin pk_XXXXXXXXXXXXXXXXXXXXXXXX https://old.example.com"
    )]
    RemoveOrigin(OriginOpts),
    /// Change settings: guests, registration, verified identity, room policy, limits.
    #[command(
        after_help = "Examples:\n  chatctl site set pk_XXXXXXXXXXXXXXXXXXXXXXXX --guests false --verified-required true\n  \
        chatctl site set pk_XXXXXXXXXXXXXXXXXXXXXXXX --room-policy precreated --max-rooms 20"
    )]
    Set(SetOpts),
    /// Create a room ahead of time (required when the room policy is `precreated`).
    #[command(
        after_help = "Example:\n  chatctl site add-room pk_XXXXXXXXXXXXXXXXXXXXXXXX support"
    )]
    AddRoom(RoomOpts),
    /// List, delete and prune a site's rooms.
    #[command(subcommand)]
    Rooms(super::rooms::Command),
    /// Create, list and revoke the site's keys to the server API (docs/API.md).
    #[command(subcommand)]
    ApiKey(super::api_keys::Command),
    /// Webhook endpoints: add, list, enable, disable, remove; deliveries: list, resend.
    #[command(subcommand)]
    Webhook(super::webhook::Command),
    /// Disable a site: new connections are refused, running servers close open ones.
    #[command(after_help = "Example:\n  chatctl site disable pk_XXXXXXXXXXXXXXXXXXXXXXXX")]
    Disable(KeyOpts),
    /// Re-enable a disabled site.
    #[command(after_help = "Example:\n  chatctl site enable pk_XXXXXXXXXXXXXXXXXXXXXXXX")]
    Enable(KeyOpts),
    /// Delete a disabled site for good: its rooms, messages and participants go; the audit
    /// log keeps the line saying so. To keep everything, leave the site disabled instead.
    #[command(
        after_help = "Example:\n  chatctl site disable pk_XXXXXXXXXXXXXXXXXXXXXXXX\n  \
        chatctl site delete pk_XXXXXXXXXXXXXXXXXXXXXXXX --confirm \"My blog\""
    )]
    Delete(DeleteOpts),
}

#[derive(Debug, Args)]
pub struct DeleteOpts {
    /// The site's public key.
    pub key: String,
    /// The site's name, exactly as shown by `site show`: proof that this is the site meant.
    #[arg(long, value_name = "NAME")]
    pub confirm: String,
}

#[derive(Debug, Args)]
pub struct CreateOpts {
    /// The site's name, as the panel and the audit log show it.
    #[arg(long)]
    pub name: String,
    /// Origin allowed to embed the chat (scheme://host[:port]); repeat for several.
    #[arg(long = "origin", value_name = "ORIGIN", required = true)]
    pub origins: Vec<String>,
    #[command(flatten)]
    pub output: Output,
}

/// How to print a site.
#[derive(Debug, Args)]
pub struct Output {
    /// Base URL of this chatctl server, used in the printed script tag.
    #[arg(
        long,
        env = "CHATCTL_PUBLIC_URL",
        default_value = "http://localhost:8080"
    )]
    pub public_url: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowOpts {
    /// The site's public key.
    pub key: String,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct KeyOpts {
    /// The site's public key.
    pub key: String,
}

#[derive(Debug, Args)]
pub struct OriginOpts {
    /// The site's public key.
    pub key: String,
    /// scheme://host[:port]
    pub origin: String,
}

#[derive(Debug, Args)]
pub struct RoomOpts {
    /// The site's public key.
    pub key: String,
    /// Room name: letters, digits and - _ . : /
    pub room: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PolicyArg {
    /// Rooms are created on first join, up to --max-rooms.
    Open,
    /// Only rooms made with `site add-room` exist.
    Precreated,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    /// One room for the whole site, `lobby`.
    Site,
    /// Each page its own room, named after its path.
    Page,
}

impl From<ScopeArg> for RoomScope {
    fn from(arg: ScopeArg) -> RoomScope {
        match arg {
            ScopeArg::Site => RoomScope::Site,
            ScopeArg::Page => RoomScope::Page,
        }
    }
}

impl From<PolicyArg> for RoomPolicy {
    fn from(arg: PolicyArg) -> RoomPolicy {
        match arg {
            PolicyArg::Open => RoomPolicy::Open,
            PolicyArg::Precreated => RoomPolicy::Precreated,
        }
    }
}

#[derive(Debug, Args)]
pub struct SetOpts {
    /// The site's public key.
    pub key: String,
    /// A new name for the site.
    #[arg(long)]
    pub name: Option<String>,
    /// Allow guests (nickname only).
    #[arg(long, value_name = "BOOL")]
    pub guests: Option<bool>,
    /// Allow visitors to register accounts.
    #[arg(long, value_name = "BOOL")]
    pub registration: Option<bool>,
    /// Require identity verified by the host site (signed token).
    #[arg(long, value_name = "BOOL")]
    pub verified_required: Option<bool>,
    /// Which rooms exist.
    #[arg(long, value_enum)]
    pub room_policy: Option<PolicyArg>,
    /// Which room a widget joins when its tag has no data-room.
    #[arg(long, value_enum)]
    pub room_scope: Option<ScopeArg>,
    /// Most rooms the site may have (1 to 1000000).
    #[arg(long)]
    pub max_rooms: Option<i32>,
    /// Longest message, in characters, 1 to 100000 (the server's own limit still applies).
    #[arg(long)]
    pub max_message_chars: Option<i32>,
    /// Show "X joined" / "X left" lines in the widget (on or off); rooms with more than 50
    /// people present never show them.
    #[arg(long, value_name = "on|off", value_parser = clap::builder::BoolishValueParser::new())]
    pub presence_lines: Option<bool>,
}

pub fn run(db: &Db, command: &Command) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    let conn = &mut conn;
    match command {
        Command::Create(opts) => create(conn, opts),
        Command::List(opts) => list(conn, opts),
        Command::Show(opts) => show(conn, opts),
        Command::RotateSecret(opts) => {
            let site = find(conn, &opts.key)?;
            let secret = manage::rotate_secret(conn, Actor::CommandLine, &site, None)?;
            let print = || {
                out!(
                    "new secret for {} (shown once, store it now):\n{secret}",
                    site.public_key
                );
                Ok(())
            };
            // The old secret is not brought back: it may be why it was rotated.
            let unseen = || {
                Ok(format!(
                    "a new secret for {key} was stored but could not be shown, and the old one \
                     no longer works: run `chatctl site rotate-secret {key}` again",
                    key = site.public_key
                ))
            };
            shown_once(print, unseen)
        }
        Command::AddOrigin(opts) => {
            let site = find(conn, &opts.key)?;
            let origin = manage::origin(&opts.origin)?;
            if manage::add_origin(conn, Actor::CommandLine, &site, &origin, None)? {
                out!("{} now allows {origin}", site.public_key);
            } else {
                out!("{} already allows {origin}", site.public_key);
            }
            Ok(())
        }
        Command::RemoveOrigin(opts) => {
            let site = find(conn, &opts.key)?;
            let origin = manage::origin(&opts.origin)?;
            if !manage::remove_origin(conn, Actor::CommandLine, &site, &origin, None)? {
                bail!("{} does not allow {origin}", site.public_key);
            }
            out!("{} no longer allows {origin}", site.public_key);
            Ok(())
        }
        Command::Set(opts) => set(conn, opts),
        Command::Rooms(command) => super::rooms::run(conn, command),
        Command::ApiKey(command) => super::api_keys::run(conn, command),
        Command::Webhook(command) => super::webhook::run(conn, command),
        Command::AddRoom(opts) => super::rooms::add(conn, &opts.key, &opts.room),
        Command::Disable(opts) | Command::Enable(opts) => {
            let enable = matches!(command, Command::Enable(_));
            let site = find(conn, &opts.key)?;
            manage::set_enabled_in(conn, Actor::CommandLine, &site, enable, None)?;
            let done = if enable { "enabled" } else { "disabled" };
            out!("{done} {}", site.public_key);
            Ok(())
        }
        Command::Delete(opts) => {
            let site = find(conn, &opts.key)?;
            let gone = manage::delete(conn, Actor::CommandLine, &site, &opts.confirm)?;
            out!(
                "deleted {} ({}): {} messages, {} participants",
                site.public_key,
                site.name,
                gone.messages,
                gone.participants
            );
            Ok(())
        }
    }
}

fn create(conn: &mut DbConn, opts: &CreateOpts) -> anyhow::Result<()> {
    let origins: Vec<&str> = opts.origins.iter().map(String::as_str).collect();
    let site = manage::create(conn, Actor::CommandLine, &opts.name, &origins)?;
    let origins = site.origins(conn)?;
    let tag = site.script_tag(&opts.output.public_url);
    let key = site.public_key.clone();
    let json = match opts.output.json {
        true => {
            let secret = site.secret.clone();
            let mut json = view(conn, site.clone(), &opts.output.public_url)?;
            json.secret = Some(secret);
            Some(json)
        }
        false => None,
    };
    let print = || match &json {
        Some(json) => super::print_json(json),
        None => print_created(&site, &origins, &tag),
    };
    // The site stays (it may already be in pages); a secret nobody saw is
    // replaced by one that is shown.
    let unseen = || {
        Ok(format!(
            "site {key} was created, but its secret could not be shown: \
             run `chatctl site rotate-secret {key}` to issue one you can see"
        ))
    };
    shown_once(print, unseen)
}

fn print_created(site: &Site, origins: &[String], tag: &str) -> anyhow::Result<()> {
    out!("created site {:?}", site.name);
    out!("public key: {}", site.public_key);
    out!(
        "secret:     {}   (shown once: store it now; it signs verified-user tokens)",
        site.secret
    );
    out!("allowed origins: {}", origins.join(", "));
    out!("\npaste this into your pages:\n{tag}");
    out!(
        "\nevery page shares one room, lobby; for a room per page (named after its path):\n  \
         chatctl site set {} --room-scope page\n(a tag's data-room=\"NAME\" always wins)",
        site.public_key
    );
    Ok(())
}

/// A site as every `--json` of `site` prints it: `list` (an array of them),
/// `show`, and `create` (which adds the secret, shown once).
#[derive(Serialize)]
struct SiteView {
    #[serde(flatten)]
    site: Site,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    origins: Vec<String>,
    rooms: Vec<String>,
    script_tag: String,
}

fn view(conn: &mut DbConn, site: Site, public_url: &str) -> anyhow::Result<SiteView> {
    let origins = site.origins(conn)?;
    let rooms = Room::list_for_site(conn, site.id)?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let script_tag = site.script_tag(public_url);
    Ok(SiteView {
        site,
        secret: None,
        origins,
        rooms,
        script_tag,
    })
}

fn list(conn: &mut DbConn, opts: &Output) -> anyhow::Result<()> {
    let sites = Site::list(conn)?;
    if opts.json {
        let rows = sites
            .into_iter()
            .map(|site| view(conn, site, &opts.public_url))
            .collect::<anyhow::Result<Vec<_>>>()?;
        return super::print_json(&rows);
    }
    if sites.is_empty() {
        out!(
            "no sites; create one with: chatctl site create --name NAME --origin https://your.site"
        );
    }
    for site in sites {
        let state = if site.enabled { "" } else { " (disabled)" };
        let demo = if site.is_demo { " [demo]" } else { "" };
        out!(
            "{}  {}{demo}{state}  origins: {}",
            site.public_key,
            site.name,
            site.origins(conn)?.join(", ")
        );
    }
    Ok(())
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

fn show(conn: &mut DbConn, opts: &ShowOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let v = view(conn, site, &opts.output.public_url)?;
    if opts.output.json {
        return super::print_json(&v);
    }
    let s = &v.site;
    out!("{} ({})", s.name, s.public_key);
    out!("  enabled:              {}", s.enabled);
    out!("  guests allowed:       {}", s.guests_allowed);
    out!("  registration allowed: {}", s.registration_allowed);
    out!("  verified required:    {}", s.verified_required);
    out!("  room policy:          {}", s.room_policy);
    out!("  room scope:           {}", s.room_scope);
    out!("  max rooms:            {}", s.max_rooms);
    out!("  max message chars:    {}", s.max_message_chars);
    out!("  presence lines:       {}", on_off(s.presence_lines));
    out!("  origins:              {}", v.origins.join(", "));
    out!(
        "  rooms:                {}",
        if v.rooms.is_empty() {
            "(none yet)".into()
        } else {
            v.rooms.join(", ")
        }
    );
    out!("  script tag:           {}", v.script_tag);
    Ok(())
}

fn set(conn: &mut DbConn, opts: &SetOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let change = SettingsChange {
        name: opts.name.clone(),
        guests_allowed: opts.guests,
        registration_allowed: opts.registration,
        verified_required: opts.verified_required,
        room_policy: opts.room_policy.map(RoomPolicy::from),
        room_scope: opts.room_scope.map(RoomScope::from),
        max_rooms: opts.max_rooms,
        max_message_chars: opts.max_message_chars,
        presence_lines: opts.presence_lines,
    };
    if change.is_empty() {
        bail!("nothing to change: pass at least one setting (see chatctl site set --help)");
    }
    let changed = manage::update(conn, Actor::CommandLine, &site, change, None)?;
    if changed.is_empty() {
        out!("{}: already so, nothing changed", site.public_key);
    } else {
        out!("updated {}: {}", site.public_key, changed.join("; "));
    }
    Ok(())
}
