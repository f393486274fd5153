//! Recent messages of a room kept in memory, so that the joins and resumes
//! of a busy room are answered without reading the database (issue 14: ten
//! thousand resumes after a restart were ten thousand database reads).
//!
//! A [`Window`] holds a room's last rows (visible messages, each shared by
//! every `welcome` that lists it, and tombstones of deleted ones) and knows
//! exactly what it covers: every row with a seq in (`from`, `upto`], what
//! lies below (when the last row there was written, whether a visible
//! message is there) and every deletion in the room after `deletions_floor`.
//! It answers a join only when the whole answer lies in what it knows, by
//! the rules of the database path (`rooms::load_welcome`); otherwise the
//! caller reads the database. Keeping it in step with the room (appends in
//! seq order, deletions, dropped on any doubt) is the hub's part (`hub::recent`).

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use super::protocol::{MessageView, WelcomeMode};

/// Most deletions a resumed `welcome` lists (the most recent ones).
pub const DELETED_MAX: usize = 1000;
/// Clocks of the instances that wrote and deleted may differ: deletions
/// this much older than the client's last message are listed too (a
/// repeated deletion is harmless, a missed one is not).
pub const CLOCK_MARGIN_MS: i64 = 5 * 60 * 1000;
/// Deletions a window remembers; forgetting older ones raises its floor.
pub const DELETIONS_KEPT: usize = 2 * DELETED_MAX;

/// The history a joining client gets: latest page, exact resume, or a reset.
#[derive(Debug, Clone, PartialEq)]
pub struct WelcomePage {
    /// The room's last committed seq when the page was read.
    pub seq: i64,
    pub mode: WelcomeMode,
    pub messages: Vec<Arc<MessageView>>,
    pub more: bool,
    /// Resumed only: messages at or below `since` deleted while the client
    /// may have been away.
    pub deleted: Vec<i64>,
}

/// One stored row, as a window keeps it.
#[derive(Debug, Clone)]
pub struct Row {
    pub seq: i64,
    pub created_at: i64,
    /// `None` once deleted.
    pub message: Option<Arc<MessageView>>,
}

/// What a database read gives to start a window (`rooms::load_recent`).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The room's last seq when read.
    pub upto: i64,
    /// The room's last rows at or below `upto`, deleted ones included, in
    /// seq order.
    pub rows: Vec<Row>,
    /// `rows` are all the room's rows.
    pub whole: bool,
    /// Unless `whole`: when the last row below `rows` was written...
    pub floor_at: Option<i64>,
    /// ...and whether a visible message is below `rows`.
    pub older_visible: bool,
    /// `(seq, deleted_at)` of every deletion in the room after `deletions_floor`.
    pub deletions: Vec<(i64, i64)>,
    pub deletions_floor: i64,
}

#[derive(Debug)]
pub struct Window {
    /// Every row with a seq in (`from`, `upto`] is in `rows` (but `holes`).
    from: i64,
    upto: i64,
    rows: VecDeque<Row>,
    /// Seqs in (`from`, `upto`] without a row here: left out of a batch
    /// (deleted before a catch-up read them, or never stored). Never
    /// visible messages (a batch lists all of those), but when they were
    /// written is unknown.
    holes: BTreeSet<i64>,
    /// When the last row at or below `from` was written (`None`: no row).
    floor_at: Option<i64>,
    /// A visible message is at or below `from`.
    older_visible: bool,
    deletions: Vec<(i64, i64)>,
    /// `deletions` holds every deletion made after this time (Unix ms).
    deletions_floor: i64,
    max_rows: usize,
    bytes: usize,
    /// The room has had a batch it could not queue yet (a gap before it):
    /// the window answers again once it reaches this seq.
    behind: i64,
}

/// About what a message costs in memory (the view, its text, its author's
/// strings and its slot, and the same again as the JSON it keeps once a
/// welcome sent it), for the cache's overall bound.
fn cost(message: &MessageView) -> usize {
    let author = &message.author;
    let strings = message.text.len()
        + author.nick.len()
        + author.kind.len()
        + author.avatar.as_ref().map_or(0, |a| a.len())
        + author.look.as_ref().map_or(0, |l| l.len());
    // The JSON: the strings, the field names and numbers (about 100 bytes).
    let json = strings + 100;
    std::mem::size_of::<MessageView>() + std::mem::size_of::<Row>() + 32 + strings + json
}

