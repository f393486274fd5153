-- Host-verified users may carry an avatar URL.
ALTER TABLE participants ADD COLUMN avatar_url TEXT;
-- Unicode-lowercased nick of verified users and members, so guests cannot take their names.
ALTER TABLE participants ADD COLUMN nick_folded TEXT;
CREATE INDEX participants_site_nick_folded ON participants (site_id, nick_folded);

-- Registered accounts (per site). Each account chats as one participant of kind 'member'.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY NOT NULL,
    site_id BIGINT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    participant_id BIGINT REFERENCES participants(id) ON DELETE SET NULL,
    verified_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (site_id, email)
);

-- One-time links (verify, reset) and login sessions; only a SHA-256 of each token is stored.
CREATE TABLE account_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX account_tokens_account ON account_tokens (account_id, purpose);
