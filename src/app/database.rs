//! The database at start-up: connected, migrated, with its guest-token secret
//! and (unless `--no-demo`) the demo site; a hint when no admin account exists.

use super::StartError;
use crate::config::ServeConfig;
use crate::db::models::{server_setting, AdminUser, Site};
use crate::db::{migrate, Db, DbConn, DbError, DbUrl};
use crate::input::{random_token, Origin};

/// What start-up reads from (or makes in) the database.
pub(super) struct Prepared {
    /// Signs guest tokens; the same for every instance and restart.
    pub guest_secret: String,
    /// The demo site's public key, when the demo is on.
    pub demo_site_key: Option<String>,
}

/// Connects to the database; a broker needs PostgreSQL (SQLite is one
/// instance's alone).
pub(super) fn connect(config: &ServeConfig, database_url: &str) -> Result<Db, StartError> {
    let postgres = matches!(DbUrl::parse(database_url)?, DbUrl::Postgres(_));
    if config.cluster.broker_url.is_some() && !postgres {
        return Err(StartError::BrokerWithSqlite);
    }
    let db = Db::connect(database_url, config.limits.db_pool_size.max(2))?;
    tracing::info!(database = %db.url().redacted(), "database connected");
    Ok(db)
}

/// Applies pending migrations and reads (or makes) the guest-token secret;
/// with `demo` (the public origin and port), makes sure the demo site exists.
pub(super) async fn prepare(db: &Db, demo: Option<(Origin, u16)>) -> Result<Prepared, StartError> {
    let hint = first_admin_hint(db.url());
    let prepared = db
        .run(move |conn| -> Result<_, DbError> {
            for name in migrate::run_pending(conn)? {
                tracing::info!(migration = %name, "migration applied");
            }
            let guest_secret =
                server_setting::get_or_init(conn, "guest_token_secret", || random_token(48))?;
            let demo_site_key = match demo {
                Some((origin, port)) => Some(ensure_demo_site(conn, &origin, port)?),
                None => None,
            };
            if AdminUser::count(conn)? == 0 {
                tracing::warn!("no admin account yet; create one with: {hint}");
            }
            Ok(Prepared {
                guest_secret,
                demo_site_key,
            })
        })
        .await?;
    Ok(prepared)
}

/// The built-in demo site, allowed for the local origins this server answers on.
fn ensure_demo_site(
    conn: &mut DbConn,
    public_origin: &Origin,
    port: u16,
) -> Result<String, DbError> {
    let mut origins = vec![public_origin.clone()];
    for host in ["localhost", "127.0.0.1"] {
        if let Ok(origin) = Origin::parse(&format!("http://{host}:{port}")) {
            origins.push(origin);
        }
    }
    let site = match Site::find_demo(conn)? {
        Some(site) => site,
        None => {
            let site = Site::create(conn, "Demo", &[], true)?;
            tracing::info!(site = %site.public_key, "created the demo site");
            site
        }
    };
    for origin in &origins {
        site.add_origin(conn, origin)?;
    }
    Ok(site.public_key)
}

/// The command that makes the first admin account, as the operator can type
/// it: the program as it was started (`cargo run` puts no `chatctl` on the
/// PATH) and the database when it is not the default. A PostgreSQL URL holds
/// a password, which is never logged: the hint names it instead.
fn first_admin_hint(database: &DbUrl) -> String {
    let program = std::env::args()
        .next()
        .filter(|p| p.contains('/'))
        .unwrap_or_else(|| "chatctl".to_owned());
    let database = match database {
        DbUrl::Sqlite(path) if path.as_os_str() == "chatctl.db" => String::new(),
        DbUrl::Sqlite(path) => {
            format!(
                " --database-url {}",
                shell_word(&format!("sqlite://{}", path.display()))
            )
        }
        DbUrl::Postgres(_) => " --database-url \"$DATABASE_URL\"".to_owned(),
    };
    let mut hint = format!(
        "{}{database} user create --email you@example.com --name \"Your Name\" --role owner",
        shell_word(&program)
    );
    if database.contains("$DATABASE_URL") {
        hint.push_str(" (with DATABASE_URL set to this server's database URL)");
    }
    hint
}

/// `word` as one shell word: quoted when it holds anything but safe characters.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-:+=@%,".contains(c);
    if word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
