-- A site's keys to the server API (/api/v1). Only the key's SHA-256 is kept,
-- with its first characters (prefix) to recognise it in lists. A revoked key
-- keeps its row, so the audit log and the panel can still name it.
CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    site_id BIGINT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    key_hash TEXT NOT NULL UNIQUE,
    scope_read BOOLEAN NOT NULL,
    scope_publish BOOLEAN NOT NULL,
    scope_moderate BOOLEAN NOT NULL,
    created_by BIGINT REFERENCES admin_users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_site ON api_keys (site_id);

-- Who acted, when it was neither an admin account nor the command line: an
-- API key, named as it was then ("backend (ck_7Hq2xR9a)").
ALTER TABLE audit_log ADD COLUMN actor_label TEXT;
