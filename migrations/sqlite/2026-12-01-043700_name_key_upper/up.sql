-- A third comparison key of names: the skeleton of the uppercased name, where
-- capitals' look-alikes are (`ADM1N` is `ADMIN`, as `Admin` is; see
-- src/input/names.rs). The server computes every key it finds NULL when it
-- starts, so the others are cleared too. The indexes are not unique: names
-- that collide under the new key are all kept.
ALTER TABLE participants ADD COLUMN name_key_upper TEXT;
CREATE INDEX participants_site_name_key_upper ON participants (site_id, name_key_upper);
ALTER TABLE accounts ADD COLUMN name_key_upper TEXT;
CREATE INDEX accounts_site_name_key_upper ON accounts (site_id, name_key_upper);
UPDATE participants SET name_key = NULL, name_key_exact = NULL WHERE kind <> 'guest';
UPDATE accounts SET name_key = NULL, name_key_exact = NULL;
