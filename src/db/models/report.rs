//! Visitors' reports of messages, open until a moderator resolves them.

use diesel::prelude::*;
use serde::Serialize;

use super::{AdminUserId, Message, MessageId, ParticipantId, ReportId, SiteId};
use crate::db::schema::{messages, reports, rooms};
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

crate::text_enum! {
    /// How a moderator closed a report.
    pub enum Resolution as "report resolution" {
        /// The message was deleted (alone or with all of its author's).
        Deleted = "deleted",
        /// Closed without action.
        Dismissed = "dismissed",
    }
}

/// A visitor's report of a message.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = reports)]
pub struct Report {
    pub id: ReportId,
    pub site_id: SiteId,
    pub message_id: MessageId,
    pub reporter_id: ParticipantId,
    pub reason: String,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<AdminUserId>,
    pub resolution: Option<Resolution>,
}

/// What closing a report sets (`by`: `None` when no admin account did it).
#[derive(AsChangeset)]
#[diesel(table_name = reports, treat_none_as_null = true)]
struct Closing {
    resolved_at: Option<i64>,
    resolved_by: Option<AdminUserId>,
    resolution: Option<Resolution>,
}

impl Closing {
    fn now(by: Option<AdminUserId>, resolution: Resolution) -> Self {
        Closing {
            resolved_at: Some(now_ms()),
            resolved_by: by,
            resolution: Some(resolution),
        }
    }
}

/// A report with the reported message and its room name.
pub type ReportWithMessage = (Report, Message, String);

impl Report {
    /// Files a report; reporting the same message twice is a no-op that
    /// succeeds (`None`). Returns the new report, and whether it is the only
    /// open one on the message: the moment moderators are worth telling.
    pub fn file(
        conn: &mut DbConn,
        site: SiteId,
        message: MessageId,
        reporter: ParticipantId,
        reason: &str,
    ) -> Result<Option<(ReportId, bool)>, DbError> {
        let inserted = with_backend!(conn, c => diesel::insert_into(reports::table)
            .values((
                reports::site_id.eq(site),
                reports::message_id.eq(message),
                reports::reporter_id.eq(reporter),
                reports::reason.eq(reason),
                reports::created_at.eq(now_ms()),
            ))
            // DO NOTHING rather than a caught unique violation, which on
            // PostgreSQL aborts the caller's transaction.
            .on_conflict_do_nothing()
            .returning(reports::id)
            .get_result::<ReportId>(c)
            .optional())?;
        let Some(id) = inserted else {
            return Ok(None);
        };
        let open: i64 = with_backend!(conn, c => reports::table
            .filter(reports::message_id.eq(message))
            .filter(reports::resolved_at.is_null())
            .count()
            .get_result(c))?;
        Ok(Some((id, open == 1)))
    }

    pub fn find(conn: &mut DbConn, id: ReportId) -> Result<Option<ReportWithMessage>, DbError> {
        with_backend!(conn, c => reports::table
            .inner_join(messages::table.inner_join(rooms::table))
            .filter(reports::id.eq(id))
            .select((Report::as_select(), Message::as_select(), rooms::name))
            .first(c)
            .optional())
    }

    /// Reports on these sites (`None`: all), open or resolved, newest first.
    pub fn list(
        conn: &mut DbConn,
        sites: Option<&[SiteId]>,
        open: bool,
        limit: i64,
    ) -> Result<Vec<ReportWithMessage>, DbError> {
        with_backend!(conn, c => {
            let mut q = reports::table
                .inner_join(messages::table.inner_join(rooms::table))
                .select((Report::as_select(), Message::as_select(), rooms::name))
                .into_boxed();
            if let Some(sites) = sites {
                q = q.filter(reports::site_id.eq_any(sites.to_vec()));
            }
            q = if open {
                q.filter(reports::resolved_at.is_null())
            } else {
                q.filter(reports::resolved_at.is_not_null())
            };
            q.order(reports::id.desc()).limit(limit).load(c)
        })
    }

    /// Closes every open report on a message; returns how many.
    pub fn resolve_for_message(
        conn: &mut DbConn,
        message: MessageId,
        by: Option<AdminUserId>,
        resolution: Resolution,
    ) -> Result<usize, DbError> {
        with_backend!(conn, c => diesel::update(
            reports::table
                .filter(reports::message_id.eq(message))
                .filter(reports::resolved_at.is_null()),
        )
        .set(Closing::now(by, resolution))
        .execute(c))
    }

    /// Closes every open report on the participant's messages; returns how many.
    pub fn resolve_for_author(
        conn: &mut DbConn,
        author: ParticipantId,
        by: Option<AdminUserId>,
        resolution: Resolution,
    ) -> Result<usize, DbError> {
        let theirs = messages::table
            .filter(messages::participant_id.eq(author))
            .select(messages::id);
        with_backend!(conn, c => diesel::update(
            reports::table
                .filter(reports::message_id.eq_any(theirs))
                .filter(reports::resolved_at.is_null()),
        )
        .set(Closing::now(by, resolution))
        .execute(c))
    }

    pub fn open_count(conn: &mut DbConn, site: SiteId) -> Result<i64, DbError> {
        with_backend!(conn, c => reports::table
            .filter(reports::site_id.eq(site))
            .filter(reports::resolved_at.is_null())
            .count()
            .get_result(c))
    }
}
