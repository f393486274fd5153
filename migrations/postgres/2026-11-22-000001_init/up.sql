-- Timestamps are Unix milliseconds (BIGINT) on every backend.
CREATE TABLE server_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE sites (
    id BIGSERIAL PRIMARY KEY,
    public_key TEXT NOT NULL UNIQUE,
    secret TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    is_demo BOOLEAN NOT NULL DEFAULT FALSE,
    guests_allowed BOOLEAN NOT NULL DEFAULT TRUE,
    registration_allowed BOOLEAN NOT NULL DEFAULT FALSE,
    verified_required BOOLEAN NOT NULL DEFAULT FALSE,
    room_policy TEXT NOT NULL DEFAULT 'open',
    max_rooms INTEGER NOT NULL DEFAULT 1000,
    max_message_chars INTEGER NOT NULL DEFAULT 2000,
    created_at BIGINT NOT NULL
);

CREATE TABLE site_origins (
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    origin TEXT NOT NULL,
    PRIMARY KEY (site_id, origin)
);

CREATE TABLE rooms (
    id BIGSERIAL PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    last_seq BIGINT NOT NULL DEFAULT 0,
    slow_mode_secs INTEGER NOT NULL DEFAULT 0,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    approve_first BOOLEAN NOT NULL DEFAULT FALSE,
    max_message_chars INTEGER,
    created_at BIGINT NOT NULL,
    UNIQUE (site_id, name)
);

CREATE TABLE participants (
    id BIGSERIAL PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    external_id TEXT,
    nick TEXT NOT NULL,
    last_ip TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX participants_site_nick ON participants (site_id, nick);
CREATE UNIQUE INDEX participants_site_external ON participants (site_id, kind, external_id);

CREATE TABLE messages (
    id BIGSERIAL PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    participant_id BIGINT NOT NULL REFERENCES participants(id) ON DELETE CASCADE,
    cid TEXT,
    body TEXT NOT NULL,
    ip TEXT,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT,
    UNIQUE (room_id, seq)
);
CREATE UNIQUE INDEX messages_participant_cid ON messages (participant_id, cid);
CREATE INDEX messages_site_created ON messages (site_id, created_at);
CREATE INDEX messages_participant_created ON messages (participant_id, created_at);

CREATE TABLE admin_users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT
);

CREATE TABLE admin_user_sites (
    admin_user_id BIGINT NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    PRIMARY KEY (admin_user_id, site_id)
);

CREATE TABLE bans (
    id BIGSERIAL PRIMARY KEY,
    site_id BIGINT REFERENCES sites(id) ON DELETE CASCADE,
    participant_id BIGINT REFERENCES participants(id) ON DELETE CASCADE,
    cidr TEXT,
    reason TEXT NOT NULL,
    created_by BIGINT REFERENCES admin_users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX bans_participant ON bans (participant_id);
CREATE INDEX bans_active ON bans (revoked_at, expires_at);

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    admin_user_id BIGINT REFERENCES admin_users(id) ON DELETE SET NULL,
    site_id BIGINT REFERENCES sites(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_log_created ON audit_log (created_at);
CREATE INDEX audit_log_site_created ON audit_log (site_id, created_at);
