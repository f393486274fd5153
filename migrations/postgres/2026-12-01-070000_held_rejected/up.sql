-- A rejected held message is kept (without being shown) so that its cid
-- stays its author's: a retry is refused instead of queued again (fault 6).
ALTER TABLE held_messages ADD COLUMN rejected_at BIGINT;
