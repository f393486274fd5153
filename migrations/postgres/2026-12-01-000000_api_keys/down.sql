ALTER TABLE audit_log DROP COLUMN actor_label;
DROP TABLE api_keys;
