-- Admin panel: sessions, moderation state, reports, word filters.
-- Timestamps are Unix milliseconds (BIGINT) on every backend.

-- Server-side admin sessions. Only a SHA-256 of the cookie token is stored, so
-- a leaked database does not hand out live sessions.
CREATE TABLE admin_sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    admin_user_id BIGINT NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    ip TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_user ON admin_sessions (admin_user_id);

-- Every address a participant connected from, for search and the participant page.
CREATE TABLE participant_ips (
    participant_id BIGINT NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    PRIMARY KEY (participant_id, ip)
);
CREATE INDEX participant_ips_ip ON participant_ips (ip);

CREATE TABLE mutes (
    id INTEGER PRIMARY KEY NOT NULL,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    participant_id BIGINT NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    reason TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES admin_users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX mutes_participant ON mutes (participant_id, expires_at);

CREATE TABLE reports (
    id INTEGER PRIMARY KEY NOT NULL,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    reporter_id BIGINT NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    reason TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    resolved_by BIGINT REFERENCES admin_users(id) ON DELETE SET NULL,
    resolution TEXT,
    UNIQUE (message_id, reporter_id)
);
CREATE INDEX reports_open ON reports (site_id, resolved_at, created_at);

CREATE TABLE word_filters (
    id INTEGER PRIMARY KEY NOT NULL,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    pattern TEXT NOT NULL,
    action TEXT NOT NULL,
    created_by BIGINT REFERENCES admin_users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (site_id, kind, pattern)
);

-- Messages waiting for a moderator in approve-first rooms. They get a seq (and
-- become visible) only when approved, through the writer like any message.
CREATE TABLE held_messages (
    id INTEGER PRIMARY KEY NOT NULL,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    participant_id BIGINT NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    cid TEXT NOT NULL,
    body TEXT NOT NULL,
    ip TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (participant_id, cid)
);
CREATE INDEX held_messages_site ON held_messages (site_id, created_at);

-- Keyset pagination of the message log, newest first, with and without filters.
CREATE INDEX messages_created_id ON messages (created_at, id);
CREATE INDEX messages_room_created ON messages (room_id, created_at);
CREATE INDEX audit_log_admin_created ON audit_log (admin_user_id, created_at);
