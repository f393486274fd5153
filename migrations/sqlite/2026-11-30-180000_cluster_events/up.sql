-- Changes every running instance must apply (bans, deletions, rule changes,
-- site disable), written in the transaction that made them, read in id
-- order by every server (see src/moderation/remote.rs). AUTOINCREMENT: ids
-- are never reused after pruning.
CREATE TABLE cluster_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    origin BIGINT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX cluster_events_created_at ON cluster_events (created_at);
