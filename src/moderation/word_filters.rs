//! A site's word filter. Entries are validated (compiled) when added and apply
//! to the next message.

use super::{audit, events, Actor, ModerationError, Result};
use crate::chat::cluster::Control;
use crate::chat::word_filter::{compile, FilterAction, FilterKind};
use crate::chat::Chat;
use crate::db::models::audit::AuditAction;
use crate::db::models::{SiteId, WordFilter, WordFilterId};
use crate::db::DbError;

pub async fn add(
    chat: &Chat,
    actor: Actor,
    site: SiteId,
    kind: &str,
    pattern: &str,
    action: &str,
) -> Result<WordFilter> {
    let kind: FilterKind = kind
        .parse()
        .map_err(|_| ModerationError::Invalid("Choose a word or a pattern.".into()))?;
    let action: FilterAction = action
        .parse()
        .map_err(|_| ModerationError::Invalid("Choose block or mask.".into()))?;
    let pattern = pattern.trim().to_owned();
    if pattern.is_empty() || pattern.chars().count() > 200 {
        return Err(ModerationError::Invalid(
            "Entries are 1 to 200 characters.".into(),
        ));
    }
    compile(kind, &pattern).map_err(ModerationError::Invalid)?;
    let origin = Some(chat.instance);
    let entry = chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let entry = WordFilter::create(conn, site, kind, &pattern, action, actor.admin())
                    .map_err(|e| match e {
                    DbError::Conflict(_) => {
                        ModerationError::Invalid("This entry is already in the filter.".into())
                    }
                    other => other.into(),
                })?;
                audit(
                    conn,
                    actor,
                    Some(site),
                    AuditAction::FilterAdd,
                    ("word_filter", entry.id.to_string()),
                    format!("{kind} {pattern:?} → {action}"),
                )?;
                events::record(conn, origin, &Control::FiltersChanged { site })?;
                Ok(entry)
            })
        })
        .await?;
    chat.rules.invalidate_filters(site);
    chat.tell_others();
    Ok(entry)
}

pub async fn remove(chat: &Chat, actor: Actor, id: WordFilterId) -> Result<SiteId> {
    let origin = Some(chat.instance);
    let site = chat
        .db
        .run(move |conn| {
            conn.write_transaction(|conn| -> Result<_> {
                let entry = WordFilter::find(conn, id)?.ok_or(ModerationError::NotFound)?;
                WordFilter::delete(conn, id)?;
                audit(
                    conn,
                    actor,
                    Some(entry.site_id),
                    AuditAction::FilterRemove,
                    ("word_filter", id.to_string()),
                    format!("{} {:?}", entry.kind, entry.pattern),
                )?;
                let site = entry.site_id;
                events::record(conn, origin, &Control::FiltersChanged { site })?;
                Ok(site)
            })
        })
        .await?;
    chat.rules.invalidate_filters(site);
    chat.tell_others();
    Ok(site)
}
