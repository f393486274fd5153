//! `chatctl user ...`: admin-panel accounts (create, list, set a password,
//! disable, enable, delete), through the same service as the panel (`manage`).

use crate::db::models::audit::Actor;
use std::io::{BufRead, IsTerminal};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use crate::db::models::{AdminUser, Role, SiteId};
use crate::db::{Db, DbConn};
use crate::identity::password;
use crate::input::Email;
use crate::manage::admin_accounts::{self as manage, NewAdmin};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an admin account.
    #[command(
        after_help = "Examples:\n  chatctl user create --email ann@example.com --name Ann --role owner\n  \
        echo 'a long Passphrase 1' | chatctl user create --email mod@example.com --name Mo \\\n      \
        --role moderator --site pk_XXXXXXXXXXXXXXXXXXXXXXXX --password-stdin"
    )]
    Create(CreateOpts),
    /// List admin accounts.
    #[command(after_help = "Examples:\n  chatctl user list\n  chatctl user list --json")]
    List(ListOpts),
    /// Set a new password for an account.
    #[command(after_help = "Example:\n  chatctl user set-password --email ann@example.com")]
    SetPassword(PasswordOpts),
    /// Disable an account: it can no longer log in.
    #[command(after_help = "Example:\n  chatctl user disable --email mod@example.com")]
    Disable(EmailOpts),
    /// Re-enable a disabled account.
    #[command(after_help = "Example:\n  chatctl user enable --email mod@example.com")]
    Enable(EmailOpts),
    /// Delete an account for good: its sessions end; the audit log keeps what it did, under
    /// its email. The last enabled owner cannot be deleted. To keep it, disable it instead.
    #[command(
        after_help = "Example:\n  chatctl user delete --email mod@example.com --confirm \"Mo\""
    )]
    Delete(DeleteOpts),
}

/// `--role`: the command line's own names for [`Role`] (clap stays out of `db`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Manages everything, admin accounts included.
    Owner,
    /// Manages every site, not accounts.
    Admin,
    /// Moderates only the sites given with --site.
    Moderator,
}

impl From<RoleArg> for Role {
    fn from(arg: RoleArg) -> Role {
        match arg {
            RoleArg::Owner => Role::Owner,
            RoleArg::Admin => Role::Admin,
            RoleArg::Moderator => Role::Moderator,
        }
    }
}

#[derive(Debug, Args)]
pub struct CreateOpts {
    /// Email address: the login, and where password reset links go.
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long)]
    pub name: String,
    /// What the account may do.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Site a moderator may moderate (public key); repeat for several. Required for moderators.
    #[arg(long = "site", value_name = "KEY")]
    pub sites: Vec<String>,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ListOpts {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PasswordOpts {
    /// The account's email address.
    #[arg(long)]
    pub email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct EmailOpts {
    /// The account's email address.
    #[arg(long)]
    pub email: String,
}

#[derive(Debug, Args)]
pub struct DeleteOpts {
    /// The account's email address.
    #[arg(long)]
    pub email: String,
    /// The account's name, exactly as `user list` shows it: proof that this is the account meant.
    #[arg(long, value_name = "NAME")]
    pub confirm: String,
}

pub fn run(db: &Db, command: &Command) -> anyhow::Result<()> {
    let mut conn = db.get()?;
    match command {
        Command::Create(opts) => create(&mut conn, opts),
        Command::List(opts) => list(&mut conn, opts),
        Command::SetPassword(opts) => set_password(&mut conn, opts),
        Command::Disable(opts) => set_disabled(&mut conn, &opts.email, true),
        Command::Enable(opts) => set_disabled(&mut conn, &opts.email, false),
        Command::Delete(opts) => delete(&mut conn, opts),
    }
}

/// Reads and checks a password: from stdin when asked, else twice from the terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for a password: pass --password-stdin and pipe it in");
        }
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            bail!("the passwords do not match");
        }
        first
    };
    manage::check_new_password(&password)?;
    Ok(password)
}

