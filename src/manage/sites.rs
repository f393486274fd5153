//! Sites: creation, allowed origins, settings, the secret, enabling and
//! disabling. Audit entries name the site by its public key.

use super::{audit, invalid, Actor, Result, Target};
use crate::chat::cluster::Control;
use crate::chat::protocol::CloseReason;
use crate::chat::Chat;
use crate::db::models::audit::AuditAction;
use crate::db::models::site::SiteSettings;
use crate::db::models::{Message, Participant, Site, SiteId};
use crate::db::DbConn;
use crate::input::{DisplayName, NameKey, Origin};

/// The most rooms a site may be given.
pub const MAX_ROOMS: i32 = 1_000_000;
/// The longest message limit a site may be given, in characters.
pub const MAX_MESSAGE_CHARS: i32 = 100_000;

fn site_name(raw: &str) -> Result<String> {
    DisplayName::parse(raw, "site names")
        .map(DisplayName::into_inner)
        .map_err(|e| invalid(e.sentence()))
}

/// Refuses a name that looks like another site's (by [`NameKey`]: case,
/// look-alike letters): pickers and lists show sites by name, and two "Blog"s
/// (or a "Blog" and a "Вlog") cannot be told apart there.
fn name_is_free(conn: &mut DbConn, name: &str, except: Option<SiteId>) -> Result<()> {
    let key = NameKey::of(name);
    let taken = Site::list(conn)?
        .into_iter()
        .find(|s| Some(s.id) != except && NameKey::of(&s.name).looks_like(&key));
    match taken {
        Some(other) => Err(invalid(format!(
            "Another site is called {:?} already (key {}). Choose a name that tells them apart.",
            other.name, other.public_key
        ))),
        None => Ok(()),
    }
}

/// Parses an origin as typed (`scheme://host[:port]`).
pub fn origin(raw: &str) -> Result<Origin> {
    Origin::parse(raw.trim()).map_err(|e| invalid(e.sentence()))
}

/// Creates a site allowed on `origins` (repeats are dropped); its secret is
/// in the returned value, to be shown once.
pub fn create(conn: &mut DbConn, actor: Actor, name: &str, origins: &[&str]) -> Result<Site> {
    let name = site_name(name)?;
    let mut origins = origins
        .iter()
        .map(|o| origin(o))
        .collect::<Result<Vec<_>>>()?;
    origins.sort();
    origins.dedup();
    conn.write_transaction(|conn| {
        name_is_free(conn, &name, None)?;
        let site = Site::create(conn, &name, &origins, false)?;
        let allowed: Vec<&str> = origins.iter().map(Origin::as_str).collect();
        let details = format!("{name}; origins: {}", allowed.join(", "));
        audit(
            conn,
            actor,
            AuditAction::SiteCreate,
            Target::Site(&site),
            details,
        )?;
        Ok(site)
    })
}

/// Allows pages on `origin` to embed the chat; false when it already could.
/// `server`: the server making the change (`Chat::instance`), `None` from
/// the command line; every other server reads the list again.
pub fn add_origin(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    origin: &Origin,
    server: Option<u64>,
) -> Result<bool> {
    conn.write_transaction(|conn| {
        let added = site.add_origin(conn, origin)?;
        if added {
            let changed = Control::OriginsChanged { site: site.id };
            crate::moderation::events::record(conn, server, &changed)?;
            let details = origin.to_string();
            audit(
                conn,
                actor,
                AuditAction::SiteOriginAdd,
                Target::Site(site),
                details,
            )?;
        }
        Ok(added)
    })
}

/// Stops allowing `origin`; false when it was not allowed. `server` as for
/// [`add_origin`].
pub fn remove_origin(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    origin: &Origin,
    server: Option<u64>,
) -> Result<bool> {
    conn.write_transaction(|conn| {
        let removed = site.remove_origin(conn, origin)?;
        if removed {
            let changed = Control::OriginsChanged { site: site.id };
            crate::moderation::events::record(conn, server, &changed)?;
            let details = origin.to_string();
            audit(
                conn,
                actor,
                AuditAction::SiteOriginRemove,
                Target::Site(site),
                details,
            )?;
        }
        Ok(removed)
    })
}

/// A settings change as typed, before [`update`] checks it; `None` leaves a
/// setting as it is.
pub type SettingsChange = SiteSettings;

/// The change with its limits checked and its name normalized.
fn checked(change: SettingsChange) -> Result<SiteSettings> {
    if change
        .max_rooms
        .is_some_and(|n| !(1..=MAX_ROOMS).contains(&n))
    {
        return Err(invalid(format!("The room limit is 1 to {MAX_ROOMS}.")));
    }
    if change
        .max_message_chars
        .is_some_and(|n| !(1..=MAX_MESSAGE_CHARS).contains(&n))
    {
        return Err(invalid(format!(
            "The message length limit is 1 to {MAX_MESSAGE_CHARS} characters."
        )));
    }
    Ok(SiteSettings {
        name: change.name.as_deref().map(site_name).transpose()?,
        ..change
    })
}

