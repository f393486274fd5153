DROP INDEX accounts_site_name_key_upper;
ALTER TABLE accounts DROP COLUMN name_key_upper;
DROP INDEX participants_site_name_key_upper;
ALTER TABLE participants DROP COLUMN name_key_upper;
