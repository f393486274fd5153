-- Admin mail: password reset links from the login page, and report notifications.

-- Moderators choose whether a reported message on their sites mails them.
ALTER TABLE admin_users ADD COLUMN notify_reports BOOLEAN NOT NULL DEFAULT TRUE;

-- One-time links of "forgot password". Only a SHA-256 of the token is stored.
CREATE TABLE admin_password_resets (
    id INTEGER PRIMARY KEY NOT NULL,
    admin_user_id BIGINT NOT NULL REFERENCES admin_users(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX admin_password_resets_user ON admin_password_resets (admin_user_id, created_at);
