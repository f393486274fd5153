//! The `chatctl` command line: one file per subcommand, each with its own
//! options struct and `run`. Errors here are `anyhow`, printed as one line.

/// Prints a line of a command's output; a reader that stopped reading ends
/// the command quietly ([`output`]). For functions returning `anyhow::Result`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))?
    };
}

pub mod api_keys;
pub mod ban;
mod log_writer;
pub mod migrate;
pub mod output;
pub mod rooms;
pub mod serve;
pub mod site;
pub mod user;
pub mod webhook;

use std::io::Write;

use clap::{Args, Parser, Subcommand};

use crate::config::database_url;
use crate::db::Db;

#[derive(Debug, Parser)]
#[command(
    name = "chatctl",
    version,
    about = "Self-hosted chat that any website embeds with one <script> tag",
    long_about = "Self-hosted chat that any website embeds with one <script> tag.\n\n\
        One binary runs the WebSocket chat server, serves the widget and the admin panel, \
        and manages sites and admin accounts.",
    after_help = "Quick start:\n  chatctl serve                       # SQLite in ./chatctl.db, demo page on http://localhost:8080/\n  \
        chatctl site create --name Blog --origin https://blog.example.com\n  \
        chatctl user create --email you@example.com --name You --role owner"
)]
pub struct Cli {
    /// Database URL: sqlite://PATH (default sqlite://chatctl.db) or postgres://USER:PASS@HOST/DB.
    /// Also read from CHATCTL_DATABASE_URL or DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply the embedded database migrations (or list them with --status).
    Migrate(migrate::Opts),
    /// Manage admin-panel accounts (owners, admins, moderators).
    #[command(subcommand)]
    User(user::Command),
    /// Manage sites: keys, secrets, allowed origins, settings.
    #[command(subcommand)]
    Site(site::Command),
    /// Ban a participant or an IP address (running servers close their connections).
    Ban(ban::Opts),
    /// Run the chat server.
    // Boxed: its many flags would make every other variant as large.
    Serve(Box<serve::Opts>),
}

impl Cli {
    pub fn database_url(&self) -> String {
        database_url(self.database_url.as_deref())
    }

    /// Opens the database and applies pending migrations, so every command works on a fresh install.
    fn open_db(&self) -> anyhow::Result<Db> {
        use anyhow::Context;
        let db = Db::connect(&self.database_url(), 2).context("cannot open the database")?;
        let mut conn = db.get()?;
        let done = crate::db::migrate::migrate(&mut conn).context("cannot apply migrations")?;
        // Said once, by whichever command opened the database first after an
        // upgrade; on stderr, apart from the command's own output.
        for note in done.repaired {
            let _ = writeln!(std::io::stderr(), "note: repaired {note}");
        }
        Ok(db)
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Migrate(opts) => migrate::run(&cli, opts),
        Command::User(cmd) => user::run(&cli.open_db()?, cmd),
        Command::Site(cmd) => site::run(&cli.open_db()?, cmd),
        Command::Ban(opts) => ban::run(&cli.open_db()?, opts),
        Command::Serve(opts) => serve::run(&cli, opts),
    }
}

/// The site with public key `key`, or an error that says how to find keys.
/// (Every subcommand that names a site uses it.)
fn find_site(conn: &mut crate::db::DbConn, key: &str) -> anyhow::Result<crate::db::models::Site> {
    crate::db::models::Site::find_by_key(conn, key.trim())?.ok_or_else(|| {
        anyhow::anyhow!(
            "unknown site {key:?} (list them with: chatctl site list; keys look like pk_XXXXXXXXXXXXXXXXXXXXXXXX)"
        )
    })
}

/// What `list` takes in `site rooms`, `site api-key` and `site webhook`.
#[derive(Debug, Args)]
pub struct SiteListOpts {
    /// The site's public key.
    pub key: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Prints a value as pretty JSON on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// Every option and argument of every subcommand says what it is for in
    /// `--help` (an option with an empty line there is a question for the operator).
    #[test]
    fn every_option_has_help() {
        fn missing(command: &clap::Command, path: &str, found: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    found.push(format!("{path} --{id}"));
                }
            }
            for sub in command.get_subcommands() {
                missing(sub, &format!("{path} {}", sub.get_name()), found);
            }
        }
        let mut found = Vec::new();
        missing(&super::Cli::command(), "chatctl", &mut found);
        assert!(found.is_empty(), "options without help: {found:#?}");
    }
}
