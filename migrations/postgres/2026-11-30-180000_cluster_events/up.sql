-- Changes every running instance must apply (bans, deletions, rule changes,
-- site disable), written in the transaction that made them, read in id
-- order by every server (see src/moderation/remote.rs). Writers serialize on
-- an advisory lock, so ids become visible in order.
CREATE TABLE cluster_events (
    id BIGSERIAL PRIMARY KEY,
    origin BIGINT,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX cluster_events_created_at ON cluster_events (created_at);