fn find(conn: &mut DbConn, email: &str) -> anyhow::Result<AdminUser> {
    let email = Email::parse(email)?;
    AdminUser::find_by_email(conn, email.as_str())?
        .ok_or_else(|| anyhow!("no admin account with email {email}"))
}

fn create(conn: &mut DbConn, opts: &CreateOpts) -> anyhow::Result<()> {
    let sites = opts
        .sites
        .iter()
        .map(|key| Ok(super::find_site(conn, key)?.id))
        .collect::<anyhow::Result<Vec<SiteId>>>()?;
    let new = NewAdmin::parse(&opts.email, &opts.name, opts.role.into(), sites)?;
    // Checked before asking for the password, and again when creating.
    manage::check_available(conn, &new)?;
    let password = read_password(opts.password_stdin)?;
    let hash = password::hash(&password)?;
    let user = manage::create(conn, Actor::CommandLine, &new, &hash)?;
    out!("created {} {} <{}>", user.role, user.name, user.email);
    Ok(())
}

/// An admin account as `user list --json` prints it.
#[derive(Serialize)]
struct UserJson<'a> {
    id: i64,
    email: &'a str,
    name: &'a str,
    role: &'a str,
    disabled: bool,
    #[serde(serialize_with = "crate::timefmt::rfc3339")]
    created_at: i64,
    #[serde(serialize_with = "crate::timefmt::rfc3339_opt")]
    last_login_at: Option<i64>,
    notify_reports: bool,
    /// Public keys of a moderator's sites.
    sites: &'a [String],
}

struct UserRow {
    user: AdminUser,
    sites: Vec<String>,
}

fn list(conn: &mut DbConn, opts: &ListOpts) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for user in AdminUser::list(conn)? {
        let sites = user.site_keys(conn)?;
        rows.push(UserRow { user, sites });
    }
    if opts.json {
        let json: Vec<UserJson> = rows
            .iter()
            .map(|UserRow { user, sites }| UserJson {
                id: user.id.0,
                email: &user.email,
                name: &user.name,
                role: user.role.as_str(),
                disabled: user.disabled,
                created_at: user.created_at,
                last_login_at: user.last_login_at,
                notify_reports: user.notify_reports,
                sites,
            })
            .collect();
        return super::print_json(&json);
    }
    if rows.is_empty() {
        out!("no admin accounts; create one with: chatctl user create --email E --name N --role owner");
    }
    for row in rows {
        let state = if row.user.disabled { " (disabled)" } else { "" };
        let sites = if row.sites.is_empty() {
            String::new()
        } else {
            format!(" sites: {}", row.sites.join(", "))
        };
        out!(
            "{:<9} {} <{}>{state}{sites}",
            row.user.role,
            row.user.name,
            row.user.email
        );
    }
    Ok(())
}

fn set_password(conn: &mut DbConn, opts: &PasswordOpts) -> anyhow::Result<()> {
    let user = find(conn, &opts.email)?;
    let password = read_password(opts.password_stdin)?;
    let hash = password::hash(&password)?;
    let ended = manage::set_password(conn, Actor::CommandLine, &user, &hash, None)?;
    out!(
        "password changed for {}; {} ended, unused reset links voided",
        user.email,
        sessions(ended)
    );
    Ok(())
}

fn sessions(n: usize) -> String {
    format!("{n} open session{}", if n == 1 { "" } else { "s" })
}

fn set_disabled(conn: &mut DbConn, email: &str, disabled: bool) -> anyhow::Result<()> {
    let user = find(conn, email)?;
    let ended = manage::set_disabled(conn, Actor::CommandLine, &user, disabled)?;
    if disabled {
        out!("disabled {}; {} ended", user.email, sessions(ended));
    } else {
        out!("enabled {}", user.email);
    }
    Ok(())
}

fn delete(conn: &mut DbConn, opts: &DeleteOpts) -> anyhow::Result<()> {
    let user = find(conn, &opts.email)?;
    let ended = manage::delete(conn, Actor::CommandLine, &user, &opts.confirm)?;
    out!(
        "deleted {} {} <{}>; {} ended",
        user.role,
        user.name,
        user.email,
        sessions(ended)
    );
    Ok(())
}
