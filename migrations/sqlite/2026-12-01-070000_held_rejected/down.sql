ALTER TABLE held_messages DROP COLUMN rejected_at;
