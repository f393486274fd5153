//! `chatctl migrate`: applies pending migrations, or lists them with `--status`.

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::db::{migrate, Db};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  chatctl migrate\n  chatctl migrate --status\n  \
    DATABASE_URL=postgres://chat:secret@localhost/chat chatctl migrate"
)]
pub struct Opts {
    /// List every migration and whether it is applied, without changing anything.
    #[arg(long)]
    pub status: bool,
}

pub fn run(cli: &Cli, opts: &Opts) -> anyhow::Result<()> {
    let db = Db::connect(&cli.database_url(), 1).context("cannot open the database")?;
    let mut conn = db.get()?;
    out!("database: {}", db.url().redacted());
    if opts.status {
        for (name, applied) in migrate::status(&mut conn)? {
            out!("{} {name}", if applied { "[applied]" } else { "[pending]" });
        }
        return Ok(());
    }
    let done = migrate::migrate(&mut conn)?;
    if done.ran.is_empty() && done.repaired.is_empty() {
        out!("already up to date");
    }
    for name in done.ran {
        out!("applied {name}");
    }
    for note in done.repaired {
        out!("repaired {note}");
    }
    Ok(())
}
