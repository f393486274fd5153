//! A site's word filter entries: whole words or regular expressions that
//! block or mask (compiled by `chat::word_filter`).

use diesel::prelude::*;
use serde::Serialize;

use super::{AdminUserId, SiteId, WordFilterId};
use crate::db::schema::word_filters;
use crate::db::{now_ms, DbConn, DbError};
use crate::with_backend;

crate::text_enum! {
    /// What a word filter entry matches.
    pub enum FilterKind as "word filter kind" {
        /// A whole word, in any case and any look-alike spelling.
        Word = "word",
        /// A regular expression.
        Pattern = "pattern",
    }
}

crate::text_enum! {
    /// What a word filter entry does to a message that matches.
    pub enum FilterAction as "word filter action" {
        /// The message is refused.
        Block = "block",
        /// The match is replaced by asterisks.
        Mask = "mask",
    }
}

/// One entry of a site's word filter.
#[derive(Debug, Clone, Queryable, Selectable, Serialize)]
#[diesel(table_name = word_filters)]
pub struct WordFilter {
    pub id: WordFilterId,
    pub site_id: SiteId,
    pub kind: FilterKind,
    pub pattern: String,
    pub action: FilterAction,
    pub created_by: Option<AdminUserId>,
    pub created_at: i64,
}

impl WordFilter {
    pub fn create(
        conn: &mut DbConn,
        site: SiteId,
        kind: FilterKind,
        pattern: &str,
        action: FilterAction,
        by: Option<AdminUserId>,
    ) -> Result<WordFilter, DbError> {
        with_backend!(conn, c => diesel::insert_into(word_filters::table)
            .values((
                word_filters::site_id.eq(site),
                word_filters::kind.eq(kind),
                word_filters::pattern.eq(pattern),
                word_filters::action.eq(action),
                word_filters::created_by.eq(by),
                word_filters::created_at.eq(now_ms()),
            ))
            .returning(WordFilter::as_returning())
            .get_result(c))
    }

    pub fn for_site(conn: &mut DbConn, site: SiteId) -> Result<Vec<WordFilter>, DbError> {
        with_backend!(conn, c => word_filters::table
            .filter(word_filters::site_id.eq(site))
            .select(WordFilter::as_select())
            .order(word_filters::id)
            .load(c))
    }

    pub fn find(conn: &mut DbConn, id: WordFilterId) -> Result<Option<WordFilter>, DbError> {
        with_backend!(conn, c => word_filters::table.find(id).select(WordFilter::as_select()).first(c).optional())
    }

    pub fn delete(conn: &mut DbConn, id: WordFilterId) -> Result<(), DbError> {
        with_backend!(conn, c => diesel::delete(word_filters::table.find(id)).execute(c))?;
        Ok(())
    }
}