fn row_cost(row: &Row) -> usize {
    row.message
        .as_deref()
        .map_or(std::mem::size_of::<Row>(), cost)
}

impl Window {
    /// A window over what was read, at most `max_rows` rows long.
    pub fn new(loaded: Loaded, max_rows: usize) -> Window {
        let from = match loaded.rows.first() {
            Some(first) if !loaded.whole => first.seq - 1,
            _ => 0,
        };
        let mut window = Window {
            from,
            upto: loaded.upto.max(from),
            rows: VecDeque::with_capacity(loaded.rows.len().min(max_rows)),
            holes: BTreeSet::new(),
            floor_at: if loaded.whole { None } else { loaded.floor_at },
            older_visible: !loaded.whole && loaded.older_visible,
            deletions: loaded.deletions,
            deletions_floor: loaded.deletions_floor,
            max_rows: max_rows.max(1),
            bytes: 0,
            behind: 0,
        };
        for mut row in loaded.rows {
            // Deleted after the rows were read, before the deletions were.
            if window.deletions.iter().any(|(seq, _)| *seq == row.seq) {
                row.message = None;
            }
            window.bytes += row_cost(&row);
            window.rows.push_back(row);
        }
        window.trim();
        window
    }

    /// The highest seq the window covers.
    pub fn upto(&self) -> i64 {
        self.upto
    }

    /// Whether a message of participant `id` is in the window.
    pub fn shows(&self, id: i64) -> bool {
        self.visible().any(|m| m.author.id == id)
    }

    /// Bytes the window holds, about (see [`cost`]).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The room's members are missing messages up to `upto`, which a
    /// catch-up will append: until then the window does not answer.
    pub fn behind(&mut self, upto: i64) {
        self.behind = self.behind.max(upto);
    }

    /// Adds a batch covering (`after`, `upto`] (see `hub::SeqRange`), its
    /// messages in seq order; rows the window has are skipped. `false` when
    /// the window cannot follow (a gap before the batch, a message without
    /// its view): the caller drops it.
    pub fn append(
        &mut self,
        after: i64,
        upto: i64,
        messages: impl IntoIterator<Item = (i64, Option<Arc<MessageView>>)>,
    ) -> bool {
        if after > self.upto {
            return false;
        }
        for (seq, message) in messages {
            if seq <= self.upto || seq > upto {
                continue;
            }
            let Some(message) = message else {
                return false;
            };
            self.holes.extend(self.upto + 1..seq);
            let deleted = self.deletions.iter().any(|(s, _)| *s == seq);
            let row = Row {
                seq,
                created_at: message.ts,
                message: (!deleted).then_some(message),
            };
            self.bytes += row_cost(&row);
            self.rows.push_back(row);
            self.upto = seq;
        }
        if upto > self.upto {
            self.holes.extend(self.upto + 1..=upto);
            self.upto = upto;
        }
        self.trim();
        true
    }

    /// Messages `seqs` were deleted at `at` (the `deleted_at` stored).
    /// `false` when the window cannot tell what that changed (a message
    /// below it, while visible ones are there): the caller drops it.
    pub fn delete(&mut self, seqs: &[i64], at: i64) -> bool {
        for &seq in seqs {
            if self.deletions.iter().any(|(s, _)| *s == seq) {
                continue; // told twice (here and by the event log)
            }
            if seq <= self.from && self.older_visible {
                return false;
            }
            if let Some(row) = self.rows.iter_mut().find(|r| r.seq == seq) {
                if row.message.is_some() {
                    let before = row_cost(row);
                    row.message = None;
                    self.bytes = self.bytes - before + row_cost(row);
                }
            }
            self.deletions.push((seq, at));
        }
        if self.deletions.len() > DELETIONS_KEPT {
            self.deletions
                .sort_unstable_by_key(|d| std::cmp::Reverse(d.1));
            let floor = self.deletions[DELETIONS_KEPT].1;
            self.deletions.retain(|(_, t)| *t > floor);
            self.deletions_floor = self.deletions_floor.max(floor);
        }
        true
    }

