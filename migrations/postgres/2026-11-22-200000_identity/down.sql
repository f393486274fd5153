DROP TABLE account_tokens;
DROP TABLE accounts;
DROP INDEX participants_site_nick_folded;
ALTER TABLE participants DROP COLUMN nick_folded;
ALTER TABLE participants DROP COLUMN avatar_url;
