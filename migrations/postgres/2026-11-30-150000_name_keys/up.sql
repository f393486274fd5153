-- Names are compared by their UTS #39 skeletons, case-folded and exact (see
-- src/input/names.rs). Only the server can compute them: it fills every NULL
-- key of members, verified users and accounts when it starts.
DROP INDEX participants_site_nick_folded;
ALTER TABLE participants RENAME COLUMN nick_folded TO name_key;
UPDATE participants SET name_key = NULL;
ALTER TABLE participants ADD COLUMN name_key_exact TEXT;
CREATE INDEX participants_site_name_key ON participants (site_id, name_key);
CREATE INDEX participants_site_name_key_exact ON participants (site_id, name_key_exact);
ALTER TABLE accounts ADD COLUMN name_key TEXT;
ALTER TABLE accounts ADD COLUMN name_key_exact TEXT;
CREATE INDEX accounts_site_name_key ON accounts (site_id, name_key);
CREATE INDEX accounts_site_name_key_exact ON accounts (site_id, name_key_exact);