    /// Keeps the window at `max_rows` rows: the oldest go, and what lies
    /// below the window is updated from them.
    fn trim(&mut self) {
        while self.rows.len() > self.max_rows {
            let Some(row) = self.rows.pop_front() else {
                break;
            };
            self.from = row.seq;
            self.floor_at = Some(row.created_at);
            self.older_visible |= row.message.is_some();
            self.bytes -= row_cost(&row);
        }
        let above = self.holes.split_off(&(self.from + 1));
        self.holes = above;
    }

    /// The `welcome` history for `since`, as `rooms::load_welcome` would
    /// read it, or `None` when part of it lies outside the window.
    pub fn answer(&self, since: Option<i64>, page: usize, cap: usize) -> Option<WelcomePage> {
        if self.upto < self.behind {
            return None;
        }
        let seq = self.upto;
        if let Some(since) = since.filter(|s| *s >= 0 && *s <= seq && seq - s <= cap as i64) {
            return self.resume(since, cap);
        }
        let (messages, more) = self.latest(page)?;
        Some(WelcomePage {
            seq,
            mode: if since.is_some() {
                WelcomeMode::Reset
            } else {
                WelcomeMode::Latest
            },
            messages,
            more,
            deleted: Vec::new(),
        })
    }

    fn visible(&self) -> impl DoubleEndedIterator<Item = &Arc<MessageView>> {
        self.rows.iter().filter_map(|r| r.message.as_ref())
    }

    /// The newest `page` visible messages, oldest first, and whether older
    /// ones exist.
    fn latest(&self, page: usize) -> Option<(Vec<Arc<MessageView>>, bool)> {
        let mut newest: Vec<Arc<MessageView>> =
            self.visible().rev().take(page + 1).cloned().collect();
        let more = if newest.len() > page {
            newest.truncate(page);
            true
        } else if newest.len() == page {
            self.older_visible
        } else if self.older_visible {
            return None; // the page goes on below the window
        } else {
            false
        };
        newest.reverse();
        Some((newest, more))
    }

    fn resume(&self, since: i64, cap: usize) -> Option<WelcomePage> {
        if since < self.from {
            return None;
        }
        let messages: Vec<Arc<MessageView>> = (self.rows.iter())
            .filter(|r| r.seq > since)
            .filter_map(|r| r.message.clone())
            .take(cap)
            .collect();
        // Older than the page's first message; for an empty page, older than
        // the page's range (`since` included): what `history` would find.
        let first = messages.first().map_or(since + 1, |m| m.seq);
        let more = self.older_visible
            || (self.rows.iter())
                .take_while(|r| r.seq < first)
                .any(|r| r.message.is_some());
        Some(WelcomePage {
            seq: self.upto,
            mode: WelcomeMode::Resumed,
            messages,
            more,
            deleted: self.deleted_while_away(since)?,
        })
    }

    /// `rooms::deleted_while_away` from memory: messages at or below `since`
    /// deleted after the client's last message was written (less the clock
    /// margin), the [`DELETED_MAX`] most recent.
    fn deleted_while_away(&self, since: i64) -> Option<Vec<i64>> {
        let last = self.rows.iter().rev().find(|r| r.seq <= since);
        let below = last.map_or(self.from, |r| r.seq);
        if below < since && self.holes.range(below + 1..=since).next().is_some() {
            return None; // when the last row at or below `since` was written is unknown
        }
        let Some(at) = last.map(|r| r.created_at).or(self.floor_at) else {
            return Some(Vec::new());
        };
        let after = at - CLOCK_MARGIN_MS;
        if after < self.deletions_floor {
            return None;
        }
        let mut found: Vec<(i64, i64)> = (self.deletions.iter())
            .filter(|(seq, t)| *seq <= since && *t > after)
            .copied()
            .collect();
        found.sort_unstable_by_key(|d| std::cmp::Reverse(d.1));
        found.truncate(DELETED_MAX);
        let mut seqs: Vec<i64> = found.into_iter().map(|(seq, _)| seq).collect();
        seqs.sort_unstable();
        Some(seqs)
    }
}

#[cfg(test)]
mod tests;
