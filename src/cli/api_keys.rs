//! `chatctl site api-key ...`: a site's keys to the server API (docs/API.md),
//! through the same service as the panel (`manage::api_keys`): created (the
//! key is printed once), listed with their prefixes, revoked.

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::{find_site as find, SiteListOpts};
use crate::cli::output::shown_once;
use crate::db::models::audit::Actor;
use crate::db::models::{ApiKey, Scope};
use crate::db::DbConn;
use crate::manage::api_keys as manage;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a key for the server API; it is printed once.
    #[command(after_help = "Example:\n  \
        chatctl site api-key create pk_XXXXXXXXXXXXXXXXXXXXXXXX --name backend --scope read --scope publish")]
    Create(CreateOpts),
    /// List the site's keys (prefix, name, scopes, last use); never the keys themselves.
    #[command(
        after_help = "Example:\n  chatctl site api-key list pk_XXXXXXXXXXXXXXXXXXXXXXXX --json"
    )]
    List(SiteListOpts),
    /// Revoke a key, named by its prefix: the next request with it is refused.
    #[command(
        after_help = "Example:\n  chatctl site api-key revoke pk_XXXXXXXXXXXXXXXXXXXXXXXX ck_7Hq2xR9a"
    )]
    Revoke(RevokeOpts),
}

/// `--scope`: the command line's names for [`Scope`] (clap stays out of `db`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    /// Read rooms, messages, who is online, participants.
    Read,
    /// Create rooms and post messages.
    Publish,
    /// Room settings, deletions, bans, unbans and mutes.
    Moderate,
}

impl From<ScopeArg> for Scope {
    fn from(arg: ScopeArg) -> Scope {
        match arg {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Publish => Scope::Publish,
            ScopeArg::Moderate => Scope::Moderate,
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateOpts {
    /// The site's public key.
    pub key: String,
    /// A name that says what uses the key (shown in lists and in the audit log).
    #[arg(long)]
    pub name: String,
    /// What the key may do; repeat for several.
    #[arg(long = "scope", value_enum, required = true)]
    pub scopes: Vec<ScopeArg>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RevokeOpts {
    /// The site's public key.
    pub key: String,
    /// The API key's prefix, as `list` shows it (`ck_` and 8 characters).
    pub prefix: String,
}

/// One key as `list --json` and `create --json` print it.
#[derive(Serialize)]
struct KeyView<'a> {
    prefix: &'a str,
    name: &'a str,
    scopes: Vec<Scope>,
    #[serde(serialize_with = "crate::timefmt::rfc3339")]
    created_at: i64,
    #[serde(serialize_with = "crate::timefmt::rfc3339_opt")]
    last_used_at: Option<i64>,
    #[serde(serialize_with = "crate::timefmt::rfc3339_opt")]
    revoked_at: Option<i64>,
    /// `create` only: the key, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

fn view<'a>(key: &'a ApiKey, secret: Option<&'a str>) -> KeyView<'a> {
    KeyView {
        prefix: &key.prefix,
        name: &key.name,
        scopes: key.scopes(),
        created_at: key.created_at,
        last_used_at: key.last_used_at,
        revoked_at: key.revoked_at,
        key: secret,
    }
}

pub fn run(conn: &mut DbConn, command: &Command) -> anyhow::Result<()> {
    match command {
        Command::Create(opts) => create(conn, opts),
        Command::List(opts) => list(conn, opts),
        Command::Revoke(opts) => {
            let site = find(conn, &opts.key)?;
            let key = manage::revoke(conn, Actor::CommandLine, &site, &opts.prefix).map_err(
                |e| match e {
                    crate::manage::ManageError::NotFound => anyhow::anyhow!(
                        "{} has no API key {:?} (list them with: chatctl site api-key list {})",
                        site.public_key,
                        opts.prefix,
                        site.public_key
                    ),
                    other => other.into(),
                },
            )?;
            out!("revoked {} ({})", key.prefix, key.name);
            Ok(())
        }
    }
}

fn create(conn: &mut DbConn, opts: &CreateOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let scopes: Vec<Scope> = opts.scopes.iter().map(|s| Scope::from(*s)).collect();
    let created = manage::create(conn, Actor::CommandLine, &site, &opts.name, &scopes)?;
    let print = || {
        if opts.json {
            return super::print_json(&view(&created.key, Some(&created.secret)));
        }
        let scopes: Vec<&str> = created.key.scopes().iter().map(|s| s.as_str()).collect();
        out!(
            "created API key {:?} for {} (scopes: {})",
            created.key.name,
            site.public_key,
            scopes.join(", ")
        );
        out!(
            "key: {}   (shown once: store it now; send it as Authorization: Bearer <key>)",
            created.secret
        );
        Ok(())
    };
    // A key nobody saw is revoked at once.
    let unseen = || {
        manage::revoke(conn, Actor::CommandLine, &site, &created.key.prefix)?;
        Ok(format!(
            "the new API key {} could not be shown, so it was revoked; create another",
            created.key.prefix
        ))
    };
    shown_once(print, unseen)
}

fn list(conn: &mut DbConn, opts: &SiteListOpts) -> anyhow::Result<()> {
    let site = find(conn, &opts.key)?;
    let keys = ApiKey::list(conn, site.id)?;
    if opts.json {
        let views: Vec<_> = keys.iter().map(|k| view(k, None)).collect();
        return super::print_json(&views);
    }
    if keys.is_empty() {
        out!("{} has no API keys", site.public_key);
        return Ok(());
    }
    out!(
        "{:<12} {:<24} {:<22} {:<20} STATE",
        "PREFIX",
        "NAME",
        "SCOPES",
        "LAST USED"
    );
    for key in &keys {
        let scopes: Vec<&str> = key.scopes().iter().map(|s| s.as_str()).collect();
        let used = key
            .last_used_at
            .map_or_else(|| "never".to_owned(), crate::timefmt::utc);
        let state = match key.revoked_at {
            Some(at) => format!("revoked {}", crate::timefmt::utc(at)),
            None => "active".to_owned(),
        };
        out!(
            "{:<12} {:<24} {:<22} {:<20} {state}",
            key.prefix,
            key.name,
            scopes.join(","),
            used
        );
    }
    Ok(())
}