/// What `new` changes on `site`, one `setting: old → new` per changed setting.
fn changes(site: &Site, new: &SiteSettings) -> Vec<String> {
    fn line<T: PartialEq + std::fmt::Display>(
        label: &str,
        old: &T,
        new: Option<&T>,
    ) -> Option<String> {
        new.filter(|n| *n != old)
            .map(|n| format!("{label}: {old} → {n}"))
    }
    [
        line("name", &site.name, new.name.as_ref()),
        line(
            "guests allowed",
            &site.guests_allowed,
            new.guests_allowed.as_ref(),
        ),
        line(
            "registration allowed",
            &site.registration_allowed,
            new.registration_allowed.as_ref(),
        ),
        line(
            "verified identity required",
            &site.verified_required,
            new.verified_required.as_ref(),
        ),
        line("room policy", &site.room_policy, new.room_policy.as_ref()),
        line("room scope", &site.room_scope, new.room_scope.as_ref()),
        line("most rooms", &site.max_rooms, new.max_rooms.as_ref()),
        line(
            "longest message",
            &site.max_message_chars,
            new.max_message_chars.as_ref(),
        ),
        line(
            "join and leave lines",
            &site.presence_lines,
            new.presence_lines.as_ref(),
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Applies a settings change; returns what changed (nothing is recorded when
/// nothing did). A change records a cluster event, so that every running
/// server's live connections follow it within a second; `origin` is the
/// server making it (`Chat::instance`), `None` from the command line.
pub fn update(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    change: SettingsChange,
    origin: Option<u64>,
) -> Result<Vec<String>> {
    let settings = checked(change)?;
    conn.write_transaction(|conn| {
        // Read again inside the transaction: the audit line says what really changed.
        let current = Site::find(conn, site.id)?;
        if let Some(name) = &settings.name {
            name_is_free(conn, name, Some(site.id))?;
        }
        let changed = changes(&current, &settings);
        if !changed.is_empty() {
            settings.apply(conn, site.id)?;
            let changed_site = Control::SiteChanged { site: site.id };
            crate::moderation::events::record(conn, origin, &changed_site)?;
            let details = changed.join("; ");
            audit(
                conn,
                actor,
                AuditAction::SiteUpdate,
                Target::Site(site),
                details,
            )?;
        }
        Ok(changed)
    })
}

/// Issues a new secret and returns it (to be shown once); tokens signed with
/// the old one stop working, on every server. `origin` as for [`update`].
pub fn rotate_secret(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    origin: Option<u64>,
) -> Result<String> {
    conn.write_transaction(|conn| {
        let secret = site.rotate_secret(conn)?;
        let rotated = Control::SecretRotated { site: site.id };
        crate::moderation::events::record(conn, origin, &rotated)?;
        let details = "new secret issued".to_owned();
        audit(
            conn,
            actor,
            AuditAction::SiteRotateSecret,
            Target::Site(site),
            details,
        )?;
        Ok(secret)
    })
}

/// Enables or disables a site. Either records a cluster event, so every
/// running server admits the site's visitors again or closes the site's
/// connections within a second; `origin` is
/// the server making the change (`Chat::instance`), `None` from the command
/// line. [`set_enabled`] also closes this server's connections at once.
pub fn set_enabled_in(
    conn: &mut DbConn,
    actor: Actor,
    site: &Site,
    enabled: bool,
    origin: Option<u64>,
) -> Result<()> {
    let action = if enabled {
        AuditAction::SiteEnable
    } else {
        AuditAction::SiteDisable
    };
    conn.write_transaction(|conn| {
        site.set_enabled(conn, enabled)?;
        let change = if enabled {
            Control::SiteEnabled { site: site.id }
        } else {
            Control::SiteDisabled { site: site.id }
        };
        crate::moderation::events::record(conn, origin, &change)?;
        audit(conn, actor, action, Target::Site(site), String::new())?;
        Ok(())
    })
}

/// What deleting a site removed.
#[derive(Debug)]
pub struct DeletedSite {
    pub messages: i64,
    pub participants: i64,
}

/// Deletes a site for good, with its rooms, messages and participants; the
/// audit log keeps the line saying so. Only a disabled site (its chats are
/// closed, and disabling is the way to keep everything), and only when
/// `confirm` is its name as typed by the operator.
pub fn delete(conn: &mut DbConn, actor: Actor, site: &Site, confirm: &str) -> Result<DeletedSite> {
    if site.enabled {
        return Err(invalid(
            "Disable the site first: its open chats close, and a disabled site keeps everything \
             if you change your mind.",
        ));
    }
    if confirm.trim() != site.name {
        return Err(invalid(format!(
            "Type the site's name, {:?}, to confirm the deletion.",
            site.name
        )));
    }
    conn.write_transaction(|conn| {
        let deleted = DeletedSite {
            messages: Message::count_since(conn, site.id, 0)?,
            participants: Participant::count_for_site(conn, site.id)?,
        };
        let details = format!(
            "{}; {} messages and {} participants deleted",
            site.name, deleted.messages, deleted.participants
        );
        audit(
            conn,
            actor,
            AuditAction::SiteDelete,
            Target::Site(site),
            details,
        )?;
        site.delete(conn)?;
        Ok(deleted)
    })
}

/// Enables or disables a site; disabling closes its live connections here
/// at once, and on the other instances.
pub async fn set_enabled(chat: &Chat, actor: Actor, site: SiteId, enabled: bool) -> Result<()> {
    let origin = Some(chat.instance);
    chat.db
        .run(move |conn| -> Result<_> {
            let found = Site::find(conn, site)?;
            set_enabled_in(conn, actor, &found, enabled, origin)
        })
        .await?;
    chat.rules.invalidate_site(site);
    chat.tell_others();
    if !enabled {
        chat.hub.close_where(
            |c| c.site == site,
            CloseReason::SiteDisabled,
            "This chat has been turned off by its owner.",
            None,
        );
    }
    Ok(())
}
