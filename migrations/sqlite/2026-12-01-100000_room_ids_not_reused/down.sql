-- Back to ids SQLite may reuse.
-- Foreign keys off for the rebuild: dropping the old table must not cascade
-- to the messages, holds and reports that reference rooms by id (SQLite's
-- procedure for changing a table, https://www.sqlite.org/lang_altertable.html).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE rooms_rebuilt (
    id INTEGER PRIMARY KEY NOT NULL,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    slow_mode_secs INTEGER NOT NULL DEFAULT 0,
    locked BOOLEAN NOT NULL DEFAULT 0,
    approve_first BOOLEAN NOT NULL DEFAULT 0,
    max_message_chars INTEGER,
    created_at BIGINT NOT NULL,
    visitor_created BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (site_id, name)
);
INSERT INTO rooms_rebuilt (id, site_id, name, last_seq, slow_mode_secs, locked,
    approve_first, max_message_chars, created_at, visitor_created)
SELECT id, site_id, name, last_seq, slow_mode_secs, locked,
    approve_first, max_message_chars, created_at, visitor_created FROM rooms;
DROP TABLE rooms;
ALTER TABLE rooms_rebuilt RENAME TO rooms;
COMMIT;
PRAGMA foreign_keys = ON;
